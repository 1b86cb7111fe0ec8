/**
 * scripts/setup-guest.sh's stdout is scripts/guest.sh's protocol: the kernel image and the initramfs, one a
 * line, and nothing else, whatever the tools it runs print. A first run on a fresh machine installs the
 * guest's packages, and the install's progress once went to that stdout, so qemu was asked to open a
 * "kernel" named by dpkg's "(Reading database ..." (issue 25). A second run never showed it.
 *
 * This machine has the packages, so the run here is made a first run as far as the script can tell, in a
 * mount namespace of its own, and nothing on the machine changes:
 * - dpkg's status file is a copy without some of the guest's packages, so dpkg-query (which decides what
 *   is missing) and apt-get both see them absent;
 * - the real apt-get runs, in simulate mode (APT_CONFIG sets APT::Get::Simulate): its `install` resolves
 *   the packages from the real package lists and prints an Inst and a Conf line for each on stdout, as a
 *   real install prints its own and dpkg's progress there. dpkg itself does not run, and nothing is
 *   installed;
 * - its `apt-get update` reaches no network (a proxy nobody listens on: it warns and exits 0, as it does
 *   offline) and writes to a copy of the package lists, with an empty apt cache directory over the real one.
 */
import { promises as fs } from "fs";
import path from "path";
import { REPO, sh, tempDir } from "../helpers/env";

const SETUP = path.join(REPO, "scripts", "setup-guest.sh");

// Those of the script's packages that nothing after the install reads: the kernel's version comes from
// linux-image-amd64, the ZFS module's from zfs-dkms, and the initramfs's cache key from the kernel image's
// package and busybox-static, so those stay in the status and the cached guest is found as it is.
const ABSENT = ["qemu-system-x86", "linux-headers-amd64", "zfsutils-linux", "lvm2", "thin-provisioning-tools", "udev"];

/** dpkg's status file (stanzas separated by blank lines) without the stanzas of `absent`. */
function withoutPackages(status: string, absent: string[]): string {
  return status
    .split(/\n\n+/)
    .filter((stanza) => !absent.includes(/^Package: (\S+)$/m.exec(stanza)?.[1] ?? ""))
    .join("\n\n");
}

let prepared: string;
beforeAll(async () => {
  // The guest prepared for real (packages, the ZFS module, the initramfs: at once when `npm test`'s setup
  // did it), so that the run below finds everything but the packages it is told are absent.
  const r = await sh(["bash", SETUP]);
  if (r.code !== 0) throw new Error(`setup-guest.sh exited ${r.code}: ${r.stderr}`);
  prepared = r.stdout;
}, 3600_000);

it("prints only the kernel image and the initramfs while it installs the guest's packages", async () => {
  const dir = await tempDir("setup-guest-output");
  try {
    await fs.writeFile(path.join(dir, "status"), withoutPackages(await fs.readFile("/var/lib/dpkg/status", "utf8"), ABSENT));
    await fs.cp("/var/lib/apt/lists", path.join(dir, "lists"), { recursive: true });
    await fs.mkdir(path.join(dir, "cache", "archives", "partial"), { recursive: true });
    await fs.writeFile(
      path.join(dir, "apt.conf"),
      ['APT::Get::Simulate "true";', 'Acquire::http::Proxy "http://127.0.0.1:9";', 'Acquire::Retries "0";', ""].join("\n"),
    );
    // The mounts say nothing on stdout, and the script's stdout is the namespace's.
    const inNamespace = [
      "set -e",
      'mount --bind "$1/status" /var/lib/dpkg/status',
      'mount --bind "$1/lists" /var/lib/apt/lists',
      'mount --bind "$1/cache" /var/cache/apt',
      'exec bash "$2"',
    ].join("\n");
    const r = await sh(["unshare", "--mount", "--propagation", "private", "bash", "-c", inNamespace, "bash", dir, SETUP], {
      env: { APT_CONFIG: path.join(dir, "apt.conf") },
    });

    expect(r.code).toBe(0);
    // It took the first run's path.
    expect(r.stderr).toContain(`setup-guest: installing ${ABSENT.join(" ")}`);
    // What guest.sh reads: two lines, each a file, the same as a run with everything in place prints.
    expect(r.stdout).toMatch(/^[^\n]+\n[^\n]+\n$/);
    for (const file of r.stdout.trimEnd().split("\n")) expect((await fs.stat(file)).isFile()).toBe(true);
    expect(r.stdout).toBe(prepared);
    // Not for want of output: apt-get did print on its stdout, which is the script's stderr.
    for (const p of ABSENT) expect(r.stderr).toMatch(new RegExp(`^Inst ${p} `, "m"));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}, 60_000);
