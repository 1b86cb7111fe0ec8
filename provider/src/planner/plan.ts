/**
 * Planning is pure: from what is on the host and what is wanted, which strategy, moving how many bytes.
 * The preview message, the update and the unit tests all read this one plan.
 */
import { formatBytes } from "../model/bytes";
import { CannotShrink, InvalidInput, NoSpace } from "../model/errors";
import { shrinkMode } from "../model/filesystems";
import { BlockCopyPlan, BlockTarget, FillPlan, StoreShape, Target, UpdatePlan } from "../model/plans";
import { ContainerRef, containerDirOf, Fstype, RootfsChange, RootfsSpec, Store } from "../model/requests";
import { SIZE_ALIGN } from "../model/sizes";
import { canClone, copySharesExtents, DRIVERS, isBlockStore, parseRootfsString } from "../drivers";
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

/**
 * The one rule for a block copy: both stores are block devices holding the same filesystem, and the target
 * is at least the source's size (the copy is grown after, never shrunk).
 */
export function canBlockCopy(source: StoreShape, target: Target): target is BlockTarget {
  return (
    isBlockStore(source.store) &&
    isBlockStore(target.store) &&
    source.fstype === target.fstype &&
    source.sizeBytes !== null &&
    target.size !== undefined &&
    target.size >= source.sizeBytes
  );
}

/** The block copy of `source` into `target` where canBlockCopy allows it; `sourceSize` is the device's size as found. */
function blockCopyOf(source: StoreShape, target: Target, sourceSize: number | null): BlockCopyPlan | null {
  if (!canBlockCopy(source, target) || sourceSize === null) return null;
  return { strategy: "block-copy", target, sourceSize, bytesToMove: source.allocatedBytes };
}

/** How to fill a new store at create: empty, or from a source rootfs. */
export function planFill(source: StoreShape | undefined, target: Target): FillPlan {
  if (!source) return { strategy: "empty", target, bytesToMove: 0 };
  const block = blockCopyOf(source, target, source.sizeBytes);
  if (block) return block;
  checkFits(`the new ${target.store} rootfs`, source.usedBytes, target.size);
  if (source.store === target.store && canClone(target.store))
    return { strategy: "clone", target, bytesToMove: 0, copyBytes: source.usedBytes };
  return { strategy: "file-copy", target, bytesToMove: source.usedBytes };
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
  const block = blockCopyOf(current, target, observed.sizeBytes);
  const fileCopy = (summary: string): UpdatePlan => ({ strategy: "file-copy", target, bytesToMove: current.usedBytes, summary });

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
    if (block) {
      return { ...block, summary: `block copy of ${mib(block.bytesToMove)} allocated from ${current.rootfsPath} to ${where}` };
    }
    checkFits(`the new ${target.store} rootfs`, current.usedBytes, target.size);
    return fileCopy(`copy ${mib(current.usedBytes)} file by file from ${current.rootfsPath} to ${where}`);
  }
  if (current.store === target.store) {
    if (toBlock && target.fstype !== current.fstype) {
      checkFits(`the new ${target.fstype} filesystem`, current.usedBytes, target.size);
      return fileCopy(
        `copy ${mib(current.usedBytes)} file by file from ${describeShape({ ...current, size: current.sizeBytes })} into a new ${describeShape(target)}`,
      );
    }
    // The same block store and filesystem (another filesystem is copied into, above): resized in place.
    if (toBlock && target.fstype && target.size !== undefined && observed.sizeBytes !== null && current.sizeBytes !== null) {
      const { fstype, size } = target;
      if (size > current.sizeBytes) {
        return {
          strategy: "grow-in-place",
          fstype,
          fromSize: observed.sizeBytes,
          toSize: size,
          bytesToMove: 0,
          summary: `grow in place: ${describeShape({ ...current, size: current.sizeBytes })} → ${formatBytes(size)}`,
        };
      }
      if (size < current.sizeBytes) {
        if (!shrinkMode(fstype))
          throw new CannotShrink(fstype, `${fstype} filesystems cannot be shrunk; keep size at least ${current.sizeBytes}`);
        checkFits(`the shrunk ${fstype} filesystem`, current.usedBytes, size);
        return {
          strategy: "shrink-in-place",
          fstype,
          size,
          bytesToMove: 0,
          summary: `shrink in place (${shrinkMode(fstype)}): ${describeShape({ ...current, size: current.sizeBytes })} → ${formatBytes(size)}`,
        };
      }
    }
    if (DRIVERS[target.store].caps.sized && !toBlock && target.size !== undefined && target.size !== current.sizeBytes) {
      checkFits(`the ${target.store} limit`, current.usedBytes, target.size);
      return {
        strategy: "set-limit",
        limit: target.size,
        bytesToMove: 0,
        summary: `set the ${target.store} limit to ${formatBytes(target.size)}`,
      };
    }
    return { strategy: "none", bytesToMove: 0, summary: "no change" };
  }
  if (block) {
    const grow = block.target.size > block.sourceSize ? `, then grow to ${formatBytes(block.target.size)}` : "";
    return {
      ...block,
      summary: `block copy of ${mib(block.bytesToMove)} allocated (reflink where the host allows, holes kept) from ${current.store} to ${target.store}${grow}`,
    };
  }
  checkFits(`the new ${target.store} rootfs`, current.usedBytes, target.size);
  // Two trees of the host's own filesystem are reflinked where it shares extents (btrfs, xfs).
  const how = copySharesExtents(current.store, target.store) ? " (reflinked where both share one btrfs or xfs)" : "";
  return fileCopy(
    `copy ${mib(current.usedBytes)} file by file${how} from ${describeShape({ ...current, size: current.sizeBytes })} into a new ${describeShape(target)}`,
  );
}

/** An update's plan from what is there and what the change asks: the one rule for the preview and the update. */
export function planChange(ref: ContainerRef, shape: StoreShape, change: RootfsChange): { spec: RootfsSpec; plan: UpdatePlan } {
  const spec = specForUpdate(ref, shape, change);
  return { spec, plan: planUpdate(shape, spec) };
}
