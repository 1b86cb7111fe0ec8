/**
 * How an unpack reads what GNU tar and umoci say: the -vvv listing's ACL forms (records, or xattr records
 * only, which --acls would replace with the mode's), and the warnings after which they exit 0 having not
 * kept an xattr or an ACL. The lines are as tar 1.34 and umoci 0.4.7 print them.
 */
import { aclFormsOfListing, TAR_NOT_KEPT } from "../../provider/src/host/archive";
import { notKeptWatcher } from "../../provider/src/executor/kept-xattrs";

function formsOf(lines: string[]) {
  const listing = aclFormsOfListing();
  lines.forEach(listing.onLine);
  return listing.forms();
}

describe("the ACL forms of a -vvv listing", () => {
  it("counts members with ACL records (+), and those whose ACL is only an xattr record, naming the first of each", () => {
    expect(
      formsOf([
        "drwxr-xr-x  0/0               0 2026-12-07 21:08 ./",
        "-rw-rw-r--+ 0/0               1 2026-12-07 21:08 ./srv/acl/file",
        "  a: user::rw-,user:1234:rw-,group::r--,mask::rw-,other::r--",
        "  x: 44 system.posix_acl_access",
        "-rw-rw-r--* 0/0               2 2026-12-07 21:54 ./a name with spaces",
        "  x: 44 system.posix_acl_access",
        "  x: 7 user.origin",
        "drwxr-xr-x* 0/0               0 2026-12-07 21:54 ./d/",
        "  x: 44 system.posix_acl_default",
        "  x: 44 system.posix_acl_access",
        "-rwxr-xr-x* 0/0               9 2026-12-07 21:54 ./bin/ping",
        "  x: 20 security.capability",
      ]),
    ).toEqual({ records: 1, firstRecord: "./srv/acl/file", xattrOnly: 2, firstXattrOnly: "./a name with spaces" });
  });

  it("counts a member whose date tar could not format (a raw number), naming it by the rest of its line", () => {
    expect(formsOf(["-rw-r--r--+ root/root 1 4611686018427387904 ./a"])).toMatchObject({
      records: 1,
      firstRecord: "root/root 1 4611686018427387904 ./a",
    });
  });

  it("counts nothing in a listing without ACLs", () => {
    expect(formsOf(["drwxr-xr-x  0/0 0 2026-12-07 21:08 ./", "-rwsr-xr-x  0/0 9 2026-12-07 21:08 ./bin/su"])).toEqual({
      records: 0,
      firstRecord: null,
      xattrOnly: 0,
      firstXattrOnly: null,
    });
  });
});

describe("what says an xattr or ACL was not kept", () => {
  it.each([
    "tar: setxattrat: Cannot set 'system.posix_acl_access' extended attribute for file './d/f': Operation not supported",
    "tar: setxattrat: Cannot set 'user.it's' extended attribute for file './f': Operation not supported",
    "tar: acl_set_file_at: Cannot set POSIX ACLs for file './d': Operation not supported",
    "tar: acl_delete_def_file_at: Cannot drop default POSIX ACLs for file './d': Operation not supported",
    "tar: ./a: Warning: Cannot acl_from_text: Invalid argument",
  ])("tar: %s", (line) => expect(TAR_NOT_KEPT.test(line)).toBe(true));

  it("tar: not its other warnings", () => {
    expect(TAR_NOT_KEPT.test("tar: Ignoring unknown extended header keyword 'LIBARCHIVE.xattr.user.x'")).toBe(false);
  });

  it.each([
    '   • xattr{d/f} ignoring ENOTSUP on setxattr "system.posix_acl_access"',
    '   • xattr{./a}b} ignoring ENOTSUP on clearxattrs "user.x"',
    "   • xattr{mnt/oc/d/f} destination filesystem does not support xattrs, further warnings will be suppressed",
  ])("umoci: %s, seen as it comes, chunk by chunk", (line) => {
    const watch = notKeptWatcher("umoci");
    const bytes = Buffer.from(`   • unpacking rootfs ...\n${line}\n   • ... done\n`);
    for (let i = 0; i < bytes.length; i += 7) watch.onStderr(bytes.subarray(i, i + 7));
    expect(watch.failure()?.message).toContain(line.trim());
  });

  it("tar: the first such line, however much else it said before and after", () => {
    const watch = notKeptWatcher("tar");
    const noise = "tar: Ignoring unknown extended header keyword 'LIBARCHIVE.xattr.user.x'\n".repeat(2000);
    watch.onStderr(Buffer.from(noise));
    watch.onStderr(Buffer.from("tar: acl_set_file_at: Cannot set POSIX ACLs for file './d': Operation not supported\n"));
    watch.onStderr(Buffer.from(noise));
    expect(watch.failure()?.message).toMatch(/did not keep an xattr or ACL of the image, .*Cannot set POSIX ACLs for file '\.\/d'/);
  });
});
