/**
 * A shift of a rootfs that exists, in place: the update that makes a privileged rootfs unprivileged, or
 * moves one to another map, keeping its data. Killed anywhere, the next operation on the container finishes
 * it from its journal, so a rootfs is never left partly in each map:
 * - a survey reads every inode first, changing nothing: a root owned by neither map's root, or an id the
 *   new map leaves out, is refused before anything is written;
 * - the passes (model/shift-passes.ts) each keep what they already shifted, so a pass run again moves
 *   each id once; the journal says which pass runs;
 * - what a chown strips (setuid and setgid bits, the capability the kernel drops) is recorded in the
 *   journal before the first write, and the last pass sets it back on every inode it was found on.
 */
import { promises as fs } from "fs";
import { isBlock, OpContext } from "../drivers";
import { configuredIdmap, readContainerConfig } from "../host/lxc-config";
import { readSuperblock } from "../host/superblock";
import { ShiftPlan } from "../model/plans";
import { Current } from "./observe";
import { InvalidInput, RootfsError } from "../model/errors";
import { FSTYPE_VALUES } from "../model/enums.generated";
import { IdKind, Idmap, IdmapEntry, idmapEntriesOf, idmapLabel, idmapOf, idShift, sameIdmap, toHost } from "../model/idmap";
import { Fstype } from "../model/requests";
import { isShifted, lostIds, ShiftPass, shiftPasses } from "../model/shift-passes";
import { FilesEnd } from "./copy";
import { failpoint } from "./failpoint";
import { assertNotInUse } from "./guards";
import {
  clearJournal,
  JournalFile,
  journalRefused,
  locationField,
  locationProblem,
  Owner,
  ownerOf,
  readJournal,
  SHIFT_JOURNAL,
  writeJournal,
} from "./journal";
import { shiftStore, SpecialInode, surveyStore, TreeSurvey } from "./shift";

const KINDS: readonly IdKind[] = ["uid", "gid"];

/** The most setuid, setgid or capable inodes a journal carries (about 100 bytes each, in a journal read only up to 1 MiB). */
export const MAX_SPECIAL = 5000;

/** A shift in place as its journal holds it: the passes, the one that runs, what the last sets back. */
interface ShiftJob {
  end: FilesEnd;
  passes: ShiftPass[];
  pass: number;
  special: SpecialInode[];
}

/** Whether a root owned by `root` is container root's in `map`. */
const rootIn = (root: { uid: number; gid: number }, map: Idmap | null) =>
  root.uid === toHost(map, "uid", 0) && root.gid === toHost(map, "gid", 0);

/** The maps a rootfs may be in, as a line names them. */
const labels = (maps: (Idmap | null)[]) => [...new Set(maps.map(idmapLabel))].join(", or ");

/**
 * Judges a survey before a shift writes anything, and says which map the tree is in: the one of
 * `candidates` whose container root owns its root ("there" when `to`'s does: an earlier run finished
 * after its caller stopped listening). No id may be lost.
 */
function judgeSurvey(end: FilesEnd, survey: TreeSurvey, candidates: (Idmap | null)[], to: Idmap | null): Idmap | null | "there" {
  const { root } = survey;
  const from = candidates.find((m) => rootIn(root, m));
  if (from === undefined) {
    if (rootIn(root, to)) return "there";
    throw new RootfsError(
      `${end.loc.rootfsPath} has its root owned by ${root.uid}:${root.gid}, container root neither in the map it is taken to be in (${labels(candidates)}) nor in idmap (${idmapLabel(to)}): the map its files are in is not known, so they are not shifted. Nothing was changed.`,
    );
  }
  const lost = lostIds(from, to, survey.seen);
  if (lost.length)
    throw new InvalidInput(
      "idmap",
      idmapLabel(to),
      `a map that maps every id of this rootfs: its owners, groups, ACL entries or capabilities hold ${lost.length} host id${lost.length === 1 ? "" : "s"} that ${idmapLabel(from)} and this map do not both map (${lost.slice(0, 5).join(", ")}${lost.length > 5 ? ", …" : ""}), which would become nobody's. Nothing was changed`,
    );
  return from;
}

/** What a chown strips must fit the journal, which carries it to the last pass. */
function refuseTooManySpecial(end: FilesEnd, survey: TreeSurvey): void {
  if (survey.special.length > MAX_SPECIAL)
    throw new RootfsError(
      `${end.loc.rootfsPath} has ${survey.special.length} setuid, setgid or capable files, more than the ${MAX_SPECIAL} a shift in place records to set back: not shifted. Nothing was changed.`,
    );
}

/** A shift in place surveyed and judged, ready to run: null when nothing is to do. */
export interface ReadyShift {
  job: ShiftJob | null;
  /** The inodes surveyed; "there" when the owners were in `to` already. */
  inodes: number | "there";
}

/**
 * Surveys and judges the rootfs at `end` (not in use) for a shift to `to`, in place, from the one of
 * `candidates` (the maps it may be in) its root's owner says; writes nothing, so an update judges it before
 * any other step (a resize) it makes. Only the rootfs the config names: the journal is checked against it.
 */
export async function readyShiftInPlace(
  ctx: OpContext,
  end: FilesEnd,
  candidates: (Idmap | null)[],
  to: Idmap | null,
): Promise<ReadyShift> {
  if ((await ownerOf(ctx)).configured !== end.loc.rootfsPath)
    throw new RootfsError(
      `the container's config names no lxc.rootfs.path, or another: a shift in place is journaled against the rootfs the config names, so set lxc.rootfs.path = ${end.loc.rootfsPath} in it first. Nothing was changed.`,
    );
  const survey = await surveyStore(ctx, end);
  const from = judgeSurvey(end, survey, candidates, to);
  if (from === "there") return { job: null, inodes: "there" };
  refuseTooManySpecial(end, survey);
  const passes = shiftPasses(from, to, survey.seen);
  return { job: passes.length ? { end, passes, pass: 0, special: survey.special } : null, inodes: survey.inodes };
}

/** Runs a shift in place that readyShiftInPlace judged, journaled pass by pass. */
export async function runShiftInPlace(ctx: OpContext, { job }: ReadyShift): Promise<void> {
  if (job) await runPasses(ctx, job);
}

/**
 * Shifts a new store an update just filled (a move to another store) to `to`, before the swap: one pass,
 * unjournaled (a store nothing else has yet, removed if the update fails), after the same checks but the
 * journal's limit: its one pass sets back what each chown strips as it goes.
 */
export async function shiftFresh(ctx: OpContext, end: FilesEnd, { candidates, to }: Pick<ShiftPlan, "candidates" | "to">): Promise<void> {
  const survey = await surveyStore(ctx, end);
  const from = judgeSurvey(end, survey, candidates, to);
  if (from !== "there") await shiftStore(ctx, end, from, to);
}

/** Whether the rootfs's files are a tree of the host's own, read without mounting anything (dir, btrfs). */
const readableInPlace = ({ driver, loc }: Current) => driver.kind === "tree" && loc.localRoot !== undefined;

/**
 * The maps a rootfs may be in now: the one its record says (`recorded`), else host root's or the config's
 * lxc.idmap. Where its root's owner can be read without mounting (dir, btrfs), the one that owner is the
 * root of ("there" when it is `to`'s root already), or refused when it fits none. The update checks again
 * with the survey before it writes.
 */
async function mapsNow(
  ctx: OpContext,
  current: Current,
  recorded: IdmapEntry[] | undefined,
  to: Idmap | null,
): Promise<(Idmap | null)[] | "there"> {
  const configured = recorded === undefined ? configuredIdmap(await readContainerConfig(ctx.containerDir)) : null;
  const candidates = recorded !== undefined ? [idmapOf(recorded)] : configured ? [null, configured] : [null];
  if (!readableInPlace(current)) return candidates;
  const root = await fs.lstat(current.loc.path);
  const found = candidates.find((m) => rootIn(root, m));
  if (found !== undefined) return [found];
  if (rootIn(root, to)) return "there";
  throw new RootfsError(
    `${current.loc.rootfsPath} has its root owned by ${root.uid}:${root.gid}, container root in none of the maps it may be in (${labels(candidates)}): its owners are not shifted. Set the config's lxc.idmap to the map it is in (a stack: refresh, on dir and btrfs), or shift it back by hand.`,
  );
}

/**
 * A shift of the rootfs's owners to `wanted` as a plan, with its line; null when they are in that map
 * already. `count`: a preview's, which walks a tree it can read without mounting (dir, btrfs) to count its
 * files and judge them as the shift will; a block store's count is its filesystem's tally of inodes.
 */
export async function planShift(
  ctx: OpContext,
  current: Current,
  recorded: IdmapEntry[] | undefined,
  wanted: IdmapEntry[],
  count: boolean,
): Promise<{ plan: ShiftPlan; summary: string } | null> {
  const to = idmapOf(wanted);
  const candidates = await mapsNow(ctx, current, recorded, to);
  if (candidates === "there" || (candidates.length === 1 && sameIdmap(candidates[0], to))) return null;
  const { driver, loc, observed } = current;
  const end = { driver, loc, fstype: observed.fstype };
  let files: number | null = null;
  let tallied = false;
  let how = "";
  if (count && readableInPlace(current)) {
    const survey = await surveyStore(ctx, end, true);
    const from = judgeSurvey(end, survey, candidates, to);
    if (from === "there") return null;
    refuseTooManySpecial(end, survey);
    files = survey.inodes;
    if (shiftPasses(from, to, survey.seen).length > 1) how = " (in two passes: the maps overlap where it has ids)";
  } else if (isBlock(driver)) {
    files = (await readSuperblock(loc.path).catch(() => null))?.usedInodes ?? null;
    tallied = files !== null;
  }
  const counted = files === null ? "its files" : `${tallied ? "about " : ""}${files.toLocaleString("en-US")} files`;
  const from = candidates.length === 1 ? idmapLabel(candidates[0]) : `the map its root's owner says (${labels(candidates)})`;
  return {
    plan: { candidates, to, files, tallied },
    summary: `shift the owners of ${counted} in place from ${from} to ${idmapLabel(to)}${how}`,
  };
}

/** Runs the passes from the one the job is at, the journal saying which before each starts. */
async function runPasses(ctx: OpContext, job: ShiftJob): Promise<void> {
  const { end, passes, special } = job;
  for (let pass = job.pass; pass < passes.length; pass++) {
    await writeJournal(ctx, journalOf({ ...job, pass }), SHIFT_JOURNAL);
    failpoint(`shift:pass-${pass + 1}`);
    const { from, to } = passes[pass];
    const last = pass === passes.length - 1;
    await shiftStore(ctx, end, from, to, { restore: last ? { inodes: special, from: passes[0].from, to } : undefined });
  }
  await clearJournal(ctx, SHIFT_JOURNAL);
}

function journalOf({ end, passes, pass, special }: ShiftJob): object {
  return {
    rootfs: end.loc.rootfsPath,
    fstype: end.fstype,
    passes: passes.map((p) => ({ from: idmapEntriesOf(p.from), to: idmapEntriesOf(p.to) })),
    pass,
    special,
  };
}

const KEY = /^[0-9a-f]{1,16}\/\d+:\d+:-?\d+\.\d+$/;
const HEX = /^(?:[0-9a-f]{2})+$/;

/**
 * The shift journal, checked whole before anything is acted on: the rootfs it names is the one the
 * config names (a shift in place acts on no other), its maps are maps, its pass one of them, its inodes
 * keys, modes and capabilities. Null when there is none.
 */
export async function readShiftJournal(ctx: OpContext, owner: Owner): Promise<ShiftJob | null> {
  const j = await readJournal(ctx, SHIFT_JOURNAL);
  if (!j) return null;
  const refuse = (why: string) => journalRefused(j.file, why);
  const found = locationField(j, "rootfs", ctx.containerDir);
  if (!found) throw refuse("it names no rootfs");
  const problem = await locationProblem(owner, found.loc);
  if (problem) throw refuse(problem);
  if (found.loc.rootfsPath !== owner.configured) throw refuse(`its rootfs ${found.loc.rootfsPath} is not the one the config names`);
  const { fstype } = j.body;
  if (found.driver.kind === "block" ? !FSTYPE_VALUES.includes(fstype as Fstype) : fstype !== null)
    throw refuse(`its fstype ${JSON.stringify(fstype)} is not one for ${found.driver.store}`);
  const passes = passesField(j);
  const { pass, special } = j.body;
  if (typeof pass !== "number" || !Number.isInteger(pass) || pass < 0 || pass >= passes.length)
    throw refuse(`its pass ${JSON.stringify(pass)} is not one of its passes`);
  if (!Array.isArray(special) || special.length > MAX_SPECIAL || !special.every(isSpecial))
    throw refuse("its special inodes are not keys, modes and capabilities");
  return { end: { driver: found.driver, loc: found.loc, fstype: fstype as Fstype | null }, passes, pass, special };
}

function passesField(j: JournalFile): ShiftPass[] {
  const { passes } = j.body;
  if (!Array.isArray(passes) || passes.length < 1 || passes.length > 2) throw journalRefused(j.file, "its passes are not one or two");
  let read: ShiftPass[];
  try {
    read = passes.map((p: { from?: unknown; to?: unknown }) => ({ from: idmapOf(p?.from), to: idmapOf(p?.to) }));
  } catch (e) {
    if (e instanceof InvalidInput) throw journalRefused(j.file, `its passes hold a map that is none: ${e.message}`);
    throw e;
  }
  // Two passes go through a middle map: the second starts where the first ends.
  if (read.length === 2 && !sameIdmap(read[0].to, read[1].from))
    throw journalRefused(j.file, "its second pass does not start from the map its first ends in");
  return read;
}

function isSpecial(v: unknown): v is SpecialInode {
  if (v === null || typeof v !== "object") return false;
  const { key, mode, capability } = v as Record<string, unknown>;
  return (
    typeof key === "string" &&
    KEY.test(key) &&
    typeof mode === "number" &&
    Number.isInteger(mode) &&
    mode >= 0 &&
    mode <= 0o7777 &&
    (capability === null || (typeof capability === "string" && HEX.test(capability) && capability.length <= 64))
  );
}

/** Finishes a shift in place a killed operation left: its passes from the one the journal names. */
export async function finishShift(ctx: OpContext, job: ShiftJob): Promise<void> {
  // Started since (lxc-start after the kill), the container has the rootfs mounted: it is stopped first.
  await assertNotInUse(ctx, job.end.driver, job.end.loc);
  // And it may have written ids of its config's map meanwhile, which the pass would give the overflow id.
  const { from, to } = job.passes[job.pass];
  const shift = idShift(from, to);
  const { seen } = await surveyStore(ctx, job.end);
  const strays = [...new Set(KINDS.flatMap((k) => seen[k].filter((id) => shift[k](id).lost && !isShifted(from, to, k, id))))];
  if (strays.length)
    throw new RootfsError(
      `${job.end.loc.rootfsPath} holds ids its interrupted shift neither moves nor made (${strays.slice(0, 5).join(", ")}${strays.length > 5 ? ", …" : ""}), written since it was interrupted: give those files owners in ${idmapLabel(from)} by hand, then re-run. The journal is kept; nothing was changed.`,
    );
  ctx.log(
    `finishing the shift of ${job.end.loc.rootfsPath}'s owners to ${idmapLabel(job.passes[job.passes.length - 1].to)}, from pass ${job.pass + 1} of ${job.passes.length}`,
  );
  await runPasses(ctx, job);
}
