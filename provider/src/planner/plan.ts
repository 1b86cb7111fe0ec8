/**
 * Planning is pure: from what is on the host and what is wanted, which strategy, moving how many bytes.
 * The preview message, the update and the unit tests all read this one plan.
 */
import { formatBytes } from "../model/bytes";
import { CannotShrink, InvalidInput, NoSpace } from "../model/errors";
import { shrinkMode } from "../model/filesystems";
import { FillStrategy, StoreShape, Target, UpdatePlan, UpdateStrategy } from "../model/plans";
import { ContainerRef, containerDirOf, DEFAULT_FSTYPE, Fstype, RootfsChange, RootfsSpec, Store } from "../model/requests";
import { SIZE_ALIGN } from "../model/sizes";
import { canClone, DRIVERS, isBlockStore, parseRootfsString, sharesExtents } from "../drivers";
import { destinationOf, resolveTarget, specForUpdate } from "./target";

export function mib(n: number): string {
  return `${Math.max(1, Math.round(n / 2 ** 20))} MiB`;
}

function describeShape(s: { store: Store; fstype?: Fstype | null; size?: number | null }): string {
  return [s.store, s.fstype && s.fstype !== s.store ? s.fstype : "", s.size ? formatBytes(s.size).replace(/ \(.*\)$/, "") : ""]
    .filter(Boolean)
    .join(" ");
}

function checkFits(what: string, used: number, capacity: number | undefined): void {
  if (capacity !== undefined && used > capacity) throw new NoSpace(what, used, capacity);
}

/** How to fill a new store from a source rootfs at create. */
export function planFill(source: StoreShape, target: Target): { strategy: FillStrategy; bytesToMove: number } {
  if (
    isBlockStore(source.store) &&
    isBlockStore(target.store) &&
    source.fstype === target.fstype &&
    source.sizeBytes !== null &&
    target.size !== undefined &&
    target.size >= source.sizeBytes
  ) {
    return { strategy: "block-copy", bytesToMove: source.allocatedBytes };
  }
  checkFits(`the new ${target.store} rootfs`, source.usedBytes, target.size);
  if (source.store === target.store && canClone(target.store)) return { strategy: "clone", bytesToMove: 0 };
  return { strategy: "file-copy", bytesToMove: source.usedBytes };
}

export function planUpdate(observed: StoreShape, spec: RootfsSpec): UpdatePlan {
  // A block device holds whole 512-byte sectors: LXC's images are size + 1 bytes, and that last byte is
  // not part of the device. Sizes compare in sectors, so an image lxc-create made for 1G is 1G here.
  const current =
    observed.sizeBytes !== null && isBlockStore(observed.store)
      ? { ...observed, sizeBytes: observed.sizeBytes - (observed.sizeBytes % SIZE_ALIGN) }
      : observed;
  const target = resolveTarget(spec, current);
  const toBlock = isBlockStore(target.store);
  const plan = (strategy: UpdateStrategy, bytesToMove: number, summary: string): UpdatePlan => ({ strategy, target, bytesToMove, summary });

  if (current.store !== target.store && DRIVERS[target.store].caps.needsLower) {
    throw new InvalidInput(
      "backingStore",
      target.store,
      `${target.store} can only be chosen when the rootfs is created, with from naming its lower layer`,
    );
  }
  // Same store, another volume: the data moves there.
  const where =
    current.store === target.store && current.rootfsPath !== undefined
      ? destinationOf(spec, parseRootfsString(current.rootfsPath, "rootfsPath", containerDirOf(spec)).loc).rootfsPath
      : undefined;
  if (where !== undefined && where !== current.rootfsPath) {
    if (
      toBlock &&
      target.fstype === current.fstype &&
      current.sizeBytes !== null &&
      target.size !== undefined &&
      target.size >= current.sizeBytes
    ) {
      return plan(
        "block-copy",
        current.allocatedBytes,
        `block copy of ${mib(current.allocatedBytes)} allocated from ${current.rootfsPath} to ${where}`,
      );
    }
    checkFits(`the new ${target.store} rootfs`, current.usedBytes, target.size);
    return plan("file-copy", current.usedBytes, `copy ${mib(current.usedBytes)} file by file from ${current.rootfsPath} to ${where}`);
  }
  if (current.store === target.store) {
    if (toBlock && target.fstype !== current.fstype) {
      checkFits(`the new ${target.fstype} filesystem`, current.usedBytes, target.size);
      return plan(
        "file-copy",
        current.usedBytes,
        `copy ${mib(current.usedBytes)} file by file from ${describeShape({ ...current, size: current.sizeBytes })} into a new ${describeShape(target)}`,
      );
    }
    if (toBlock && target.size !== undefined && current.sizeBytes !== null && target.size !== current.sizeBytes) {
      if (target.size > current.sizeBytes) {
        return plan(
          "grow-in-place",
          0,
          `grow in place: ${describeShape({ ...current, size: current.sizeBytes })} → ${formatBytes(target.size)}`,
        );
      }
      const fstype = current.fstype ?? DEFAULT_FSTYPE;
      if (!shrinkMode(fstype))
        throw new CannotShrink(fstype, `${fstype} filesystems cannot be shrunk; keep size at least ${current.sizeBytes}`);
      checkFits(`the shrunk ${fstype} filesystem`, current.usedBytes, target.size);
      return plan(
        "shrink-in-place",
        0,
        `shrink in place (${shrinkMode(fstype)}): ${describeShape({ ...current, size: current.sizeBytes })} → ${formatBytes(target.size)}`,
      );
    }
    if (DRIVERS[target.store].caps.sized && !toBlock && target.size !== undefined && target.size !== current.sizeBytes) {
      checkFits(`the ${target.store} limit`, current.usedBytes, target.size);
      return plan("set-limit", 0, `set the ${target.store} limit to ${formatBytes(target.size)}`);
    }
    return plan("none", 0, "no change");
  }
  if (
    isBlockStore(current.store) &&
    toBlock &&
    current.fstype === target.fstype &&
    current.sizeBytes !== null &&
    target.size !== undefined &&
    target.size >= current.sizeBytes
  ) {
    const grow = target.size > current.sizeBytes ? `, then grow to ${formatBytes(target.size)}` : "";
    return plan(
      "block-copy",
      current.allocatedBytes,
      `block copy of ${mib(current.allocatedBytes)} allocated (reflink where the host allows, holes kept) from ${current.store} to ${target.store}${grow}`,
    );
  }
  checkFits(`the new ${target.store} rootfs`, current.usedBytes, target.size);
  // Two trees of the host's own filesystem are reflinked where it shares extents (btrfs, xfs).
  const how = sharesExtents(current.store, target.store) ? " (reflinked where both share one btrfs or xfs)" : "";
  return plan(
    "file-copy",
    current.usedBytes,
    `copy ${mib(current.usedBytes)} file by file${how} from ${describeShape({ ...current, size: current.sizeBytes })} into a new ${describeShape(target)}`,
  );
}

/** An update's plan from what is there and what the change asks: the one rule for the preview and the update. */
export function planChange(ref: ContainerRef, shape: StoreShape, change: RootfsChange): { spec: RootfsSpec; plan: UpdatePlan } {
  const spec = specForUpdate(ref, shape, change);
  return { spec, plan: planUpdate(shape, spec) };
}
