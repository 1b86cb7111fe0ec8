/**
 * The container's LXC config: only `lxc.rootfs.path` is ours. Every other line is kept as it is, and the
 * file is replaced atomically so LXC never reads half of it.
 */
import { promises as fs } from "fs";
import path from "path";
import { readSmallFile, writeFileAtomically } from "./paths";

const HEADER = "# lxc.rootfs.path is managed by lxc-rootfs (pulumi-lxc)";

export function configPath(containerDir: string): string {
  return path.join(containerDir, "config");
}

/** The config text, null when there is none; a symlink, FIFO or device in its place is refused. */
export async function readConfig(containerDir: string): Promise<string | null> {
  return readSmallFile(configPath(containerDir));
}

/** The last value of `key` in an LXC config text (later lines win, as in LXC). */
export function configValue(text: string | null, key: string): string | undefined {
  let value: string | undefined;
  for (const line of (text ?? "").split("\n")) {
    const m = /^\s*([A-Za-z0-9_.]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m && m[1] === key) value = m[2];
  }
  return value;
}

/** `lxc.rootfs.managed = 0` marks storage that LXC (and we) must never delete. */
export function isManaged(text: string | null): boolean {
  const v = configValue(text, "lxc.rootfs.managed");
  return v === undefined || v !== "0";
}

function withoutKey(text: string, key: string): string[] {
  return text.split("\n").filter((line) => {
    const m = /^\s*([A-Za-z0-9_.]+)\s*=/.exec(line);
    return !(m && m[1] === key) && line !== HEADER;
  });
}

/** A config text whose `lxc.rootfs.path` is `rootfsPath`, every other line kept. */
export function withRootfsPath(text: string, rootfsPath: string): string {
  const lines = withoutKey(text, "lxc.rootfs.path");
  while (lines.length && lines[lines.length - 1] === "") lines.pop();
  return [HEADER, `lxc.rootfs.path = ${rootfsPath}`, ...lines].join("\n") + "\n";
}

export async function setRootfsPath(containerDir: string, rootfsPath: string): Promise<void> {
  const text = (await readConfig(containerDir)) ?? "";
  await writeFileAtomically(configPath(containerDir), withRootfsPath(text, rootfsPath));
}

/** Removes our line; deletes the file when nothing else was in it (we created it). */
export async function clearRootfsPath(containerDir: string): Promise<void> {
  const text = await readConfig(containerDir);
  if (text === null) return;
  const lines = withoutKey(text, "lxc.rootfs.path");
  if (lines.every((l) => l.trim() === "")) {
    await fs.unlink(configPath(containerDir));
  } else {
    await writeFileAtomically(configPath(containerDir), lines.join("\n"));
  }
}
