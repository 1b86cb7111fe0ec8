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
import { InodeShift, ShiftCounts, shiftTreeSync, Special } from "../host/shift-tree";
import { shiftCapability } from "../model/xattr-ids";
import { Idmap, idmapLabel, toHost } from "../model/idmap";
import { RootfsError, Unsafe } from "../model/errors";
import { ownerRewrite, ownerSurvey } from "../model/owner-rewrite";
import { IdsSeen } from "../model/shift-passes";
import { countOf, ProgressMeter } from "../model/progress";
import { FilesEnd } from "./copy";
import { IsolatedTask, runIsolated } from "./isolated";
import { withMountedStore } from "./mount";
import { mountsUnder } from "../host/mounts";
import { killedMidway } from "./failpoint";

export interface ShiftResult {
  /** Inodes visited, each once. */
  inodes: number;
  /** Inodes whose owner, ACL or capability was written. */
  changed: number;
  /** Ids a map leaves out, now the overflow id (owners, groups, ACL entries, capabilities). */
  lost: number;
}

/**
 * An inode a chown strips (a setuid or setgid bit, a capability), as a survey found it before a shift in
 * place: by its key (Statx.key), its mode, its capability in hex. The last pass sets them back, shifted.
 */
export interface SpecialInode {
  key: string;
  mode: number;
  capability: string | null;
}

/** What a survey of a store's files found, before a shift in place decides its passes or refuses. */
export interface TreeSurvey {
  /** Inodes visited, each once. */
  inodes: number;
  /** The distinct ids the tree holds (device nodes left out: a shift keeps them). */
  seen: IdsSeen;
  /** The owner of its root directory: container root's host ids in the map the tree is in. */
  root: { uid: number; gid: number };
  special: SpecialInode[];
}

/** What the last pass of a shift in place sets back: the survey's inodes, as a shift from `from` to `to` makes them. */
export interface Restore {
  inodes: SpecialInode[];
  from: Idmap | null;
  to: Idmap | null;
}

/**
 * Shifts the files of `end` (made, and not in use) from map `from` to map `to`; null is the identity.
 * `from` "owner": the map its root directory's owner says: host root's (a privileged tree, an image), or
 * `to` already (a copy of a rootfs in that map: nothing to do); another owner is refused, its map unknown.
 * A pass of a shift in place (`inPlace`) keeps the ids already shifted (model/shift-passes.ts), and its last
 * sets back what a chown strips.
 */
export async function shiftStore(
  ctx: OpContext,
  end: FilesEnd,
  from: Idmap | null | "owner",
  to: Idmap | null,
  inPlace?: { restore?: Restore },
): Promise<ShiftResult> {
  const { shifted } = await runIsolated(ctx, {
    kind: "shift",
    containerDir: ctx.containerDir,
    dst: dstOf(end),
    from,
    to,
    resume: inPlace !== undefined,
    restore: inPlace?.restore,
  });
  if (!shifted) throw new RootfsError("internal: the shift gave no counts");
  return shifted;
}

/**
 * Reads every inode of `end`'s files, changing nothing: the ids they hold, their root's owner, what a chown
 * would strip. A `preview`'s leaves out a file removed under it; a shift's stops, as what it records of the
 * tree must be whole.
 */
export async function surveyStore(ctx: OpContext, end: FilesEnd, preview = false): Promise<TreeSurvey> {
  const { survey } = await runIsolated(ctx, { kind: "survey", containerDir: ctx.containerDir, dst: dstOf(end), preview });
  if (!survey) throw new RootfsError("internal: the survey gave no counts");
  return survey;
}

const dstOf = (end: FilesEnd) => ({ store: end.driver.store, loc: end.loc, fstype: end.fstype });

/** The map a tree is in, by its root directory's owner: host root's (null), `to`'s ("there"), or refused. */
export async function mapByOwner(root: string, shown: string, to: Idmap | null): Promise<Idmap | null | "there"> {
  const { uid, gid } = await fs.lstat(root);
  if (uid === 0 && gid === 0) return null;
  if (uid === toHost(to, "uid", 0) && gid === toHost(to, "gid", 0)) return "there";
  throw new RootfsError(
    `${shown} is owned by ${uid}:${gid}, root neither on the host nor in idmap (${idmapLabel(to)}): the map its files are in is not known, so they are not shifted. Nothing was changed.`,
  );
}

type WalkTask = Extract<IsolatedTask, { kind: "shift" | "survey" }>;

/**
 * Mounts the store's files for the call (read-only for a survey) and gives `fn` its root and a walk of it.
 * A mount inside is not the store's to shift, and a walk that stopped there would leave a tree half in each
 * map: refused before anything is read or written, and after, when one was mounted meanwhile.
 */
async function withWalk<T>(
  ctx: OpContext,
  task: WalkTask,
  what: { done: string; doing: string },
  fn: (root: string, walk: (t: InodeShift) => ShiftCounts) => Promise<T>,
): Promise<T> {
  const shown = task.dst.loc.rootfsPath;
  const readOnly = task.kind === "survey";
  return withMountedStore(ctx, DRIVERS[task.dst.store], task.dst.loc, task.dst.fstype, readOnly, async (root) => {
    const inside = (await mountsUnder(root)).filter((mp) => mp !== root);
    if (inside.length) throw new Unsafe(`${shown} has mounts inside (${inside.slice(0, 5).join(", ")}): its owners are not ${what.done}`);
    return fn(root, (t) => {
      // The walk blocks this process's timers: it calls back as it goes, and the meter says when a line is due.
      const meter = new ProgressMeter(what.doing, Date.now(), null, false, undefined, undefined, countOf("inodes"));
      const counts = shiftTreeSync(root, { ...(readOnly ? t : withFailpoints(t)), keep: ["char", "block"] }, (inodes) => {
        const line = meter.sample(Date.now(), inodes);
        if (line) ctx.progress(line);
      });
      if (counts.otherFilesystems.length)
        throw new Unsafe(
          `${shown} holds other filesystems (${counts.otherFilesystems.slice(0, 5).join(", ")}), which the walk did not enter`,
        );
      return counts;
    });
  });
}

/**
 * The reliability tests' kills inside a walk: `shift-midway` at the n-th inode (LXC_ROOTFS_FAILPOINT_AFTER),
 * `shift-chowned` right after the first chown of an inode whose setuid bit or capability it strips, before
 * the walk sets it back.
 */
function withFailpoints(t: InodeShift): InodeShift {
  // Not a call more an inode otherwise: the walk's speed is the shift's.
  if (!["shift-midway", "shift-chowned"].includes(process.env.LXC_ROOTFS_FAILPOINT ?? "")) return t;
  const midway = killedMidway("shift-midway", 50);
  const chowned = killedMidway("shift-chowned", 1);
  return {
    ...t,
    uid: (id) => (midway(), t.uid(id)),
    isLost: (kind, id) => (chowned(), t.isLost?.(kind, id) ?? false),
    ...(t.capability ? { capability: (v: Buffer) => (chowned(), t.capability!(v)) } : {}),
  };
}

/** The shift, inside the isolated helper: the store mounted for the call, the walk, the new owners flushed. */
export async function shiftMounted(ctx: OpContext, task: Extract<IsolatedTask, { kind: "shift" }>): Promise<ShiftResult> {
  return withWalk(ctx, task, { done: "shifted", doing: `shifting owners to ${idmapLabel(task.to)}` }, async (root, walk) => {
    const from = task.from === "owner" ? await mapByOwner(root, task.dst.loc.rootfsPath, task.to) : task.from;
    if (from === "there") return { inodes: 0, changed: 0, lost: 0 };
    const rewrite = ownerRewrite(from, task.to, { resume: task.resume });
    const counts = walk({ ...rewrite, restore: task.restore && restorer(task.restore) });
    await ctx.run(["sync", "-f", root]);
    return { inodes: counts.inodes, changed: counts.changed, lost: rewrite.lost() };
  });
}

/** The survey, inside the isolated helper: the store mounted read-only, every inode read, nothing written. */
export async function surveyMounted(ctx: OpContext, task: Extract<IsolatedTask, { kind: "survey" }>): Promise<TreeSurvey> {
  return withWalk(ctx, task, { done: "surveyed", doing: "surveying owners" }, async (root, walk) => {
    const { uid, gid } = await fs.lstat(root);
    const survey = ownerSurvey();
    const special: SpecialInode[] = [];
    const counts = walk({
      ...survey,
      survey: task.preview === true,
      remember: (key, mode, capability) => special.push({ key, mode, capability: capability && capability.toString("hex") }),
    });
    return { inodes: counts.inodes, seen: survey.seen(), root: { uid, gid }, special };
  });
}

/** The inodes a last pass sets back, by key: their mode, and their capability shifted once, from the first map to the last. */
function restorer({ inodes, from, to }: Restore): (key: string) => Special | undefined {
  const byKey = new Map<string, Special>();
  for (const { key, mode, capability } of inodes) {
    const value = capability === null ? null : shiftCapability(Buffer.from(capability, "hex"), from, to).value;
    byKey.set(key, { mode, capability: value });
  }
  return (key) => byKey.get(key);
}
