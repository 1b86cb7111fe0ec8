import { loopsUnder, mountsUnder, TEST_PREFIX } from "./env";

/** The global leak check: no test, passing or failing, may leave a loop device or a mount behind. */
export default async function globalTeardown(): Promise<void> {
  const loops = await loopsUnder(TEST_PREFIX);
  const mounts = await mountsUnder(TEST_PREFIX);
  if (loops.length || mounts.length) {
    throw new Error(`tests leaked host state:\n${[...loops.map((l) => `loop ${l}`), ...mounts.map((m) => `mount ${m}`)].join("\n")}`);
  }
}
