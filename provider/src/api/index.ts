/**
 * The lifecycle of one container's rootfs: create, inspect, update, destroy. Adapters (CLI, Pulumi
 * providers) call only these.
 */
import { promises as fs } from "fs";
import { AlreadyExists, NotFound } from "../model/errors";
import { Observed, RootfsSpec } from "../model/requests";
import { OpContext } from "../drivers/types";
import { DRIVERS } from "../drivers";
import { clearRootfsPath } from "../host/lxc-config";
import { removeEmptyDir } from "../host/paths";
import { containerDirOf, hasJournal, OperationOptions, readOnlyContext, withOperation } from "../executor/context";
import { Current, locateCurrent, observeAt, observeCurrent, observeSource } from "../executor/observe";
import { planFill, planUpdate, resolveTarget, UpdateStrategy } from "../planner/plan";
import { assertHostSpace, assertNotInUse, assertOwned, buildStore, CopyMethod, growBlockStore, shrinkBlockStore, Source } from "../executor/storage";
import { buildAndSwap, recover } from "../executor/swap";
import { validateSpec } from "./validate";

export interface CreateResult extends Observed {
  /** How the content of `from` got in: block copy by reflink or sparse copy, a file copy (cp, or reflinks), snapshot, or none. */
  method: CopyMethod;
}

export interface UpdateResult extends Observed {
  strategy: UpdateStrategy;
  method: CopyMethod;
  summary: string;
}

export interface DestroyResult {
  destroyed: boolean;
  /** Why nothing was deleted (nothing there, or adopted storage). */
  reason?: string;
}

export type RawInputs = Record<string, unknown>;

function toSpec(input: RawInputs | RootfsSpec): RootfsSpec {
  return validateSpec(input as RawInputs);
}

/**
 * Host checks that touch nothing: the store can live here, and `from` exists. Returns the source to copy
 * from (none for overlay, whose `from` is its lower layer).
 */
async function precheck(spec: RootfsSpec, opts: OperationOptions): Promise<Source | undefined> {
  const ctx = readOnlyContext(spec, opts);
  const driver = DRIVERS[spec.backingStore];
  await driver.precheck?.(ctx, spec, spec.lxcPath);
  const source = spec.from !== undefined ? await observeSource(ctx, spec.from) : undefined;
  return driver.caps.needsLower ? undefined : source;
}

/** The current rootfs, refused before it is even read when it is not this container's own to change. */
async function observeOwned(ctx: OpContext, spec: RootfsSpec): Promise<Current | null> {
  const found = await locateCurrent(ctx, spec);
  if (!found) return null;
  await assertOwned(ctx, found.loc);
  return { driver: found.driver, loc: found.loc, observed: await observeAt(ctx, spec, found.driver, found.loc, found.managed) };
}

export async function createRootfs(input: RawInputs | RootfsSpec, opts: OperationOptions = {}): Promise<CreateResult> {
  const spec = toSpec(input);
  const containerDir = containerDirOf(spec);
  const source = await precheck(spec, opts);
  const dirExisted = await fs.lstat(containerDir).then(() => true, () => false);
  try {
    return await withOperation(
      spec,
      opts,
      async (ctx) => {
        await recover(ctx);
        const existing = await locateCurrent(ctx, spec);
        if (existing) throw new AlreadyExists(existing.loc.rootfsPath);
        const driver = DRIVERS[spec.backingStore];
        const target = resolveTarget(spec, source && { store: source.driver.store, ...source.usage });
        const fill = source ? planFill({ store: source.driver.store, ...source.usage }, target) : { strategy: "empty" as const, bytesToMove: 0 };
        const newFinal = driver.locate(spec, ctx.containerDir);
        await assertHostSpace(ctx, driver, newFinal, driver.caps.isBlock ? target.size! : (source?.usage.usedBytes ?? 0));
        let method: CopyMethod = "none";
        await buildAndSwap(ctx, {
          newDriver: driver,
          newFinal,
          build: async (built) => {
            method = await buildStore(ctx, driver, built, target, source, fill.strategy);
          },
        });
        return { ...(await observeAt(ctx, spec, driver, newFinal, true)), method };
      },
      { createDir: true },
    );
  } catch (e) {
    if (!dirExisted) await removeEmptyDir(containerDir);
    throw e;
  }
}

/**
 * What is on the host now; null when there is no rootfs. Never mounts. It writes only to finish or roll
 * back an operation that was killed half-way (see swap.ts): until then the rootfs may sit under a
 * temporary name, and reporting it gone would make `pulumi refresh` drop a rootfs that exists.
 */
export async function inspectRootfs(input: RawInputs | RootfsSpec, opts: OperationOptions = {}): Promise<Observed | null> {
  const spec = toSpec(input);
  if (await hasJournal(spec)) {
    return withOperation(spec, opts, async (ctx) => {
      await recover(ctx);
      return (await observeCurrent(ctx, spec))?.observed ?? null;
    });
  }
  return withOperation(spec, opts, async (ctx) => (await observeCurrent(ctx, spec))?.observed ?? null, { readOnly: true });
}

export async function updateRootfs(input: RawInputs | RootfsSpec, opts: OperationOptions = {}): Promise<UpdateResult> {
  const spec = toSpec(input);
  await DRIVERS[spec.backingStore].precheck?.(readOnlyContext(spec, opts), spec, spec.lxcPath);
  return withOperation(spec, opts, async (ctx) => {
    await recover(ctx);
    const current = await observeOwned(ctx, spec);
    if (!current) throw new NotFound(`a rootfs for container ${spec.container} in ${spec.lxcPath}`);
    const shape = { ...current.observed, store: current.driver.store, rootfsPath: current.loc.rootfsPath };
    const plan = planUpdate(shape, spec);
    const { driver, loc } = current;
    const { target } = plan;
    let method: CopyMethod = "none";
    ctx.log(plan.summary);
    switch (plan.strategy) {
      case "none":
        break;
      case "grow-in-place":
        await assertNotInUse(ctx, loc);
        await assertHostSpace(ctx, driver, loc, target.size! - shape.sizeBytes!);
        await growBlockStore(ctx, driver, loc, shape.fstype!, shape.sizeBytes!, target.size!);
        break;
      case "shrink-in-place":
        await assertNotInUse(ctx, loc);
        await shrinkBlockStore(ctx, driver, loc, shape.fstype!, target.size!);
        break;
      case "set-limit":
        await driver.setLimit!(ctx, loc, target.size!);
        break;
      case "block-copy":
      case "file-copy": {
        await assertNotInUse(ctx, loc);
        const newDriver = DRIVERS[target.store];
        const source = { driver, loc, usage: current.observed };
        const newLoc = newDriver.locate(spec, ctx.containerDir);
        await assertHostSpace(ctx, newDriver, newLoc, newDriver.caps.isBlock ? target.size! : current.observed.usedBytes);
        // Same store (an fstype change): the old store is parked before the new one takes its name.
        await buildAndSwap(ctx, {
          newDriver,
          newFinal: newLoc,
          old: { driver, loc },
          build: async (built) => {
            method = await buildStore(ctx, newDriver, built, target, source, plan.strategy === "block-copy" ? "block-copy" : "file-copy");
          },
        });
        break;
      }
    }
    const after = (await observeCurrent(ctx, spec))!;
    return { ...after.observed, strategy: plan.strategy, method, summary: plan.summary };
  });
}

export async function destroyRootfs(input: RawInputs | RootfsSpec, opts: OperationOptions = {}): Promise<DestroyResult> {
  const spec = toSpec(input);
  const containerDir = containerDirOf(spec);
  const result = await withOperation(spec, opts, async (ctx): Promise<DestroyResult> => {
    await recover(ctx);
    const current = await observeOwned(ctx, spec);
    if (!current) return { destroyed: false, reason: "no rootfs found" };
    if (!current.observed.managed) {
      return { destroyed: false, reason: `${containerDir}/config sets lxc.rootfs.managed = 0: the storage is not ours to delete; left in place` };
    }
    await assertNotInUse(ctx, current.loc);
    await current.driver.destroy(ctx, current.loc);
    await clearRootfsPath(containerDir);
    return { destroyed: true };
  });
  await removeEmptyDir(containerDir);
  return result;
}
