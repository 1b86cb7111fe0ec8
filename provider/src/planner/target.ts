/**
 * Every rule that depends on the store, once: which properties a store takes, the size floor of each
 * filesystem, the lower layer, the defaults, and what an update keeps from the host. Pure: the API's
 * validation and the update's preparation both call these.
 */
import { InvalidInput } from "../model/errors";
import { MIN_FS_SIZE } from "../model/filesystems";
import { imageSourceOf } from "../model/images";
import { IdmapEntry, idmapOf, mapsContainerRoot } from "../model/idmap";
import { shownUrl } from "../model/urls";
import {
  ContainerRef,
  containerDirOf,
  DEFAULT_FSTYPE,
  DEFAULT_SIZE,
  Fstype,
  IdmapMode,
  RootfsChange,
  RootfsSpec,
  Store,
  STORE_OPTIONS,
  StoreOption,
  StoreOptions,
} from "../model/requests";
import { StoreShape, Target } from "../model/plans";
import { parseSize } from "../model/sizes";
import { DRIVERS, isBlock, isBlockStore, Location, parseRootfsString, storesWhere } from "../drivers";

function list(stores: string[]): string {
  return stores.length < 2 ? stores.join("") : `${stores.slice(0, -1).join(", ")} and ${stores[stores.length - 1]}`;
}

/** The size floor of a filesystem, for a size as given and for one kept from the host. */
export function checkSizeFloor(size: number, fstype: Fstype, given: unknown = size): void {
  const min = MIN_FS_SIZE[fstype];
  if (size < min) throw new InvalidInput("size", given, `at least ${min} bytes (${min / 2 ** 20}M) for ${fstype}`);
}

/** Why a layered store's owners are never shifted. */
export const NO_SHIFT_LAYERED = "a shift of its owners would rewrite the lower layer it shares, or copy all of it up";

/** Why a map must map container root: every rootfs has root's files, its root directory first. */
const NO_ROOT =
  "a map that maps container root (uid 0 and gid 0): a rootfs's root directory and most of its files are root's, which would become nobody's";

/** Why idmapMode mount is for some stores only: LXC's own refusal (5.0), naming the stores it mounts idmapped. */
export const idmappedRootfsOnly = (stores: string) =>
  `LXC refuses an idmapped rootfs (lxc.rootfs.options = idmap=container) on any other: "Idmapped rootfs currently only supports the "${stores}" storage driver"`;

/** Why idmapMode mount needs a map, and where it is taken from. */
export const MOUNT_NEEDS_IDMAP =
  "shift, or an idmap: mount keeps the owners a privileged rootfs's and has LXC map them at mount, so the container needs a map (the idmap input, or the config's lxc.idmap lines)";

/** What a request says beyond the container and the store: values as given (strings or numbers). */
export type StoreInputs = Partial<Record<"size" | "fstype" | "from" | "source" | "idmap" | "idmapMode" | StoreOption, unknown>>;

/**
 * Judges the properties that depend on the store, on the values as given, in one order: fstype (block
 * stores only), size (sized stores only, above the filesystem's floor), from (a rootfs string; a layered
 * store needs one; create only), source (not with from, not for a layered store; create only), idmap (a
 * valid map, not for a layered store), idmapMode (mount: a store LXC mounts idmapped, and a map unless it
 * is the config's), then each store option (its own store only, in its syntax).
 * `keptFstype`: the filesystem an update keeps when it names none.
 */
export function judgeStoreRules(
  store: Store,
  inputs: StoreInputs,
  { creating, keptFstype }: { creating: boolean; keptFstype?: Fstype | null },
): Omit<RootfsSpec, keyof ContainerRef | "backingStore"> {
  const driver = DRIVERS[store];
  const out: Omit<RootfsSpec, keyof ContainerRef | "backingStore"> = {};
  if (inputs.fstype !== undefined) {
    if (!isBlock(driver)) {
      throw new InvalidInput(
        "fstype",
        inputs.fstype,
        `only block stores (${storesWhere(isBlock).join(", ")}) take an fstype; ${store} has none`,
      );
    }
    out.fstype = inputs.fstype as Fstype;
  }
  if (inputs.size !== undefined) {
    if (!driver.caps.sized) {
      throw new InvalidInput("size", inputs.size, `${store} has no size; only ${list(storesWhere((d) => d.caps.sized))} take one`);
    }
    out.size = parseSize(inputs.size, "size");
    const fstype = out.fstype ?? (isBlock(driver) ? (keptFstype ?? DEFAULT_FSTYPE) : undefined);
    if (fstype) checkSizeFloor(out.size, fstype, inputs.size);
  }
  if (creating) {
    if (inputs.from !== undefined) {
      parseRootfsString(inputs.from, "from", "/");
      out.from = inputs.from as string;
    }
    if (inputs.source !== undefined) {
      out.source = imageSourceOf(inputs.source);
      // The url as messages may show it: it may carry a credential.
      const shown = shownUrl(out.source.url);
      if (out.from !== undefined) throw new InvalidInput("source", shown, "either source or from, not both");
      // A layered store's content is its lower layer, which `from` names.
      if (driver.caps.needsLower) throw new InvalidInput("source", shown, `none for ${store}, whose from names its lower layer`);
    }
    driver.checkLower?.(out.from);
  }
  if (inputs.idmap !== undefined) {
    // A bad map is refused naming its entry; an overlay's files are its lower layer's, shared.
    const map = idmapOf(inputs.idmap);
    if (!mapsContainerRoot(map)) throw new InvalidInput("idmap", inputs.idmap, NO_ROOT);
    if (driver.caps.needsLower) throw new InvalidInput("idmap", inputs.idmap, `none for ${store}: ${NO_SHIFT_LAYERED}`);
    out.idmap = inputs.idmap as IdmapEntry[];
  }
  if (inputs.idmapMode === "mount") {
    if (!driver.caps.idmappedMount) {
      const stores = list(storesWhere((d) => d.caps.idmappedMount));
      throw new InvalidInput(
        "idmapMode",
        inputs.idmapMode,
        `shift for ${store}; mount is for ${stores} only: ${idmappedRootfsOnly(stores)}`,
      );
    }
    if (out.idmap?.length === 0) throw new InvalidInput("idmapMode", inputs.idmapMode, `${MOUNT_NEEDS_IDMAP}; idmap is [] (privileged)`);
  }
  // At create, shift is what no mode asks for; an update's names the mode to go back to.
  if (inputs.idmapMode !== undefined && (inputs.idmapMode !== "shift" || !creating)) out.idmapMode = inputs.idmapMode as IdmapMode;
  for (const name of STORE_OPTIONS) {
    const value = inputs[name];
    if (value === undefined) continue;
    const rule = driver.options[name];
    if (!rule) throw new InvalidInput(name, value, `only for backingStore ${storesWhere((d) => name in d.options).join(" or ")}`);
    if (typeof value !== "string" || !rule.pattern.test(value)) throw new InvalidInput(name, value, rule.allowed);
    out[name] = value;
  }
  return out;
}

/** Where a rootfs is, parsed from what was observed; undefined when nothing was. */
function locationOf(ref: ContainerRef, shape: StoreShape): Location | undefined {
  return shape.rootfsPath === undefined ? undefined : parseRootfsString(shape.rootfsPath, "rootfsPath", containerDirOf(ref)).loc;
}

/**
 * The spec an update aims at: what the change asks for, and the rest kept from the host. The store stays
 * unless named. Staying, the rootfs stays where it is, on its volume, unless the change gives a store
 * option a value other than the host's: then it moves, keeping the options the change leaves out (a new
 * volume name stays in the volume group). The store's rules are judged here when the change did not name
 * the store, since only the host says which store that is.
 */
export function specForUpdate(ref: ContainerRef, shape: StoreShape, change: RootfsChange): RootfsSpec {
  const store = change.backingStore ?? shape.store;
  if (change.backingStore === undefined) {
    judgeStoreRules(store, change, { creating: false, keptFstype: isBlockStore(shape.store) ? shape.fstype : null });
  }
  let options: StoreOptions = Object.fromEntries(STORE_OPTIONS.filter((k) => change[k] !== undefined).map((k) => [k, change[k]]));
  const loc = store === shape.store ? locationOf(ref, shape) : undefined;
  if (loc) {
    const host = DRIVERS[store].optionsOf(loc);
    const differs = STORE_OPTIONS.some((k) => options[k] !== undefined && options[k] !== host[k]);
    options = differs ? { ...host, ...options } : {};
  }
  const spec: RootfsSpec = { container: ref.container, lxcPath: ref.lxcPath, backingStore: store, ...options };
  if (change.size !== undefined) spec.size = change.size;
  if (change.fstype !== undefined) spec.fstype = change.fstype;
  return spec;
}

/**
 * Where an update puts the rootfs: where it is, unless the store changes or the spec names a volume
 * (specForUpdate names one only to move it).
 */
export function destinationOf(spec: RootfsSpec, current: Location | undefined): Location {
  const driver = DRIVERS[spec.backingStore];
  const named = STORE_OPTIONS.some((k) => spec[k] !== undefined);
  if (current && current.store === spec.backingStore && !named) return current;
  return driver.locate(spec, containerDirOf(spec));
}

/** What a spec asks for, with the unspecified filled from what is there (or the defaults). */
export function resolveTarget(spec: RootfsSpec, current: StoreShape | undefined): Target {
  const driver = DRIVERS[spec.backingStore];
  const fromBlock = current !== undefined && isBlockStore(current.store);
  const target: Target = { store: spec.backingStore };
  if (isBlock(driver)) {
    target.fstype = spec.fstype ?? (fromBlock ? (current.fstype ?? undefined) : undefined) ?? DEFAULT_FSTYPE;
    target.size = spec.size ?? (fromBlock ? (current.sizeBytes ?? undefined) : undefined) ?? DEFAULT_SIZE;
    checkSizeFloor(target.size, target.fstype);
  } else if (driver.caps.sized) {
    target.size = spec.size ?? (current?.store === spec.backingStore ? (current.sizeBytes ?? undefined) : undefined);
  }
  return target;
}
