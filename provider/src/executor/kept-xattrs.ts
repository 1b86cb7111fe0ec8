/**
 * What an unpack checks so that none of an image's ACLs and xattrs is lost unsaid. GNU tar and umoci both
 * warn and exit 0 when the filesystem refuses one (ZFS's default acltype=off and btrfs mounted noacl keep
 * no POSIX ACLs); the unpack then fails, and its new store is removed: the host is as it was.
 */
import { RootfsError } from "../model/errors";
import { CompressionName, membersWithAcls, XATTR_NOT_SET } from "../host/archive";
import { OpContext } from "../drivers/types";

/** An xattr of the image the new tree's filesystem refused. */
export class XattrNotKept extends RootfsError {
  constructor(name: string, file: string) {
    super(
      `the filesystem of the new rootfs does not keep the xattr ${name} of ${file} in the image, so it would be lost. Nothing was changed.`,
    );
  }
}

/** Refuses a tarball with ACLs for a tree whose filesystem keeps none, naming how many and the first. */
export async function refuseLostAcls(ctx: OpContext, file: string, compression: CompressionName): Promise<void> {
  const { count, first } = await membersWithAcls(ctx.run, file, compression);
  if (count === 0) return;
  throw new RootfsError(
    `the image gives ${count} files POSIX ACLs (the first: ${first}), and the filesystem of the new rootfs keeps none ` +
      `(ZFS's acltype=off, btrfs mounted noacl), so they would be lost. Nothing was changed.`,
  );
}

/** The xattr GNU tar's stderr says it could not set, if any. */
export function tarDroppedXattr(stderr: string): XattrNotKept | null {
  const m = XATTR_NOT_SET.exec(stderr);
  return m ? new XattrNotKept(m[1], m[2]) : null;
}

/** umoci's warning (shown from --log=warn) for an xattr, an ACL among them, it could not set: `xattr{d/f} ignoring ENOTSUP on setxattr "system.posix_acl_access"`. */
const UMOCI_XATTR_NOT_SET = /xattr\{([^}]*)\} ignoring ENOTSUP on setxattr "([^"]+)"/;

/** The xattr umoci's stderr says it dropped, if any. */
export function umociDroppedXattr(stderr: string): XattrNotKept | null {
  const m = UMOCI_XATTR_NOT_SET.exec(stderr);
  return m ? new XattrNotKept(m[2], m[1]) : null;
}
