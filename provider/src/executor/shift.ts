/**
 * A shift of a store's owners from one id map to another, for an unprivileged container: every inode's
 * owner and group, its ACLs' named ids and its capability's root moved by the maps (model/owner-rewrite.ts),
 * its device nodes kept as they are (an unprivileged container binds the host's /dev over its own). Always in
 * the isolated helper: the walk is synchronous, to come near `chown -R`'s own speed, so it blocks the
 * process it runs in; and a block store is mounted for it there.
 *
 * A shift stopped midway (killed, out of space for an xattr) leaves a tree partly in each map, and the same
 * shift run again would move the shifted part twice (its ids are outside `from`: lost). So a shift runs on
 * a store nothing else has yet (a create's new store, removed if it fails), or under a journal that says
 * which map each part is in.
 */
import { promises as fs } from "fs";
import { DRIVERS, OpContext } from "../drivers";
import { shiftTreeSync } from "../host/shift-tree";
import { Idmap, idmapLabel, toHost } from "../model/idmap";
import { RootfsError, Unsafe } from "../model/errors";
import { ownerRewrite } from "../model/owner-rewrite";
import { countOf, ProgressMeter } from "../model/progress";
import { FilesEnd } from "./copy";
import { IsolatedTask, runIsolated } from "./isolated";
import { withMountedStore } from "./mount";
import { mountsUnder } from "../host/mounts";

export interface ShiftResult {
  /** Inodes visited, each once. */
  inodes: number;
  /** Inodes whose owner, ACL or capability was written. */
  changed: number;
  /** Ids a map leaves out, now the overflow id (owners, groups, ACL entries, capabilities). */
  lost: number;
}

/**
 * Shifts the files of `end` (made, and not in use) from map `from` to map `to`; null is the identity.
 * `from` "owner": the map its root directory's owner says: host root's (a privileged tree, an image), or
 * `to` already (a copy of a rootfs in that map: nothing to do); another owner is refused, its map unknown.
 */
export async function shiftStore(ctx: OpContext, end: FilesEnd, from: Idmap | null | "owner", to: Idmap | null): Promise<ShiftResult> {
  const { shifted } = await runIsolated(ctx, {
    kind: "shift",
    containerDir: ctx.containerDir,
    dst: { store: end.driver.store, loc: end.loc, fstype: end.fstype },
    from,
    to,
  });
  if (!shifted) throw new RootfsError("internal: the shift gave no counts");
  return shifted;
}

/** The map a tree is in, by its root directory's owner: host root's (null), `to`'s ("there"), or refused. */
async function mapByOwner(root: string, shown: string, to: Idmap | null): Promise<Idmap | null | "there"> {
  const { uid, gid } = await fs.lstat(root);
  if (uid === 0 && gid === 0) return null;
  if (uid === toHost(to, "uid", 0) && gid === toHost(to, "gid", 0)) return "there";
  throw new RootfsError(
    `${shown} is owned by ${uid}:${gid}, root neither on the host nor in idmap (${idmapLabel(to)}): the map its files are in is not known, so they are not shifted. Nothing was changed.`,
  );
}

/** The shift, inside the isolated helper: the store mounted for the call, the walk, the new owners flushed. */
export async function shiftMounted(ctx: OpContext, task: Extract<IsolatedTask, { kind: "shift" }>): Promise<ShiftResult> {
  const driver = DRIVERS[task.dst.store];
  return withMountedStore(ctx, driver, task.dst.loc, task.dst.fstype, false, async (root) => {
    // A mount inside the store is not the store's to shift, and a walk that stopped there would leave a
    // tree half in each map: refused before anything is written.
    const inside = (await mountsUnder(root)).filter((mp) => mp !== root);
    if (inside.length)
      throw new Unsafe(`${task.dst.loc.rootfsPath} has mounts inside (${inside.slice(0, 5).join(", ")}): its owners are not shifted`);
    const from = task.from === "owner" ? await mapByOwner(root, task.dst.loc.rootfsPath, task.to) : task.from;
    if (from === "there") return { inodes: 0, changed: 0, lost: 0 };
    const rewrite = ownerRewrite(from, task.to);
    // The walk blocks this process's timers: it calls back as it goes, and the meter says when a line is due.
    const meter = new ProgressMeter(
      `shifting owners to ${idmapLabel(task.to)}`,
      Date.now(),
      null,
      false,
      undefined,
      undefined,
      countOf("inodes"),
    );
    const counts = shiftTreeSync(root, { ...rewrite, keep: ["char", "block"] }, (inodes) => {
      const line = meter.sample(Date.now(), inodes);
      if (line) ctx.progress(line);
    });
    // One mounted since the check above: the walk did not enter it.
    if (counts.otherFilesystems.length)
      throw new Unsafe(
        `${task.dst.loc.rootfsPath} holds other filesystems (${counts.otherFilesystems.slice(0, 5).join(", ")}), which a shift of its owners does not enter`,
      );
    await ctx.run(["sync", "-f", root]);
    return { inodes: counts.inodes, changed: counts.changed, lost: rewrite.lost() };
  });
}
