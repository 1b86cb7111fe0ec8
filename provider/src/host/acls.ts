/**
 * Whether a filesystem keeps POSIX ACLs. Most do; ZFS with its default acltype=off and btrfs mounted
 * noacl do not, and there GNU tar's --acls and umoci drop an image's ACLs with a warning and exit 0: a
 * loss nobody sees. The unpack asks first, and refuses an image whose ACLs would be lost.
 */
import { promises as fs } from "fs";
import path from "path";
import { SyscallError } from "../model/errors";
import { setXattr } from "../native/at";
import { viaFd } from "./held";
import { ACL_OTHER, ACL_GROUP_OBJ, ACL_USER_OBJ, ACL_UNDEFINED_ID, ACL_XATTRS } from "../model/xattr-ids";

/** The probe's file in the new tree's root: a name no image holds, gone before the answer is returned. */
const PROBE = ".lxc-rootfs-acl-probe";

/** posix_acl_xattr.h: version 2, then (tag, perm, id) entries. The minimal ACL rw-r--r--. */
function minimalAcl(): Buffer {
  const entries: [number, number][] = [
    [ACL_USER_OBJ, 6],
    [ACL_GROUP_OBJ, 4],
    [ACL_OTHER, 4],
  ];
  const b = Buffer.alloc(4 + 8 * entries.length);
  b.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm], i) => {
    b.writeUInt16LE(tag, 4 + 8 * i);
    b.writeUInt16LE(perm, 6 + 8 * i);
    b.writeUInt32LE(ACL_UNDEFINED_ID, 8 + 8 * i);
  });
  return b;
}

/** Whether the filesystem of `root` (a new, empty tree) keeps POSIX ACLs: it refuses one with EOPNOTSUPP where not. */
export async function holdsPosixAcls(root: string): Promise<boolean> {
  const probe = path.join(root, PROBE);
  const handle = await fs.open(probe, "wx", 0o644);
  try {
    // Through the descriptor: the file made, whatever its name leads to now.
    setXattr(viaFd(handle.fd), ACL_XATTRS[0], minimalAcl());
    return true;
  } catch (e) {
    if (e instanceof SyscallError && (e.code === "EOPNOTSUPP" || e.code === "ENOTSUP")) return false;
    throw e;
  } finally {
    await handle.close();
    await fs.unlink(probe);
  }
}
