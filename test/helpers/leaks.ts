/**
 * The leak check: no test may leave a loop device or a mount under its directories. One listing serves a
 * check after a step, after each test, at a suite's end, and the global teardown's over TEST_PREFIX.
 */
import { promises as fs } from "fs";
import { must } from "./env";

/** Loop devices whose backing file lies under `prefix`, each as "<device> <file>". */
export async function loopsUnder(prefix: string): Promise<string[]> {
  const out = await must(["losetup", "-a", "--list", "--noheadings", "-O", "NAME,BACK-FILE"]);
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1]?.startsWith(prefix))
    .map((f) => `${f[0]} ${f[1]}`);
}

/** Mount points under `prefix`. */
export async function mountsUnder(prefix: string): Promise<string[]> {
  const text = await fs.readFile("/proc/self/mountinfo", "utf8");
  return text
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m) => m && m.startsWith(prefix));
}

/**
 * Every loop device and mount under `prefix`, one line each ("loop <device> <file>", "mount <point>"),
 * but those `except` matches: a fixture's own filesystem, mounted on purpose.
 */
export async function attachedUnder(prefix: string, except?: RegExp): Promise<string[]> {
  const loops = (await loopsUnder(prefix)).map((l) => `loop ${l}`);
  const mounts = (await mountsUnder(prefix)).map((m) => `mount ${m}`);
  return [...loops, ...mounts].filter((l) => !except?.test(l));
}

/**
 * The kernel detaches an autoclear loop device some time after its last close returns (after a close, a
 * kill, a helper's exit): waits up to 5 s for the loop devices under `prefix` (but `except`) to go.
 */
export async function loopsDetached(prefix: string, except?: RegExp): Promise<void> {
  const attached = async () => (await attachedUnder(prefix, except)).some((l) => l.startsWith("loop "));
  for (let i = 0; i < 100 && (await attached()); i++) await new Promise((r) => setTimeout(r, 50));
}

/**
 * Nothing is attached or mounted under `prefix` (but what `except` matches); a failure names every leak.
 * `settle`: first wait for autoclear loop devices to detach (see loopsDetached); a mount is never waited for.
 */
export async function expectNoLeaks(prefix: string, opts: { except?: RegExp; settle?: boolean } = {}): Promise<void> {
  if (opts.settle) await loopsDetached(prefix, opts.except);
  expect(await attachedUnder(prefix, opts.except)).toEqual([]);
}

/** A test directory's end: nothing is left attached or mounted under it, and then it is removed. */
export async function expectNoLeaksAndRemove(dir: string): Promise<void> {
  await expectNoLeaks(dir);
  await fs.rm(dir, { recursive: true, force: true });
}
