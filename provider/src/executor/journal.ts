/**
 * The journals that let the next operation finish or undo what a killed one left half-done: the swap's
 * (swap.ts) and a snapshot's (snapshot-store.ts), kept in the container's work directory.
 */
import { promises as fs } from "fs";
import path from "path";
import { Unsafe } from "../model/errors";
import { ContainerRef, containerDirOf } from "../model/requests";
import { Location, OpContext } from "../drivers/types";
import { lstatOrNull, readSmallFile, writeFileAtomically } from "../host/paths";
import { ensureWorkDir, WORK_DIR } from "./context";

/** The journal of a swap in progress (see swap.ts). */
export interface Journal {
  phase: "building" | "swapping" | "cleanup";
  built: Location;
  newFinal: Location;
  oldFinal?: Location;
  oldParked?: Location;
}

/** The swap's journal; a snapshot in progress has its own (see snapshot-store.ts). */
export function journalPath(containerDir: string, name = "journal.json"): string {
  return path.join(containerDir, WORK_DIR, name);
}

/** Whether an operation on this container was interrupted (its journal is still there). */
export async function hasJournal(spec: ContainerRef): Promise<boolean> {
  const file = journalPath(containerDirOf(spec));
  const dir = await lstatOrNull(path.dirname(file));
  if (!dir) return false;
  // A symlinked work directory would make an outside file pass for our journal.
  if (!dir.isDirectory()) throw new Unsafe(`refusing to use ${path.dirname(file)}: it is not a directory (a symbolic link?)`);
  return (await lstatOrNull(file)) !== null;
}

export async function writeJournal<T = Journal>(ctx: OpContext, journal: T, name?: string): Promise<void> {
  const file = journalPath(ctx.containerDir, name);
  await ensureWorkDir(path.dirname(file));
  await writeFileAtomically(file, JSON.stringify(journal), 0o600);
}

export async function readJournal<T = Journal>(ctx: OpContext, name?: string): Promise<T | null> {
  const file = journalPath(ctx.containerDir, name);
  const text = await readSmallFile(file);
  if (text === null) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Unsafe(`refusing to resume from ${file}: it is not a journal this tool wrote`);
  }
}

export async function clearJournal(ctx: OpContext, name?: string): Promise<void> {
  await fs.rm(journalPath(ctx.containerDir, name), { force: true });
}
