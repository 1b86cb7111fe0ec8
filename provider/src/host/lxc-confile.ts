/**
 * A container config read as liblxc 5.0 reads it (src/lxc/confile.c `parse_line`, parse.c): the text ends
 * at its first NUL and splits into lines at every \r and \n; blank lines, `#` comments and lines that do
 * not start with `lxc.` are skipped; key and value lose their blanks (space, tab) and one pair of matching
 * quotes; `lxc.include` is read where it stands, and the last value of a key wins. What LXC would refuse to
 * load is refused here, never guessed: every key this project reads (`lxc.rootfs.path`,
 * `lxc.rootfs.managed`, later `lxc.idmap`) is read through this one reader.
 */
import { promises as fs } from "fs";
import path from "path";
import { Unsafe } from "../model/errors";
import { lstatOrNull, readSmallFile } from "./paths";

/** One `key = value` line, where it was read. */
export interface ConfigEntry {
  key: string;
  value: string;
  /** The file holding the line: the config itself, or a file it includes. */
  file: string;
  /** The line before it in its file (a comment that qualifies it), if any. */
  previous?: string;
}

export interface LxcConfig {
  /** The container's config file. */
  file: string;
  /** Every setting in the order LXC applies them, included files expanded in place. */
  entries: readonly ConfigEntry[];
}

/** LXC has no limit and loops forever on a file that includes itself; a real config nests two or three deep. */
const MAX_INCLUDE_DEPTH = 16;
/** The files one config may pull in, all told: a bound on what a planted include directory costs us. */
const MAX_INCLUDED_FILES = 256;

/** The lines LXC's `lxc_file_for_each_line_mmap` hands on: up to the first NUL, split at \r or \n, none empty. */
export function configLines(text: string): string[] {
  const nul = text.indexOf("\0");
  return (nul < 0 ? text : text.slice(0, nul)).split(/[\r\n]+/).filter((l) => l !== "");
}

export type ParsedLine = { key: string; value: string } | "skip" | "invalid";

/** One line as `parse_line` takes it; "invalid" is a line LXC refuses the whole config for. */
export function parseConfigLine(raw: string): ParsedLine {
  if (/^[ \t\n\r\f]*$/.test(raw)) return "skip";
  const line = raw.replace(/^[ \t]+/, "");
  // A comment, or a "martian" line LXC ignores.
  if (line.startsWith("#") || !line.startsWith("lxc.")) return "skip";
  const eq = line.indexOf("=");
  if (eq < 0) return "invalid";
  const key = line.slice(0, eq).replace(/[ \t]+$/, "");
  let value = line
    .slice(eq + 1)
    .replace(/^[ \t]+/, "")
    .replace(/[ \t]+$/, "");
  const q = value[0];
  if ((q === "'" || q === '"') && value.length > 1 && value.endsWith(q)) value = value.slice(1, -1);
  return { key, value };
}

/** The settings of one config text, without following its includes (a snapshot's config, a text about to be written). */
export function textEntries(text: string, file: string): ConfigEntry[] {
  const entries: ConfigEntry[] = [];
  let previous: string | undefined;
  for (const raw of configLines(text)) {
    const parsed = parseConfigLine(raw);
    if (typeof parsed === "object") entries.push({ ...parsed, file, previous });
    previous = raw;
  }
  return entries;
}

/** The last entry of `key`, the one LXC uses. */
export function lastEntry(config: Pick<LxcConfig, "entries"> | null, key: string): ConfigEntry | undefined {
  const all = config?.entries ?? [];
  for (let i = all.length - 1; i >= 0; i--) if (all[i].key === key) return all[i];
  return undefined;
}

/** Every entry of `key`, in the order LXC applies them. */
export function entriesOf(config: Pick<LxcConfig, "entries"> | null, key: string): ConfigEntry[] {
  return (config?.entries ?? []).filter((e) => e.key === key);
}

/**
 * LXC's `set_config_bool_item` over `lxc_safe_uint`: an empty value is `empty`; otherwise, after C
 * whitespace, an unsigned integer in C's base 0 (`0x` hex, leading-0 octal, decimal; `+` allowed, `-`
 * not) that must be 0 or 1. Null for a value LXC rejects (`false`, `no`, `2`, `-0`, `0x`, `08`).
 */
export function lxcBool(value: string, empty: boolean): boolean | null {
  if (value === "") return empty;
  const m = /^[ \t\n\v\f\r]*\+?(?:0[xX]([0-9a-fA-F]+)|0([0-7]*)|([1-9][0-9]*))$/.exec(value);
  if (!m) return null;
  // Leading zeros change no value in any base: what is left is the number's own digits.
  const digits = (m[1] ?? m[2] ?? m[3]).replace(/^0+/, "");
  return digits === "" ? false : digits === "1" ? true : null;
}

class Reading {
  readonly entries: ConfigEntry[] = [];
  private files = 0;
  constructor(readonly config: string) {}

  refuse(why: string): never {
    throw new Unsafe(`refusing to use ${this.config}: LXC could not load it (${why}); nothing was changed`);
  }

  async text(file: string, text: string, depth: number): Promise<void> {
    let previous: string | undefined;
    for (const raw of configLines(text)) {
      const parsed = parseConfigLine(raw);
      if (parsed === "invalid") this.refuse(`${file} has a line with no "=": ${JSON.stringify(raw)}`);
      if (parsed !== "skip") {
        this.entries.push({ ...parsed, file, previous });
        if (parsed.key === "lxc.include" && parsed.value !== "") await this.include(file, parsed.value, depth + 1);
      }
      previous = raw;
    }
  }

  /** `set_config_includefiles`: a directory (named so by a trailing '/', or being one) or a file. */
  private async include(from: string, target: string, depth: number): Promise<void> {
    if (!path.isAbsolute(target))
      this.refuse(`${from} includes ${target}, a relative path, which LXC reads from the working directory of whoever starts it`);
    if (depth > MAX_INCLUDE_DEPTH) this.refuse(`its includes nest deeper than ${MAX_INCLUDE_DEPTH} files (a loop?)`);
    const bare = target.replace(/(.)\/+$/, "$1");
    const st = await lstatOrNull(bare);
    if (st?.isSymbolicLink()) this.refuse(`${from} includes ${target}, a symbolic link, which is not followed here`);
    if (!target.endsWith("/") && !st?.isDirectory()) return this.file(from, target, depth);
    // LXC skips a missing directory, and reads a directory's *.conf in the order readdir gives them (not sorted).
    if (!st) return;
    if (!st.isDirectory()) this.refuse(`${from} includes ${target}, which is not a directory`);
    for await (const entry of await fs.opendir(bare)) {
      if (entry.name.length < 6 || !entry.name.endsWith(".conf")) continue;
      await this.file(from, path.join(bare, entry.name), depth);
    }
  }

  private async file(from: string, file: string, depth: number): Promise<void> {
    if (++this.files > MAX_INCLUDED_FILES) this.refuse(`it includes more than ${MAX_INCLUDED_FILES} files`);
    // Read, never written: a file outside the container directory (/usr/share/lxc/config/…) is fine.
    const text = await readSmallFile(file);
    if (text === null) this.refuse(`${from} includes ${file}, which does not exist`);
    await this.text(file, text, depth);
  }
}

/**
 * The config at `file` as LXC reads it, its includes expanded; null when there is none. Refuses (Unsafe) a
 * config LXC would not load for a reason this reader can see (an include missing, a line with no `=`), and
 * one it cannot read the way LXC would (a relative include, a symlink, includes without end).
 */
export async function readLxcConfig(file: string): Promise<LxcConfig | null> {
  const text = await readSmallFile(file);
  if (text === null) return null;
  const reading = new Reading(file);
  await reading.text(file, text, 0);
  return { file, entries: reading.entries };
}
