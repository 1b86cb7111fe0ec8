/**
 * What an update does about how the rootfs fits its id map (`idmapMode`). Shift: the owners on disk are in
 * the map. Mount: they are a privileged rootfs's, and the config has LXC mount it idmapped
 * (`lxc.rootfs.options = idmap=container`). A change of mode is a shift in place between the map and none,
 * then the config's option line: in that order, so that a run killed between the two leaves the config
 * saying the mode the owners were in, which the next update reads and finishes from.
 */
import { InvalidInput, RootfsError } from "../model/errors";
import { IdmapEntry, idmapEntriesOf } from "../model/idmap";
import { ContainerRef, RootfsChange, Store } from "../model/requests";
import { DRIVERS, OpContext, storesWhere } from "../drivers";
import { configuredIdmap, configuredIdmapMode, readContainerConfig } from "../host/lxc-config";
import { idmappedRootfsOnly, MOUNT_NEEDS_IDMAP } from "../planner/target";
import { assertIdmappable } from "./guards";
import { Current } from "./observe";

export interface ModeChange {
  /** A shift of the owners on disk: from the map the record says they are in, to `to`; unset: none asked. */
  shift?: { recorded: IdmapEntry[] | undefined; to: IdmapEntry[] };
  /** The config's option line written (true) or removed (false); unset: kept. */
  idmappedMount?: boolean;
  /** The map the rootfs fits after the update, for the record, when the update says one. */
  idmap?: IdmapEntry[];
}

/**
 * The change of the owners and the config an update makes for `change`, on `store` (the one it ends on),
 * from the mode the config says now. The mode the change leaves out is kept; mount needs a store LXC mounts
 * idmapped, on a filesystem that can idmap, and a map: the change's, the recorded one, or the config's.
 */
export async function planModeChange(
  ctx: OpContext,
  current: Current,
  ref: ContainerRef,
  change: RootfsChange,
  store: Store,
): Promise<ModeChange> {
  const config = await readContainerConfig(ctx.containerDir);
  const now = configuredIdmapMode(config);
  const wanted = change.idmapMode ?? now.mode;
  // Read only when the mode needs it: an update of another property never reads the config's lxc.idmap.
  const mapOf = (): IdmapEntry[] | undefined => {
    if (change.idmap !== undefined) return change.idmap;
    if (ref.recordedIdmap?.length) return ref.recordedIdmap;
    const configured = configuredIdmap(config);
    return configured ? idmapEntriesOf(configured) : undefined;
  };
  const map = wanted === "mount" || wanted !== now.mode ? mapOf() : change.idmap;
  if (wanted === "mount") {
    if (!DRIVERS[store].caps.idmappedMount) {
      const stores = storesWhere((d) => d.caps.idmappedMount).join(" or ");
      throw new InvalidInput("idmapMode", "mount", `shift for ${store}, or keep the rootfs on ${stores}: ${idmappedRootfsOnly(stores)}`);
    }
    if (!map?.length) throw new InvalidInput("idmapMode", "mount", `${MOUNT_NEEDS_IDMAP}; none is given, recorded or configured`);
    await assertIdmappable(current.loc);
  }
  if (wanted === now.mode) {
    // Mounted idmapped, the owners stay a privileged rootfs's whatever the map: only the record changes. Found
    // shifted under the mount (by hand, or a kill's leftover), they go back to none from the map their root says.
    if (wanted === "mount")
      return { shift: { recorded: undefined, to: [] }, ...(change.idmap !== undefined ? { idmap: change.idmap } : {}) };
    return change.idmap !== undefined ? { shift: { recorded: ref.recordedIdmap, to: change.idmap }, idmap: change.idmap } : {};
  }
  if (wanted === "mount") return { shift: { recorded: ref.recordedIdmap, to: [] }, idmappedMount: true, idmap: map };
  if (!now.ours)
    throw new RootfsError(
      `${now.file} asks for LXC's idmapped rootfs (lxc.rootfs.options with idmap=container) in a line lxc-rootfs did not write: remove it by hand for idmapMode shift. Nothing was changed.`,
    );
  return { shift: { recorded: [], to: map ?? [] }, idmappedMount: false, ...(map ? { idmap: map } : {}) };
}
