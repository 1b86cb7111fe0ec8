/**
 * The container's LXC config: only `lxc.rootfs.path` (and the comment above it) is ours, and, for
 * `idmapMode: "mount"`, one `lxc.rootfs.options = idmap=container` under a comment of ours. Every other
 * line is kept as it is, and the file is replaced atomically so LXC never reads half of it. It is read the
 * way LXC reads it (lxc-confile.ts), includes and all.
 */
import path from "path";
import { InvalidInput, Unsafe } from "../model/errors";
import { Idmap, idmapFromLxcConfig } from "../model/idmap";
import { IdmapMode } from "../model/requests";
import { configLines, entriesOf, lastEntry, LxcConfig, lxcBool, parseConfigLine, readLxcConfig, textEntries } from "./lxc-confile";
import { readSmallFile, removeFile, writeFileAtomically } from "./paths";

const HEADER = "# lxc.rootfs.path is managed by lxc-rootfs (pulumi-lxc)";
/**
 * Above a line naming storage destroy removed. LXC refuses to start a container whose rootfs is missing;
 * with no `lxc.rootfs.path` at all it would run the container on the host's own `/`.
 */
const DESTROYED =
  "# lxc-rootfs (pulumi-lxc) destroyed the rootfs this line names: LXC will not start this container until it names another";
/** Above the option line of ours: only a line under it is ours to remove (a user's own option line is not). */
const MOUNT_HEADER = "# lxc.rootfs.options is managed by lxc-rootfs (pulumi-lxc): idmapMode mount, LXC's idmapped rootfs";
const IDMAPPED_OPTION = "idmap=container";
const MOUNT_LINE = `lxc.rootfs.options = ${IDMAPPED_OPTION}`;
const OUR_COMMENTS = [HEADER, DESTROYED, MOUNT_HEADER];

export function configPath(containerDir: string): string {
  return path.join(containerDir, "config");
}

/** The config text, null when there is none; a symlink, FIFO or device in its place is refused. */
export async function readConfig(containerDir: string): Promise<string | null> {
  return readSmallFile(configPath(containerDir));
}

/** The container's config as LXC reads it, includes expanded; null when there is none. */
export async function readContainerConfig(containerDir: string): Promise<LxcConfig | null> {
  return readLxcConfig(configPath(containerDir));
}

/** The last value of `key` in one config text, read as LXC reads a line (its includes are not followed). */
export function configValue(text: string | null, key: string): string | undefined {
  return lastEntry({ entries: textEntries(text ?? "", "") }, key)?.value;
}

/** What the config says of the rootfs: the string LXC uses, and whether destroy left it as a marker. */
export interface ConfiguredRootfs {
  value: string;
  /** The storage it names was destroyed by lxc-rootfs: there is no rootfs, and LXC refuses to start. */
  destroyed: boolean;
}

/** `lxc.rootfs.path` as LXC takes it (the last one wins; an empty one clears it); undefined when none. */
export function configuredRootfs(config: LxcConfig | null): ConfiguredRootfs | undefined {
  const entry = lastEntry(config, "lxc.rootfs.path");
  if (!entry || entry.value === "") return undefined;
  return { value: entry.value, destroyed: entry.previous === DESTROYED };
}

/**
 * Whether the storage is the container's to delete: `lxc.rootfs.managed` as LXC parses it (`00`, `0x0`,
 * ` 0` and an included `= 0` all mean no). A value LXC rejects makes LXC refuse the whole config: it is
 * refused here too, so nothing is deleted on a guess.
 */
export function isManaged(config: LxcConfig | null): boolean {
  let managed = true;
  for (const entry of entriesOf(config, "lxc.rootfs.managed")) {
    const value = lxcBool(entry.value, true);
    if (value === null) {
      throw new Unsafe(
        `refusing to use ${config!.file}: LXC rejects lxc.rootfs.managed = ${JSON.stringify(entry.value)} in ${entry.file} ` +
          "(it takes 0 or 1) and will not load the config; nothing was changed",
      );
    }
    managed = value;
  }
  return managed;
}

/**
 * The id map the config gives the container: its `lxc.idmap` lines as liblxc reads them (includes too, an
 * empty one clearing those before it); null when there are none, a privileged container. A line LXC would
 * not load makes LXC refuse the whole config: refused here too, naming the file.
 */
export function configuredIdmap(config: LxcConfig | null): Idmap | null {
  try {
    return idmapFromLxcConfig(entriesOf(config, "lxc.idmap").map((e) => e.value));
  } catch (e) {
    if (!(e instanceof InvalidInput)) throw e;
    throw new Unsafe(`refusing to use ${config!.file}: ${e.message}; nothing was changed`);
  }
}

/**
 * How the config has LXC fit the rootfs to its map: "mount" where the `lxc.rootfs.options` LXC uses (the
 * last) asks for an idmapped rootfs; `ours` when that line is the one this tool wrote, which it may remove.
 */
export function configuredIdmapMode(config: LxcConfig | null): { mode: IdmapMode; ours: boolean; file?: string } {
  const entry = lastEntry(config, "lxc.rootfs.options");
  if (!entry?.value.split(",").includes(IDMAPPED_OPTION)) return { mode: "shift", ours: false };
  return { mode: "mount", ours: entry.previous === MOUNT_HEADER, file: entry.file };
}

/** Whether a config text holds our option line (under our comment). */
function hasOurMountLine(text: string): boolean {
  return text.split("\n").some((line, i, all) => line === MOUNT_LINE && all[i - 1] === MOUNT_HEADER);
}

/** Whether a line of the config file is one this tool writes: our comments, or an `lxc.rootfs.path` line. */
function isOurs(line: string): boolean {
  if (OUR_COMMENTS.includes(line)) return true;
  // LXC also splits at \r: a line hiding a second setting behind one is ours if either piece is.
  return configLines(line).some((piece) => {
    const parsed = parseConfigLine(piece);
    return typeof parsed === "object" && parsed.key === "lxc.rootfs.path";
  });
}

/** The lines of a config text that are not ours, trailing blank lines dropped. LXC never reads past a NUL. */
function othersOf(text: string): string[] {
  const nul = text.indexOf("\0");
  const all = (nul < 0 ? text : text.slice(0, nul)).split("\n");
  // Our option line is ours only under our comment.
  const lines = all.filter((l, i) => !isOurs(l) && !(l === MOUNT_LINE && all[i - 1] === MOUNT_HEADER));
  while (lines.length && lines[lines.length - 1].trim() === "") lines.pop();
  return lines;
}

/**
 * A config text whose `lxc.rootfs.path` is `rootfsPath`, every other line kept. Ours goes last: LXC keeps
 * the last value, so no included file read before it can override it. `mount`: whether our
 * `lxc.rootfs.options = idmap=container` follows it; unset, it stays as the text has it.
 */
export function withRootfsPath(text: string, rootfsPath: string, comment = HEADER, mount = hasOurMountLine(text)): string {
  if (/[\r\n\0]/.test(rootfsPath)) throw new Unsafe(`refusing to write ${JSON.stringify(rootfsPath)} into a config: it holds a line break`);
  const lines = othersOf(text);
  const option = mount ? [MOUNT_HEADER, MOUNT_LINE] : [];
  return [...lines, ...(lines.length ? [""] : []), comment, `lxc.rootfs.path = ${rootfsPath}`, ...option].join("\n") + "\n";
}

/** Points the config at `rootfsPath`; `mount` writes (true) or removes (false) our idmapped-mount option, unset keeps it. */
export async function setRootfsPath(containerDir: string, rootfsPath: string, mount?: boolean): Promise<void> {
  const text = (await readConfig(containerDir)) ?? "";
  await writeFileAtomically(configPath(containerDir), withRootfsPath(text, rootfsPath, HEADER, mount));
}

/**
 * Writes (true) or removes (false) our `lxc.rootfs.options = idmap=container`, the config's
 * `lxc.rootfs.path` kept: an update's change of idmapMode, the rootfs staying where it is.
 */
export async function setIdmappedMount(containerDir: string, mount: boolean): Promise<void> {
  const text = (await readConfig(containerDir)) ?? "";
  const rootfsPath = configValue(text, "lxc.rootfs.path");
  if (!rootfsPath)
    throw new Unsafe(
      `refusing to write lxc.rootfs.options into ${configPath(containerDir)}: it names no lxc.rootfs.path. Nothing was changed.`,
    );
  await writeFileAtomically(configPath(containerDir), withRootfsPath(text, rootfsPath, HEADER, mount));
}

/**
 * After destroy: no config is left that LXC would start on the host's `/`. A config holding only our lines
 * goes; any other keeps a line naming the storage that was removed (`removed`, a string LXC refuses to
 * start from), under a comment saying so, which inspect and create read as "no rootfs".
 */
export async function markRootfsDestroyed(containerDir: string, removed: string): Promise<void> {
  const text = await readConfig(containerDir);
  if (text === null) return;
  if (othersOf(text).every((l) => l.trim() === "")) {
    await removeFile(containerDir, configPath(containerDir));
    return;
  }
  // The idmapped mount of a rootfs that is gone goes with it.
  await writeFileAtomically(configPath(containerDir), withRootfsPath(text, removed, DESTROYED, false));
}

/**
 * The roll-back of a create: the config goes back to naming no live rootfs. A config holding only our
 * lines goes; a line of ours naming the store being rolled back becomes a destroyed marker (the store is
 * gone, and LXC must not start on the host's `/`); a marker, or a config that named no rootfs, is kept.
 */
export async function clearRootfsPath(containerDir: string): Promise<void> {
  const text = await readConfig(containerDir);
  if (text === null) return;
  if (othersOf(text).every((l) => l.trim() === "")) {
    await removeFile(containerDir, configPath(containerDir));
    return;
  }
  const current = configuredRootfs({ file: configPath(containerDir), entries: textEntries(text, "") });
  if (current && !current.destroyed)
    await writeFileAtomically(configPath(containerDir), withRootfsPath(text, current.value, DESTROYED, false));
}
