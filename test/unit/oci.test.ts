/**
 * OCI references and configs without a host: which forms `source.url` takes for an OCI image, how a plan
 * line and a message show them, and the config lines an image's config becomes, as LXC's oci template
 * writes them (its quoting, its user resolution).
 */
import { InvalidInput } from "../../provider/src/model/errors";
import { imageSourceOf } from "../../provider/src/model/images";
import { ociConfigLines, ociRefOf, ociUserIds, platformManifest, runConfigOf } from "../../provider/src/model/oci";
import { imageNameOf, shownUrl } from "../../provider/src/model/urls";
import { printable } from "../../provider/src/model/text";

describe("OCI references", () => {
  it.each([
    ["oci:/srv/images/debian:12", "oci", "oci:debian:12"],
    ["oci:/srv/images/debian", "oci", "oci:debian"],
    ["oci-archive:/srv/debian.tar:latest", "oci-archive", "oci-archive:debian.tar:latest"],
    ["docker://debian:12", "docker", "docker://debian:12"],
    ["docker://registry.example:5000/team/app:v1.2", "docker", "docker://registry.example:5000/team/app:v1.2"],
    [`docker://debian@sha256:${"a".repeat(64)}`, "docker", `docker://debian@sha256:${"a".repeat(64)}`],
  ])("%s is an %s reference, named %s", (url, transport, name) => {
    expect(ociRefOf(url)).toEqual({ transport, ref: url, name });
    expect(shownUrl(url)).toBe(url);
  });

  it.each([
    ["oci:images/debian:12", /absolute/],
    ["oci:/srv/../etc:12", /normalized/],
    ["oci:/srv/a:b:c", /no colon/],
    ["oci:/srv/a:-x", /a tag is/],
    ["oci:/srv/a:$(id)", /a tag is/],
    ["docker://Debian:12", /docker:\/\//],
    ["docker://user:pw@registry/app", /docker:\/\//],
    ["docker://debian:12 --src-creds=x", /docker:\/\//],
  ])("%s is refused at the API's edge", (url, why) => {
    expect(() => imageSourceOf({ url })).toThrow(InvalidInput);
    expect(() => imageSourceOf({ url })).toThrow(why);
  });

  it("a tarball url and an images: alias are no OCI reference", () => {
    expect(ociRefOf("/srv/rootfs.tar.xz")).toBeNull();
    expect(ociRefOf("https://example.org/oci:thing.tar")).toBeNull();
    expect(ociRefOf("images:debian/12")).toBeNull();
  });

  it.each(["docker://user:pw-SECRET@registry/app", "docker://registry/app?token=tok-SECRET", "oci-archive:https://u:pw-SECRET@host/x.tar"])(
    "%s, refused, is never shown with its credential",
    (url) => {
      expect(shownUrl(url)).not.toContain("SECRET");
      expect(() => imageSourceOf({ url })).toThrow(InvalidInput);
      expect(() => imageSourceOf({ url })).not.toThrow(/SECRET/);
    },
  );
});

describe("the config lines of an OCI image", () => {
  it("are the entrypoint and command, the environment and the directory, as LXC's oci template writes them", () => {
    expect(ociConfigLines({ Entrypoint: ["/bin/sh"], Cmd: ["-c", "id; pwd"], Env: ["A=1", "B=two words"], WorkingDir: "/srv" })).toEqual([
      `lxc.execute.cmd = '"/bin/sh" "-c" "id; pwd"'`,
      "lxc.environment = A=1",
      "lxc.environment = B=two words",
      "lxc.init.cwd = /srv",
    ]);
  });
  it("run /bin/sh in / when the image says nothing, and quote an argument holding a double quote with single quotes", () => {
    expect(ociConfigLines({})).toEqual([`lxc.execute.cmd = '"/bin/sh"'`, "lxc.init.cwd = /"]);
    expect(ociConfigLines({ Cmd: ["echo", 'say "hi"'] })[0]).toBe(`lxc.execute.cmd = '"echo" 'say "hi"''`);
  });
  it("refuse what no config line can carry, naming it", () => {
    expect(() => ociConfigLines({ Cmd: [`a"b'c`] })).toThrow(/both kinds of quote/);
    expect(() => ociConfigLines({ Env: ["A=1\nlxc.hook.pre-start = /bin/evil"] })).toThrow(/environment holds a line break/);
    expect(() => ociConfigLines({ WorkingDir: "/srv\r" })).toThrow(/working directory holds a line break/);
  });
});

describe("the ids of an OCI image's user", () => {
  const passwd = "root:x:0:0::/root:/bin/sh\nwww:x:33:34::/var/www:/bin/false\n";
  const group = "root:x:0:\nstaff:x:50:\n";
  it.each([
    [undefined, 0, 0],
    ["", 0, 0],
    ["1234", 1234, 0],
    ["1234:5678", 1234, 5678],
    ["www", 33, 34],
    ["www:staff", 33, 50],
    ["33:staff", 33, 50],
    ["4294967294", 4294967294, 0],
  ])("User %p is %i:%i", (user, uid, gid) => {
    expect(ociUserIds(user, passwd, group)).toEqual({ uid, gid });
  });
  it.each([
    ["nobody-here", passwd, /the user "nobody-here", which the image's \/etc\/passwd does not list/],
    ["www:no-group", passwd, /the group "no-group", which the image's \/etc\/group does not list/],
    ["www", null, /the user "www", which the image's \/etc\/passwd does not list/],
    ["4294967295", passwd, /the user "4294967295", which is no id from 0 to 4294967294/],
    ["bad\u001b[2J", passwd, /the user "bad\?\[2J"/],
  ])("User %p is refused, as Docker refuses it: LXC's template would run it as root", (user, pw, why) => {
    expect(() => ociUserIds(user, pw, group)).toThrow(why);
  });
});

describe("the manifest of a multi-platform image that a copy takes", () => {
  const m = (digest: string, os: string, architecture: string, variant?: string) => ({
    digest,
    platform: { os, architecture, ...(variant ? { variant } : {}) },
  });
  const index = [
    m("win", "windows", "amd64"),
    m("amd3", "linux", "amd64", "v3"),
    m("v7", "linux", "arm", "v7"),
    m("arm64", "linux", "arm64"),
    m("v8", "linux", "arm64", "v8"),
    m("amd", "linux", "amd64"),
  ];
  it.each([
    ["amd64", "amd"],
    ["arm64", "v8"],
    ["s390x", undefined],
  ])("on %s is %p: the variant wanted, exactly, before any listed first", (arch, digest) => {
    expect(platformManifest(index, arch)?.digest).toBe(digest);
  });
  it("on arm64 without a v8 entry, the first without a variant, then the first of any", () => {
    expect(platformManifest([m("v9", "linux", "arm64", "v9"), m("a", "linux", "arm64"), m("b", "linux", "arm64")], "arm64")?.digest).toBe(
      "a",
    );
    expect(platformManifest([m("v9", "linux", "arm64", "v9"), m("v7", "linux", "arm", "v7")], "arm64")?.digest).toBe("v9");
  });
});

describe("an OCI image's config, as input", () => {
  it("keeps the fields of the types the image-spec gives them", () => {
    expect(runConfigOf({ Entrypoint: ["/bin/sh"], Cmd: null, Env: ["A=1"], User: "1:2", WorkingDir: "/srv", Labels: { x: "y" } })).toEqual({
      Entrypoint: ["/bin/sh"],
      Env: ["A=1"],
      User: "1:2",
      WorkingDir: "/srv",
    });
    expect(runConfigOf(undefined)).toEqual({});
  });
  it.each([
    [{ Entrypoint: "/bin/sh" }, /Entrypoint that is not a list of strings/],
    [{ Env: [1] }, /Env that is not a list of strings/],
    [{ User: 0 }, /User that is not a string/],
    [[], /not an object/],
  ])("refuses %j, naming the field", (config, why) => {
    expect(() => runConfigOf(config)).toThrow(why);
  });
});

describe("text from an image, in a line", () => {
  it("shows control characters as ?, so no name starts a line of its own", () => {
    expect(printable("debian\nLXC_ROOTFS_ERROR {}\u001b[2J\u0085")).toBe("debian?LXC_ROOTFS_ERROR {}?[2J?");
    expect(imageNameOf("http://h/a%0ab.tar.xz")).toBe("a?b.tar.xz");
  });
});
