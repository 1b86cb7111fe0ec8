/**
 * The KVM guest harness itself (`npm run guest`), from the host: it boots Debian's kernel (in at most 10 s
 * with KVM), gives back the command's stdout, stderr and exit status, attaches blank disks, has the modules the
 * guest suites need, and a guest that hangs is killed at its timeout with the console log kept.
 */
import { promises as fs } from "fs";
import os from "os";
import path from "path";
import { REPO, sh } from "../helpers/env";

const GUEST = path.join(REPO, "scripts", "guest.sh");
const guest = (args: string[], env: NodeJS.ProcessEnv = {}) => sh(["bash", GUEST, ...args], { env: { ...process.env, ...env } });

beforeAll(async () => {
  // Prepared once (packages, the ZFS module, the initramfs), so that the boot below is timed alone.
  const r = await sh(["bash", path.join(REPO, "scripts", "setup-guest.sh")]);
  if (r.code !== 0) throw new Error(`setup-guest.sh exited ${r.code}: ${r.stderr}`);
}, 3600_000);

describe("the guest harness", () => {
  it("boots and runs `true` in at most 10 s with KVM, 40 s under TCG, and says which it used", async () => {
    const started = Date.now();
    const r = await guest(["true"]);
    const seconds = (Date.now() - started) / 1000;
    expect(r.code).toBe(0);
    // Under TCG the one line on stderr says why, unless GUEST_ACCEL chose it; with KVM there is none.
    const chosen = process.env.GUEST_ACCEL === "tcg";
    const tcg = chosen || /running the guest under TCG/.test(r.stderr);
    expect(r.stderr.split("\n").filter(Boolean).length).toBe(tcg && !chosen ? 1 : 0);
    expect(seconds).toBeLessThanOrEqual(tcg ? 40 : 10);
    console.log(`guest boot and \`true\`: ${seconds.toFixed(1)} s under ${tcg ? "TCG" : "KVM"}`);
  });

  it("gives back stdout, stderr and the exit status, in the caller's directory and environment", async () => {
    const r = await guest(["sh", "-c", 'echo "out $PWD $GUEST_PROBE"; echo err >&2; exit 7'], { GUEST_PROBE: "seen" });
    expect(r).toMatchObject({ code: 7, stdout: `out ${process.cwd()} seen\n` });
    expect(r.stderr.replace(/^guest: .*\n/gm, "")).toBe("err\n");
  });

  it("runs Debian's kernel with device-mapper, thin pools and ZFS, not this machine's", async () => {
    const r = await guest(["sh", "-c", "uname -r; dmsetup targets | cut -d' ' -f1 | sort | tr '\\n' ' '; echo; zfs version | head -n 2"]);
    expect(r.code).toBe(0);
    const [kernel, targets, ...zfs] = r.stdout.trim().split("\n");
    expect(kernel).toMatch(/-amd64$/);
    expect(kernel).not.toBe((await sh(["uname", "-r"])).stdout.trim());
    expect(targets.split(" ")).toEqual(expect.arrayContaining(["thin-pool", "thin", "snapshot", "linear"]));
    expect(zfs.join("\n")).toMatch(/zfs-kmod-\d/);
  });

  it("attaches each --disk as a blank disk, in order from /dev/vdb", async () => {
    const r = await guest([
      "--disk",
      "64M",
      "--disk",
      "1G",
      "--",
      "sh",
      "-c",
      "blockdev --getsize64 /dev/vdb /dev/vdc; cmp -n 1048576 /dev/vdb /dev/zero && echo blank",
    ]);
    expect(r).toMatchObject({ code: 0, stdout: `${64 * 2 ** 20}\n${2 ** 30}\nblank\n` });
  });

  it("runs from a checkout below /tmp, which the guest's own /tmp must not hide", async () => {
    // The harness alone is enough: guest.sh shares the checkout it lives in, and stage2.sh runs from it.
    const checkout = await fs.mkdtemp(path.join(os.tmpdir(), "guest-checkout-"));
    try {
      await fs.cp(path.join(REPO, "scripts"), path.join(checkout, "scripts"), { recursive: true });
      const r = await sh(["bash", path.join(checkout, "scripts", "guest.sh"), "sh", "-c", "pwd; ls scripts/guest.sh"], { cwd: checkout });
      expect(r).toMatchObject({ code: 0, stdout: `${checkout}\nscripts/guest.sh\n` });
    } finally {
      await fs.rm(checkout, { recursive: true, force: true });
    }
  });

  it("refuses bad usage with status 2", async () => {
    expect((await guest(["--disk", "lots", "--", "true"])).code).toBe(2);
    expect((await guest([])).code).toBe(2);
  });

  it("kills a guest that outlives GUEST_TIMEOUT, says where the console stopped, and keeps the log", async () => {
    // Long enough for a boot under TCG to reach the command, whose start the console log records.
    const r = await guest(["sleep", "600"], { GUEST_TIMEOUT: "60" });
    expect(r.code).toBe(124);
    expect(r.stderr).toMatch(/still running after GUEST_TIMEOUT=60s/);
    expect(r.stderr).toMatch(/guest: running sleep 600/);
    const log = /the console log \(kept\): (\S+);/.exec(r.stderr)![1];
    expect(await fs.readFile(log, "utf8")).toMatch(/Linux version/);
  });
});
