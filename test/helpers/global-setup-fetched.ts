import globalSetup from "./global-setup";
import { setupTestProblem } from "./prerequisites";

/**
 * The `fetched` project's global setup: the system tests' own (root, commands, kernel filesystems, loop
 * devices), then scripts/setup-test.sh's success. A failure fails the run, in CI or out: nothing is skipped.
 */
export default async function fetchedGlobalSetup(): Promise<void> {
  await globalSetup();
  const problem = setupTestProblem();
  if (problem) throw new Error(`test prerequisites missing (nothing is skipped):\n- ${problem}`);
}
