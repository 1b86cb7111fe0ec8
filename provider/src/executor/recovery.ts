/** What every changing operation does first: finish or undo what a killed one left (a swap, a snapshot). */
import { OpContext } from "../drivers";
import { recoverSnapshot } from "./snapshot-store";
import { recover } from "./swap";

export async function recoverInterrupted(ctx: OpContext): Promise<void> {
  await recover(ctx);
  await recoverSnapshot(ctx);
}
