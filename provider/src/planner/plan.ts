/**
 * Planning is pure: from what is on the host and what is wanted, which strategy, moving how many bytes.
 * The preview message, the update and the unit tests all read this one plan.
 */
import path from "path";
import { CannotShrink, InvalidInput, NoSpace, formatBytes } from "../model/errors";
import { SIZE_ALIGN } from "../model/sizes";
import { DEFAULT_FSTYPE, DEFAULT_SIZE, Fstype, RootfsSpec, Store } from "../model/requests";
import { DRIVERS } from "../drivers";
import { MIN_FS_SIZE, shrinkMode } from "../host/filesystem";

export type UpdateStrategy = "none" | "grow-in-place" | "shrink-in-place" | "set-limit" | "block-copy" | "file-copy";
export type FillStrategy = "empty" | "clone" | "block-copy" | "file-copy";

/** The storage as it is, or as it will be. */
export interface StoreShape {
  store: Store;
  sizeBytes: number | null;
  fstype: Fstype | null;
  usedBytes: number;
  allocatedBytes: number;
  /** Where it is (`lxc.rootfs.path`), when known: a spec naming another volume moves the data there. */
  rootfsPath?: string;
}

export interface Target {
  store: Store;
  size?: number;
  fstype?: Fstype;
}

export interface UpdatePlan {
  strategy: UpdateStrategy;
  target: Target;
  /** Bytes the strategy moves (0 for in-place changes and reflinks). */
  bytesToMove: number;
  /** One line for a reviewer: what will happen and what it costs. */
  summary: string;
}

function mib(n: number): string {
  return `${Math.max(1, Math.round(n / 2 ** 20))} MiB`;
}

function describeShape(s: { store: Store; fstype?: Fstype | null; size?: number | null }): string {
  return [s.store, s.fstype && s.fstype !== s.store ? s.fstype : "", s.size ? formatBytes(s.size).replace(/ \(.*\)$/, "") : ""].filter(Boolean).join(" ");
}

/** What a spec asks for, with the unspecified filled from what is there (or the defaults). */
export function resolveTarget(spec: RootfsSpec, current: StoreShape | undefined): Target {
  const caps = DRIVERS[spec.backingStore].caps;
  const same = current?.store === spec.backingStore;
  const target: Target = { store: spec.backingStore };
  if (caps.isBlock) {
    target.fstype = spec.fstype ?? (current && DRIVERS[current.store].caps.isBlock ? current.fstype ?? undefined : undefined) ?? DEFAULT_FSTYPE;
    target.size = spec.size ?? (current && DRIVERS[current.store].caps.isBlock ? current.sizeBytes ?? undefined : undefined) ?? DEFAULT_SIZE;
  } else if (caps.sized) {
    target.size = spec.size ?? (same ? current?.sizeBytes ?? undefined : undefined);
  }
  return target;
}

function checkFits(what: string, used: number, capacity: number | undefined): void {
  if (capacity !== undefined && used > capacity) throw new NoSpace(what, used, capacity);
}

/** How to fill a new store from a source rootfs at create. */
export function planFill(source: StoreShape, target: Target): { strategy: FillStrategy; bytesToMove: number } {
  const src = DRIVERS[source.store].caps;
  const dst = DRIVERS[target.store].caps;
  if (src.isBlock && dst.isBlock && source.fstype === target.fstype && source.sizeBytes !== null && target.size !== undefined && target.size >= source.sizeBytes) {
    return { strategy: "block-copy", bytesToMove: source.allocatedBytes };
  }
  checkFits(`the new ${target.store} rootfs`, source.usedBytes, target.size);
  if (target.store === "btrfs" && source.store === "btrfs") return { strategy: "clone", bytesToMove: 0 };
  return { strategy: "file-copy", bytesToMove: source.usedBytes };
}

/** Whether the spec names another volume (LVM volume group or name, thin pool, ZFS root) than the current one. */
function movesVolume(current: StoreShape, spec: RootfsSpec): boolean {
  const named = spec.vgName ?? spec.lvName ?? spec.thinPool ?? spec.zfsRoot;
  if (named === undefined || current.rootfsPath === undefined) return false;
  return DRIVERS[spec.backingStore].locate(spec, path.join(spec.lxcPath, spec.container)).rootfsPath !== current.rootfsPath;
}

export function planUpdate(observed: StoreShape, spec: RootfsSpec): UpdatePlan {
  // A block device holds whole 512-byte sectors: LXC's images are size + 1 bytes, and that last byte is
  // not part of the device. Sizes compare in sectors, so an image lxc-create made for 1G is 1G here.
  const current = observed.sizeBytes !== null && DRIVERS[observed.store].caps.isBlock
    ? { ...observed, sizeBytes: observed.sizeBytes - (observed.sizeBytes % SIZE_ALIGN) }
    : observed;
  const target = resolveTarget(spec, current);
  const to = DRIVERS[target.store].caps;
  const from = DRIVERS[current.store].caps;
  const plan = (strategy: UpdateStrategy, bytesToMove: number, summary: string): UpdatePlan => ({ strategy, target, bytesToMove, summary });

  if (target.fstype && target.size !== undefined && target.size < MIN_FS_SIZE[target.fstype]) {
    throw new InvalidInput("size", target.size, `at least ${MIN_FS_SIZE[target.fstype]} bytes for ${target.fstype}`);
  }
  if (current.store !== target.store && to.needsLower) {
    throw new InvalidInput("backingStore", target.store, `${target.store} can only be chosen when the rootfs is created, with from naming its lower layer`);
  }
  if (current.store === target.store && movesVolume(current, spec)) {
    const where = DRIVERS[target.store].locate(spec, path.join(spec.lxcPath, spec.container)).rootfsPath;
    if (to.isBlock && target.fstype === current.fstype && current.sizeBytes !== null && target.size! >= current.sizeBytes) {
      return plan("block-copy", current.allocatedBytes, `block copy of ${mib(current.allocatedBytes)} allocated from ${current.rootfsPath} to ${where}`);
    }
    checkFits(`the new ${target.store} rootfs`, current.usedBytes, target.size);
    return plan("file-copy", current.usedBytes, `copy ${mib(current.usedBytes)} file by file from ${current.rootfsPath} to ${where}`);
  }
  if (current.store === target.store) {
    if (to.isBlock && target.fstype !== current.fstype) {
      checkFits(`the new ${target.fstype} filesystem`, current.usedBytes, target.size);
      return plan("file-copy", current.usedBytes, `copy ${mib(current.usedBytes)} file by file from ${describeShape({ ...current, size: current.sizeBytes })} into a new ${describeShape(target)}`);
    }
    if (to.isBlock && target.size !== undefined && current.sizeBytes !== null && target.size !== current.sizeBytes) {
      if (target.size > current.sizeBytes) {
        return plan("grow-in-place", 0, `grow in place: ${describeShape({ ...current, size: current.sizeBytes })} → ${formatBytes(target.size)}`);
      }
      const fstype = current.fstype ?? DEFAULT_FSTYPE;
      if (!shrinkMode(fstype)) throw new CannotShrink(fstype, `${fstype} filesystems cannot be shrunk; keep size at least ${current.sizeBytes}`);
      checkFits(`the shrunk ${fstype} filesystem`, current.usedBytes, target.size);
      return plan("shrink-in-place", 0, `shrink in place (${shrinkMode(fstype)}): ${describeShape({ ...current, size: current.sizeBytes })} → ${formatBytes(target.size)}`);
    }
    if (to.sized && !to.isBlock && target.size !== undefined && target.size !== current.sizeBytes) {
      checkFits(`the ${target.store} limit`, current.usedBytes, target.size);
      return plan("set-limit", 0, `set the ${target.store} limit to ${formatBytes(target.size)}`);
    }
    return plan("none", 0, "no change");
  }
  if (from.isBlock && to.isBlock && current.fstype === target.fstype && current.sizeBytes !== null && target.size !== undefined && target.size >= current.sizeBytes) {
    const grow = target.size > current.sizeBytes ? `, then grow to ${formatBytes(target.size)}` : "";
    return plan("block-copy", current.allocatedBytes, `block copy of ${mib(current.allocatedBytes)} allocated (reflink where the host allows, holes kept) from ${current.store} to ${target.store}${grow}`);
  }
  checkFits(`the new ${target.store} rootfs`, current.usedBytes, target.size);
  // Two trees of the host's own filesystem are reflinked where it shares extents (btrfs, xfs).
  const how = !from.isBlock && !to.isBlock && current.store !== "overlay" ? " (reflinked where both share one btrfs or xfs)" : "";
  return plan("file-copy", current.usedBytes, `copy ${mib(current.usedBytes)} file by file${how} from ${describeShape({ ...current, size: current.sizeBytes })} into a new ${describeShape(target)}`);
}
