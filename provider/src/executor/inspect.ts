/** Inspect: what is on the host now, without mounting. */
import { ContainerRef } from "../model/requests";
import { Observed } from "../model/results";
import { OpContext } from "../drivers";
import { OperationOptions, withOperation } from "./context";
import { hasJournal } from "./journal";
import { assertOwned } from "./guards";
import { Current, locateCurrent, observeAt, observeCurrent } from "./observe";
import { recoverInterrupted } from "./recovery";

/**
 * Null when there is no rootfs. It writes only to finish or roll back an operation that was killed
 * half-way (see swap.ts): until then the rootfs may sit under a temporary name, and reporting it gone
 * would make `pulumi refresh` drop a rootfs that exists.
 */
export async function inspect(ref: ContainerRef, opts: OperationOptions): Promise<Observed | null> {
  if (await hasJournal(ref)) {
    return withOperation(ref, opts, async (ctx) => {
      await recoverInterrupted(ctx);
      return (await observeCurrent(ctx, ref))?.observed ?? null;
    });
  }
  return withOperation(ref, opts, async (ctx) => (await observeCurrent(ctx, ref))?.observed ?? null, { readOnly: true });
}

/** The current rootfs, refused before it is even read when it is not this container's own to change. */
export async function observeOwned(ctx: OpContext, ref: ContainerRef): Promise<Current | null> {
  const found = await locateCurrent(ctx, ref);
  if (!found) return null;
  await assertOwned(ctx, found.loc);
  return { driver: found.driver, loc: found.loc, observed: await observeAt(ctx, ref, found.driver, found.loc, found.managed) };
}
