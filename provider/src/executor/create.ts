/** Create: a new store, empty or filled from `from`, swapped in as the container's rootfs. */
import { promises as fs } from "fs";
import { AlreadyExists, InvalidInput, RootfsError } from "../model/errors";
import { Idmap, idmapEntriesOf, idmapLabel, idmapOf, mapsContainerRoot } from "../model/idmap";
import { RootfsSpec, containerDirOf } from "../model/requests";
import { CreatePlan, FillPlan, ImageShape } from "../model/plans";
import { CreateResult } from "../model/results";
import { Driver, DRIVERS, Location, OpContext } from "../drivers";
import { removeEmptyDir } from "../host/paths";
import { bytesWritten, describeCreate, inWholeSectors, planFill, planUnpack } from "../planner/plan";
import { MOUNT_NEEDS_IDMAP, NO_SHIFT_LAYERED, resolveTarget } from "../planner/target";
import { configuredIdmap, configuredIdmapMode, readContainerConfig } from "../host/lxc-config";
import { mapByOwner, shiftStore, surveyStore } from "./shift";
import { lostIds } from "../model/shift-passes";
import { OperationOptions, readOnlyContext, withOperation } from "./context";
import { buildStore, Filled, Source } from "./fill";
import { assertIdmappable, assertSpace } from "./guards";
import { hasJournal } from "./journal";
import { locateCurrent, observeAt, observeSource } from "./observe";
import { buildAndSwap } from "./swap";
import { recoverInterrupted, requestedNames } from "./recovery";
import { ResolvedImage, resolveImage } from "./source";

/** What fills a new store: `from`'s rootfs, or an OS image (`source`); neither for an empty one. */
interface Filling {
  source?: Source;
  /** Resolved to a file on the host; only planned (a preview of an image not fetched yet) otherwise. */
  image?: ResolvedImage | ImageShape;
}

/**
 * Host checks that touch nothing: the store can live here, `from` exists, `source` is a tarball this host
 * can unpack, of its sha256 (the spec is validated: never both). A layered store's `from` is its lower
 * layer, not something to copy.
 */
async function precheck(spec: RootfsSpec, opts: OperationOptions, fetch: boolean, hashLater = false): Promise<Filling> {
  const ctx = readOnlyContext(spec, opts);
  const driver = DRIVERS[spec.backingStore];
  await driver.precheck?.(ctx, spec, spec.lxcPath);
  if (spec.source !== undefined) return { image: await resolveImage(ctx, spec.source, fetch, { hashLater }) };
  const source = spec.from !== undefined ? await observeSource(ctx, spec.from) : undefined;
  return driver.caps.needsLower ? {} : { source };
}

interface Prepared {
  driver: Driver;
  newFinal: Location;
  fill: FillPlan;
  plan: CreatePlan;
  /** The map the new store's owners are shifted into, or LXC maps them into at mount; null: none (a privileged container). */
  idmap: Idmap | null;
  /** idmapMode mount: the owners are kept as a privileged rootfs's, and the config has LXC mount it idmapped. */
  mount: boolean;
}

/**
 * The map a create shifts into: the idmap input, else the container config's lxc.idmap lines. A layered
 * store takes none (the input is refused at validation; the config's is refused here, with the reason).
 */
async function idmapFor(ctx: OpContext, spec: RootfsSpec, driver: Driver): Promise<Idmap | null> {
  if (spec.idmap !== undefined) return idmapOf(spec.idmap);
  const configured = configuredIdmap(await readContainerConfig(ctx.containerDir));
  if (configured && driver.caps.needsLower)
    throw new RootfsError(
      `the container's config maps its ids (lxc.idmap), and ${spec.backingStore} takes no shift: ${NO_SHIFT_LAYERED}. Nothing was changed.`,
    );
  if (!mapsContainerRoot(configured))
    throw new RootfsError(
      `the container's config maps its ids (lxc.idmap: ${idmapLabel(configured)}) without container root (uid 0 and gid 0): the rootfs's root-owned files would become nobody's, so they are not shifted into it. Nothing was changed.`,
    );
  return configured;
}

/**
 * What the shift of a create from `from` does, for a preview's line: where `from` is a tree read without a
 * mount (dir, btrfs), it is surveyed: already in the map, it is copied as it is; else the ids the map
 * leaves out are counted, which become nobody's. Elsewhere the line names the map only.
 */
async function shiftOfSource(ctx: OpContext, source: Source, to: Idmap): Promise<string> {
  const shifted = `; its owners then shifted into ${idmapLabel(to)}`;
  if (source.driver.kind !== "tree" || source.loc.localRoot === undefined || source.driver.caps.needsLower) return shifted;
  // Refused here as the create refuses it: a root owned by neither host root nor the map's root.
  const from = await mapByOwner(source.loc.path, source.loc.rootfsPath, to);
  if (from === "there") return `; its owners are in ${idmapLabel(to)} already: copied as they are`;
  const survey = await surveyStore(ctx, { driver: source.driver, loc: source.loc, fstype: null }, true);
  const lost = lostIds(from, to, survey.seen).length;
  return lost ? `${shifted}, where ${lost} host id${lost === 1 ? "" : "s"} of \`from\` it leaves out become nobody's` : shifted;
}

/**
 * Plans the create and checks that the host can take it: no rootfs is there yet, nor a volume of the new
 * store's name (unless `inPlace`: the create half of a replacement that deletes the rootfs there first),
 * and there is room for what the create writes. Changes nothing: the preview runs it too.
 */
async function prepareCreate(
  ctx: OpContext,
  spec: RootfsSpec,
  { source, image }: Filling,
  { inPlace = false, preview = false } = {},
): Promise<Prepared> {
  const driver = DRIVERS[spec.backingStore];
  const newFinal = driver.locate(spec, ctx.containerDir);
  const existing = await locateCurrent(ctx, spec);
  if (existing && !inPlace) throw new AlreadyExists(existing.loc.rootfsPath);
  // A volume the config does not name (an LV, a dataset) is someone's: never written over. In place, the
  // rootfs being replaced may stand where the new one goes, and a store in the container directory goes
  // with it; a volume of another name outside it (a new lvName) must still be free.
  const replaced = inPlace && (newFinal.localRoot !== undefined || existing?.loc.rootfsPath === newFinal.rootfsPath);
  if (!replaced && (await driver.exists(ctx, newFinal))) throw new AlreadyExists(newFinal.rootfsPath);
  const sourceShape = source && inWholeSectors({ store: source.driver.store, ...source.usage, rootfsPath: source.loc.rootfsPath });
  const target = resolveTarget(spec, sourceShape);
  const fill = image ? planUnpack(image, target) : planFill(sourceShape, target);
  await assertSpace(ctx, driver, newFinal, { sizeBytes: target.size ?? 0, dataBytes: bytesWritten(fill) });
  const layered = driver.lowerOf !== undefined;
  const idmap = await idmapFor(ctx, spec, driver);
  const mount = spec.idmapMode === "mount";
  if (mount && !idmap) throw new InvalidInput("idmapMode", "mount", `${MOUNT_NEEDS_IDMAP}; neither gives one`);
  if (mount) await assertIdmappable(newFinal);
  // A user's own idmapped-mount line (ours goes with the swap) would map owners this create shifts a second time.
  const own = configuredIdmapMode(await readContainerConfig(ctx.containerDir));
  if (!mount && idmap && own.mode === "mount" && !own.ours)
    throw new InvalidInput(
      "idmapMode",
      "shift",
      `mount here: ${own.file} has LXC mount the rootfs idmapped (lxc.rootfs.options with idmap=container), which would map the owners a shift puts in the map a second time`,
    );
  const made = describeCreate(target, layered ? newFinal.path : newFinal.rootfsPath, fill, sourceShape, layered);
  const shift = mount
    ? `; its owners kept, LXC mounting it idmapped into ${idmapLabel(idmap)} (lxc.rootfs.options = idmap=container)`
    : idmap && (preview && source ? await shiftOfSource(ctx, source, idmap) : `; its owners then shifted into ${idmapLabel(idmap)}`);
  const summary = shift ? `${made}${shift}` : made;
  const bytesToMove = fill.strategy === "clone" ? fill.copyBytes : fill.bytesToMove;
  return { driver, newFinal, fill, plan: { strategy: fill.strategy, bytesToMove, summary }, idmap, mount };
}

/**
 * What `create` would make, checked against the host as it is now by the create's own preparation; nothing
 * is changed, not even a lock file (the create checks again under its lock). Null while an interrupted
 * operation awaits recovery (the create recovers first).
 */
export async function planCreate(spec: RootfsSpec, opts: OperationOptions): Promise<CreatePlan | null> {
  const filling = await precheck(spec, opts, false);
  if (await hasJournal(spec)) return null;
  return withOperation(spec, opts, async (ctx) => (await prepareCreate(ctx, spec, filling, { preview: true })).plan, {
    readOnly: true,
  });
}

/**
 * The create half of a replacement in place (a new image, deleted first): planCreate as if the rootfs there
 * were gone. The room it counts is the host's now, with the old rootfs still on it. The old rootfs is
 * deleted right after this check at up, so the image is had now, not after: an image by URL is fetched into
 * the host's cache here, at a preview too, and the old rootfs is never deleted for one that cannot be had.
 */
export async function planCreateInPlace(spec: RootfsSpec, opts: OperationOptions): Promise<CreatePlan | null> {
  const filling = await precheck(spec, opts, true);
  if (await hasJournal(spec)) return null;
  return withOperation(spec, opts, async (ctx) => (await prepareCreate(ctx, spec, filling, { inPlace: true, preview: true })).plan, {
    readOnly: true,
  });
}

export async function create(spec: RootfsSpec, opts: OperationOptions): Promise<CreateResult> {
  const containerDir = containerDirOf(spec);
  // An image may be a long fetch: a rootfs already there is refused before it, not after. (The create
  // checks again under its lock.)
  const existing = spec.source !== undefined ? await locateCurrent(readOnlyContext(spec, opts), spec) : null;
  if (existing) throw new AlreadyExists(existing.loc.rootfsPath);
  // Its plan line is shown to no one: a local image with no sha256 to check is hashed as it is unpacked.
  const filling = await precheck(spec, opts, true, true);
  const dirExisted = await fs.lstat(containerDir).then(
    () => true,
    () => false,
  );
  try {
    return await withOperation(
      spec,
      opts,
      async (ctx) => {
        await recoverInterrupted(ctx, requestedNames(ctx, spec, spec));
        const { driver, newFinal, fill, idmap, mount } = await prepareCreate(ctx, spec, filling);
        let filled: Filled = { method: "none" };
        await buildAndSwap(ctx, {
          newDriver: driver,
          newFinal,
          build: async (built) => {
            filled = await buildStore(ctx, driver, built, fill, filling);
            // On the new store, before the swap: a shift stopped midway goes with it. Mounted idmapped, none.
            if (idmap && !mount) await shiftStore(ctx, { driver, loc: built, fstype: fill.target.fstype ?? null }, "owner", idmap);
          },
          // With the config's commit: never a rootfs the config names without the mount it needs.
          idmappedMount: mount,
        });
        const shifted = idmap ? { idmap: spec.idmap ?? idmapEntriesOf(idmap) } : {};
        return { ...(await observeAt(ctx, spec, driver, newFinal, true)), ...filled, ...shifted };
      },
      { createDir: true },
    );
  } catch (e) {
    if (!dirExisted) await removeEmptyDir(containerDir);
    throw e;
  }
}
