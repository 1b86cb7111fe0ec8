/**
 * Snapshots of a container's rootfs, under the container's lock (so never beside an update of the same
 * rootfs): planned from the host, taken, read and removed in LXC's own layout (see snapshot-store.ts).
 */
import { AlreadyExists, InUse, NotFound, RootfsError, Unsafe } from "../model/errors";
import { ContainerRef } from "../model/requests";
import { DestroyResult } from "../model/results";
import {
  SnapshotMethod,
  SnapshotObserved,
  SnapshotPlan,
  SnapshotRef,
  SnapshotResult,
  SnapshotSpec,
  snapshotDirOf,
} from "../model/snapshots";
import { Driver, isBlock, Location, OpContext, StoreUsage, storesWhere } from "../drivers";
import { configPath } from "../host/lxc-config";
import { mountsUnder } from "../host/mounts";
import { lstatOrNull, readSmallFile } from "../host/paths";
import { planSnapshot } from "../planner/snapshot";
import { OperationOptions, withOperation } from "./context";
import { locateCurrent } from "./observe";
import { recoverInterrupted } from "./recovery";
import { hostSharesExtents } from "../host/usage";
import {
  isHalfMade,
  makeSnapshot,
  parseLxcTimestamp,
  readComment,
  removeSnapshot,
  SnapshotSource,
  snapshotStorage,
} from "./snapshot-store";

interface Prepared {
  source: SnapshotSource;
  snapDir: string;
  dst: Location;
  plan: SnapshotPlan;
}

const containerOf = (ref: SnapshotRef): ContainerRef => ({ container: ref.container, lxcPath: ref.lxcPath });

/** Observes the rootfs and plans the snapshot; refuses, changing nothing, what cannot be taken. */
async function prepare(ctx: OpContext, spec: SnapshotSpec): Promise<Prepared> {
  const found = await locateCurrent(ctx, containerOf(spec));
  if (!found) throw new NotFound(`a rootfs for container ${spec.container} in ${spec.lxcPath}`);
  const { driver, loc } = found;
  if (!driver.snapshotAt) {
    const stores = storesWhere((d) => d.snapshotAt !== undefined).join(", ");
    throw new RootfsError(`cannot snapshot ${loc.rootfsPath}: this version snapshots ${stores} rootfs only`);
  }
  const snapDir = snapshotDirOf(spec);
  // One a killed run left half-made is no obstacle: the take removes it first (a plan only reads).
  if ((await lstatOrNull(snapDir)) && !(await isHalfMade(ctx, snapDir))) throw new AlreadyExists(snapDir);
  const dst = driver.snapshotAt(loc, snapDir);
  // A volume of that name (an LV, a dataset) that is there already is someone's: never made over, nor removed.
  if (dst.localRoot === undefined && (await driver.exists(ctx, dst)) && !(await isHalfMade(ctx, snapDir))) {
    throw new AlreadyExists(dst.rootfsPath);
  }
  const native = driver.snapshotFrom !== undefined && (await driver.sourceProblem?.(loc)) == null ? driver.snapshotKind : undefined;
  // Only a copy counts bytes: the store's own snapshot moves none, and reading them (du) is most of its cost.
  const usage = native ? undefined : await driver.inspect(ctx, loc);
  const plan = planSnapshot(spec.name, loc.rootfsPath, {
    native,
    block: isBlock(driver),
    hostSharesExtents: await hostSharesExtents(ctx.containerDir),
    usedBytes: usage?.usedBytes ?? 0,
    allocatedBytes: usage?.allocatedBytes ?? 0,
  });
  return { source: { driver, loc, usage }, snapDir, dst, plan };
}

/** What taking the snapshot would do, from the host as it is now; nothing is changed. */
export async function planSnapshotOf(spec: SnapshotSpec, opts: OperationOptions): Promise<SnapshotPlan> {
  return withOperation(spec, opts, async (ctx) => (await prepare(ctx, spec)).plan, { readOnly: true });
}

export async function takeSnapshot(spec: SnapshotSpec, opts: OperationOptions): Promise<SnapshotResult> {
  return withOperation(spec, opts, async (ctx) => {
    await recoverInterrupted(ctx);
    const { source, snapDir, dst, plan } = await prepare(ctx, spec);
    ctx.log(plan.summary);
    const made = await makeSnapshot(ctx, source, snapDir, dst, spec.comment, new Date(), () => source.driver.inspect(ctx, dst));
    // What was written, as observe() reads it back: no second read of what this call has just made.
    const files = { comment: spec.comment ?? null, ts: made.ts };
    return { ...outputsOf(spec, files, { driver: source.driver, loc: dst }, made.usage), method: made.method };
  });
}

/** A snapshot's outputs, from its `comment` and `ts`, its storage and that storage's usage. */
function outputsOf(
  ref: SnapshotRef,
  files: { comment: string | null; ts: string | null },
  storage: { driver: Driver; loc: Location },
  usage: StoreUsage,
  method: SnapshotMethod | null = null,
): SnapshotObserved {
  return {
    container: ref.container,
    lxcPath: ref.lxcPath,
    name: ref.name,
    comment: files.comment,
    createdAt: parseLxcTimestamp(files.ts),
    timestamp: files.ts,
    rootfsPath: storage.loc.rootfsPath,
    backingStore: storage.driver.store,
    sizeBytes: usage.sizeBytes,
    allocatedBytes: usage.allocatedBytes,
    method,
  };
}

async function observe(ctx: OpContext, ref: SnapshotRef): Promise<SnapshotObserved | null> {
  const snapDir = snapshotDirOf(ref);
  if (!(await lstatOrNull(configPath(snapDir)))?.isFile()) return null;
  const found = await snapshotStorage(snapDir);
  if (!found) throw new RootfsError(`${configPath(snapDir)} names no lxc.rootfs.path`);
  const usage = await found.driver.inspect(ctx, found.loc);
  const native = found.driver.snapshotFrom !== undefined && (await found.driver.sourceProblem?.(found.loc)) == null;
  const files = { comment: await readComment(snapDir), ts: (await readSmallFile(`${snapDir}/ts`))?.trim() || null };
  return outputsOf(ref, files, found, usage, native ? "snapshot" : null);
}

/** What is on the host for a snapshot; null when it is not there (no config: LXC does not list it either). */
export async function inspectSnapshot(ref: SnapshotRef, opts: OperationOptions): Promise<SnapshotObserved | null> {
  return withOperation(ref, opts, (ctx) => observe(ctx, ref), { readOnly: true });
}

/** Removes a snapshot, whoever made it (lxc-snapshot -d does the same for ours). */
export async function destroySnapshot(ref: SnapshotRef, opts: OperationOptions): Promise<DestroyResult> {
  return withOperation(ref, opts, async (ctx): Promise<DestroyResult> => {
    await recoverInterrupted(ctx);
    const snapDir = snapshotDirOf(ref);
    const st = await lstatOrNull(snapDir);
    if (!st) return { destroyed: false, reason: "no snapshot found" };
    if (!st.isDirectory()) throw new Unsafe(`refusing to delete ${snapDir}: it is not a directory (a symbolic link?)`);
    const mounts = await mountsUnder(snapDir);
    if (mounts.length) throw new InUse(snapDir, `mounted at ${mounts.join(", ")}`);
    await removeSnapshot(ctx, snapDir, await snapshotStorage(snapDir));
    return { destroyed: true };
  });
}
