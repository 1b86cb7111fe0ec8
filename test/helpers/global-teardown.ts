import { TEST_PREFIX } from "./env";
import { attachedUnder } from "./leaks";

/** The global leak check: no test, passing or failing, may leave a loop device or a mount behind. */
export default async function globalTeardown(): Promise<void> {
  const leaks = await attachedUnder(TEST_PREFIX);
  if (leaks.length) throw new Error(`tests leaked host state:\n${leaks.join("\n")}`);
}
