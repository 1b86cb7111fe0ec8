/**
 * An image's ACLs and xattrs are kept or the unpack is refused: never lost unsaid. On a filesystem that
 * keeps no POSIX ACLs (btrfs mounted noacl here; ZFS's default acltype=off behaves alike), GNU tar and
 * umoci drop them with a warning and exit 0. What is asserted: the refusal's message, that nothing is
 * left, and that an image without ACLs is unpacked there with its xattrs.
 */
import { promises as fs } from "fs";
import path from "path";
import { createRootfs as create, destroyRootfs as destroy } from "../../provider/src/api";
import { expectNoLeaks } from "../helpers/leaks";
import { EXACT_TAR, imageFixtures } from "../helpers/images";
import { mountScratchBtrfs, must, setEnv, tempDir } from "../helpers/env";

const f = imageFixtures();
let lxcPath: string;
let work: string;
let noacl: { dir: string; release(): Promise<void> };
let restoreEnv: () => void;

beforeAll(async () => {
  work = await tempDir("acls-work");
  // The core runs in this process: its OCI image cache comes from this environment.
  restoreEnv = setEnv({ LXC_ROOTFS_IMAGE_CACHE: path.join(work, "cache") });
  noacl = await mountScratchBtrfs("acls-noacl", "256M", "loop,noacl");
  lxcPath = path.join(noacl.dir, "lxc");
  await fs.mkdir(lxcPath);
});

afterEach(() => expectNoLeaks(lxcPath));

afterAll(async () => {
  restoreEnv?.();
  await noacl?.release();
  await fs.rm(work, { recursive: true, force: true });
});

/** A tree of one file with an ACL (when `acl`) and a user xattr, as a tarball made with `tarFlags`. */
async function tarballOf(name: string, acl: boolean, tarFlags: string[]): Promise<string> {
  const tree = path.join(work, `${name}-tree`);
  await fs.mkdir(path.join(tree, "etc"), { recursive: true });
  await fs.writeFile(path.join(tree, "etc", "marker"), "unpacked\n");
  await must(["setfattr", "-n", "user.origin", "-v", "image", path.join(tree, "etc", "marker")]);
  if (acl) await must(["setfacl", "-m", "u:1234:rw", path.join(tree, "etc", "marker")]);
  const tarball = path.join(work, `${name}.tar`);
  await must(["tar", "--create", "--file", tarball, ...tarFlags, "-C", tree, "."]);
  return tarball;
}

/** The create's error, after which the container directory must be absent. */
async function refused(name: string, url: string): Promise<string> {
  const message = await create({ container: name, lxcPath, backingStore: "dir", source: { url } }, {}).then(
    () => "",
    (e: Error) => e.message,
  );
  await expect(fs.lstat(path.join(lxcPath, name))).rejects.toMatchObject({ code: "ENOENT" });
  return message;
}

describe("on a filesystem that keeps no POSIX ACLs", () => {
  it("a tarball with ACLs is refused, naming how many files and the first, and nothing is left", async () => {
    expect(await refused("busybox", f.busybox.tarball)).toMatch(
      /^the image gives 2 files POSIX ACLs \(the first: \.\/srv\/acl\/(dir\/|file)\), and the filesystem of the new rootfs keeps none, so they would be lost\. Nothing was changed\.$/,
    );
  });

  it("a tarball whose ACL is only an xattr record (no --acls at its making) is refused too", async () => {
    const tarball = await tarballOf("xattr-acl", true, ["--xattrs", "--xattrs-include=*"]);
    expect(await refused("xattr-acl", tarball)).toMatch(/^the image gives 1 files POSIX ACLs \(the first: \.\/etc\/marker\)/);
  });

  it("an OCI image with ACLs is refused, naming the xattr umoci could not set", async () => {
    expect(await refused("oci", `oci:${f.oci.image}`)).toMatch(
      /^the new rootfs did not keep an xattr or ACL of the image, so it would be lost \(.*xattr\{.*srv\/acl.*\} ignoring ENOTSUP on setxattr "system\.posix_acl_(access|default)"\)\. Nothing was changed\.$/,
    );
  });

  it("a tarball without ACLs is unpacked, its xattrs kept", async () => {
    const tarball = await tarballOf("plain", false, EXACT_TAR.filter((x) => x !== "--acls").concat("--xattrs-exclude=system.posix_acl_*"));
    await create({ container: "plain", lxcPath, backingStore: "dir", source: { url: tarball } }, {});
    const marker = path.join(lxcPath, "plain", "rootfs", "etc", "marker");
    expect(await fs.readFile(marker, "utf8")).toBe("unpacked\n");
    expect(await must(["getfattr", "-n", "user.origin", "--only-values", marker])).toBe("image");
    await destroy({ container: "plain", lxcPath }, {});
  });
});

describe("on a filesystem that keeps POSIX ACLs", () => {
  let keeps: string;
  beforeAll(async () => {
    keeps = path.join(work, "lxc");
    await fs.mkdir(keeps);
  });
  afterEach(() => expectNoLeaks(keeps));

  // GNU tar's --acls gives a member without ACL records an ACL made from its mode, over the one its xattr
  // record set just before: such an archive (Go's archive/tar and umoci write ACLs so) is unpacked without it.
  it("a tarball whose ACLs are only xattr records keeps them", async () => {
    const tarball = await tarballOf("xattr-only", true, ["--xattrs", "--xattrs-include=*"]);
    await create({ container: "xattr-only", lxcPath: keeps, backingStore: "dir", source: { url: tarball } }, {});
    const marker = path.join(keeps, "xattr-only", "rootfs", "etc", "marker");
    expect(await must(["getfacl", "-n", "-c", marker])).toMatch(/^user:1234:rw-$/m);
    expect(await must(["getfattr", "-n", "user.origin", "--only-values", marker])).toBe("image");
    await destroy({ container: "xattr-only", lxcPath: keeps }, {});
  });

  it("a tarball with both forms, on different members, is refused: tar cannot keep both", async () => {
    const records = path.join(work, "both-records.tar");
    await must(["tar", "--create", "--file", records, "--acls", "-C", path.join(work, "xattr-only-tree"), "."]);
    const both = await tarballOf("both", true, ["--xattrs", "--xattrs-include=*"]);
    await must(["tar", "--concatenate", "--file", both, records]);
    const message = await create({ container: "both", lxcPath: keeps, backingStore: "dir", source: { url: both } }, {}).then(
      () => "",
      (e: Error) => e.message,
    );
    expect(message).toMatch(
      /keeps the POSIX ACLs of \d+ files as ACL records .* and of \d+ as xattr records only .*GNU tar cannot keep both\. Nothing was changed\./,
    );
    await expect(fs.lstat(path.join(keeps, "both"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});
