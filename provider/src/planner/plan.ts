/**
 * Planning is pure: from what is on the host and what is wanted, which strategy, moving how many bytes.
 * The preview message, the update and the unit tests all read this one plan.
 */
import { formatBytes } from "../model/bytes";
import { CannotShrink, CutShort, InvalidInput, NoSpace } from "../model/errors";
import { newFilesystemBytes, shrinkMode } from "../model/filesystems";
import { BlockCopyPlan, BlockTarget, FileCopyPlan, FillPlan, ImageShape, StoreShape, Target, UnpackPlan, UpdatePlan } from "../model/plans";
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
 * A block store as a device sees it: whole 512-byte sectors. LXC's images are size + 1 bytes, and that last
 * byte is not part of the device; sizes compare in sectors, so an image lxc-create made for 1G is 1G here.
 */
export function inWholeSectors(shape: StoreShape): StoreShape {
  const { sizeBytes } = shape;
  return sizeBytes !== null && isBlockStore(shape.store) ? { ...shape, sizeBytes: sizeBytes - (sizeBytes % SIZE_ALIGN) } : shape;
}

/**
 * What a block copy of `source` reads: its filesystem, in whole sectors, not its device (which may be
 * longer: a filesystem needs none of the bytes past its end). Null where no filesystem was found.
 */
export function copySizeOf(source: StoreShape): number | null {
  if (!isBlockStore(source.store) || source.fsBytes === null) return null;
  return Math.ceil(source.fsBytes / SIZE_ALIGN) * SIZE_ALIGN;
}

/**
 * The refusal a block store shorter than its filesystem earns (an image truncated by hand, an LV reduced
 * under its filesystem): reading it would carry the lost tail on as zeros, as if whole. Null when whole.
 */
function cutShort(shape: StoreShape): CutShort | null {
  const { sizeBytes, fsBytes } = shape;
  if (!isBlockStore(shape.store) || sizeBytes === null || fsBytes === null || sizeBytes >= fsBytes) return null;
  const where = shape.rootfsPath === undefined ? shape.store : parseRootfsString(shape.rootfsPath, "rootfsPath", "/").loc.path;
  return new CutShort(where, sizeBytes, fsBytes);
}

/**
 * The one rule for a block copy: both stores are block devices holding the same filesystem, and the target
 * has room for that filesystem (the copy's filesystem is grown after, never shrunk).
 */
export function canBlockCopy(source: StoreShape, target: Target): target is BlockTarget {
  const copySize = copySizeOf(source);
  return (
    isBlockStore(source.store) &&
    isBlockStore(target.store) &&
    source.fstype === target.fstype &&
    copySize !== null &&
    target.size !== undefined &&
    target.size >= copySize
  );
}

/** The block copy of `source` into `target` where canBlockCopy allows it. */
function blockCopyOf(source: StoreShape, target: Target): BlockCopyPlan | null {
  const copySize = copySizeOf(source);
  if (!canBlockCopy(source, target) || copySize === null) return null;
  return { strategy: "block-copy", target, copySize, bytesToMove: source.allocatedBytes };
}

/** How to fill a new store at create: empty, or from a source rootfs, which is read whole or not at all. */
export function planFill(source: StoreShape | undefined, target: Target): FillPlan {
  if (!source) return { strategy: "empty", target, bytesToMove: 0 };
  const damage = cutShort(source);
  if (damage) throw damage;
  const block = blockCopyOf(source, target);
  if (block) return block;
  checkFits(`the new ${target.store} rootfs`, source.usedBytes, target.size);
  if (source.store === target.store && canClone(target.store))
    return { strategy: "clone", target, bytesToMove: 0, copyBytes: source.usedBytes };
  return { strategy: "file-copy", target, bytesToMove: source.usedBytes };
}

/**
 * How an OS image fills a new store: unpacked, its tree counted as the tar stream and 1/32 more (a file
 * fills its last block only in part; the stream pads to 512 bytes, a filesystem to its block), which must
 * fit the target's size.
 */
export function planUnpack(image: ImageShape, target: Target): UnpackPlan {
  // An image not fetched yet is counted once it is (the create plans again then): its tree is unknown now.
  if (image.streamBytes === null) return { strategy: "unpack", target, image, bytesToMove: 0 };
  const treeBytes = Math.ceil((image.streamBytes * 33) / 32);
  checkFits(`the new ${target.store} rootfs`, treeBytes, target.size);
  return { strategy: "unpack", target, image, bytesToMove: treeBytes };
}

/**
 * The bytes a fill or a move writes into its new store: what a thin pool or a dataset's parent must have
 * free. A new filesystem writes its own metadata before any file (a thin LV of 16 GiB takes about 400 MiB
 * of its pool for ext4's inode tables and journal); a block copy grown past its source writes the metadata
 * of the part it grows. A planned clone counts its data: it falls back to a copy across filesystems or pools.
 */
export function bytesWritten(plan: FillPlan | BlockCopyPlan | FileCopyPlan | UnpackPlan): number {
  const { target } = plan;
  const newFs = (size: number): number => (target.fstype && isBlockStore(target.store) ? newFilesystemBytes(target.fstype, size) : 0);
  switch (plan.strategy) {
    case "empty":
      return target.size === undefined ? 0 : newFs(target.size);
    case "clone":
      return plan.copyBytes;
    case "file-copy":
    case "unpack":
      return plan.bytesToMove + (target.size === undefined ? 0 : newFs(target.size));
    case "block-copy":
      return plan.bytesToMove + grownMetadataBytes({ fstype: plan.target.fstype, fromSize: plan.copySize, toSize: plan.target.size });
  }
}

/** What growing a filesystem writes: the metadata of the part it grows. */
export function grownMetadataBytes(plan: { fstype: Fstype; fromSize: number; toSize: number }): number {
  // Grown, it keeps the layout it has: taken as the one mkfs chose for its size now.
  const { fstype, fromSize, toSize } = plan;
  return Math.max(0, newFilesystemBytes(fstype, toSize, fromSize) - newFilesystemBytes(fstype, fromSize, fromSize));
}

/**
 * The line a preview prints for a create: what is made where, and how `from` fills it, with the bytes it
 * moves. `from` is not spelled out: it may be a secret, and the engine's output is not. A layered store
 * (overlay) is named by its own layer, `at`, since its rootfs string holds `from`.
 */
export function describeCreate(target: Target, at: string, fill: FillPlan, source?: StoreShape, layered = false): string {
  const made = `create ${describeShape(target)} at ${at}`;
  if (layered) return `${made}, over \`from\` as its lower layer, which it leaves as it is`;
  const from = source ? `\`from\` (${source.store})` : "`from`";
  switch (fill.strategy) {
    case "empty":
      return `${made}, empty`;
    case "clone":
      return `${made}, a clone of ${from} (a file copy of ${mib(fill.copyBytes)} where the host cannot clone)`;
    case "block-copy":
      return `${made}, a block copy of ${mib(fill.bytesToMove)} allocated from ${from}`;
    case "file-copy":
      return `${made}, a copy of ${mib(fill.bytesToMove)} file by file from ${from}`;
    case "unpack": {
      const { name, digest, streamBytes, fetchBytes } = fill.image;
      const size =
        streamBytes !== null
          ? `a tar stream of ${mib(streamBytes)}`
          : `fetched at up${fetchBytes ? `: ${mib(fetchBytes)}` : ""}, then counted`;
      return `${made}, unpacked from the image ${name} (${digest ?? "its sha256 taken as it is unpacked"}, ${size})`;
    }
  }
}

/**
 * An update's plan. A block store cut short under its filesystem is refused whatever the change asks (a
 * copy or a resize would carry the damage on), ahead of any other refusal: it is the one to act on first.
 * Only "no change" passes, so that reading and refreshing it still work.
 */
export function planUpdate(observed: StoreShape, spec: RootfsSpec): UpdatePlan {
  const damage = cutShort(observed);
  let plan: UpdatePlan;
  try {
    plan = choosePlan(observed, spec);
  } catch (e) {
    throw damage ?? e;
  }
  if (damage && plan.strategy !== "none") throw damage;
  return plan;
}

function choosePlan(observed: StoreShape, spec: RootfsSpec): UpdatePlan {
  const current = inWholeSectors(observed);
  const target = resolveTarget(spec, current);
  const toBlock = isBlockStore(target.store);
  const block = blockCopyOf(current, target);
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
    const grow = block.target.size > block.copySize ? `, then grow to ${formatBytes(block.target.size)}` : "";
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
