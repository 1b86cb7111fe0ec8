import { formatBytes } from "./bytes";

/**
 * Typed errors that say what a user can do. Each adapter maps them its own way: the CLI to an exit code
 * and stderr, the Pulumi providers to check failures or engine errors.
 */
export class RootfsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A property of the request is wrong; nothing was touched. */
export class InvalidInput extends RootfsError {
  constructor(
    readonly property: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`${property}: invalid value ${JSON.stringify(value) ?? String(value)}: ${allowed}`);
  }
}

/** `from` names nothing on the host: no rootfs, no volume, no directory there. */
export class SourceMissing extends InvalidInput {
  constructor(value: unknown) {
    super("from", value, "an existing rootfs; nothing is there");
  }
}

/** The storage is mounted or its container is running. */
export class InUse extends RootfsError {
  constructor(
    readonly path: string,
    readonly why: string,
  ) {
    super(`${path} is in use (${why}); stop the container or unmount it first. Nothing was changed.`);
  }
}

export class NoSpace extends RootfsError {
  constructor(
    readonly where: string,
    readonly neededBytes: number,
    readonly availableBytes: number,
  ) {
    super(`no space on ${where}: needs ${formatBytes(neededBytes)}, ${formatBytes(availableBytes)} available. Nothing was changed.`);
  }
}

/**
 * A thin pool ran out of data space while a new volume was filled in it (another volume wrote, or the new
 * filesystem's metadata did not fit). The new volume is gone; nothing else was changed.
 */
export class PoolFull extends RootfsError {
  constructor(
    readonly pool: string,
    readonly poolBytes: number,
    readonly failure: string,
  ) {
    super(
      `the thin pool ${pool} of ${formatBytes(poolBytes)} ran full while the new volume was filled (${failure}). ` +
        "Nothing was changed: the new volume was removed. Extend the pool (lvextend) or free space in it.",
    );
  }
}

export class CannotShrink extends RootfsError {
  constructor(
    readonly fstype: string,
    readonly reason: string,
  ) {
    super(`cannot shrink ${fstype}: ${reason}. Nothing was changed.`);
  }
}

/** Creating over storage that already exists is refused, never overwritten. */
export class AlreadyExists extends RootfsError {
  constructor(readonly path: string) {
    super(`${path} already exists; refusing to overwrite it. Destroy it first or pick another container name.`);
  }
}

export class NotFound extends RootfsError {
  constructor(readonly what: string) {
    super(`${what} does not exist`);
  }
}

/** A rootfs with snapshots is not destroyed: they would be left without their container (lxc-destroy refuses too). */
export class HasSnapshots extends RootfsError {
  constructor(
    readonly containerDir: string,
    readonly names: string[],
  ) {
    super(
      `${containerDir} has snapshots ${names.join(", ")}: destroy them first (their RootfsSnapshot resources, or lxc-snapshot -d). Nothing was changed.`,
    );
  }
}

/** An external tool (mkfs, cp, btrfs, ...) failed. */
export class ToolFailed extends RootfsError {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    const tail = stderr.trim().split("\n").slice(-5).join("\n");
    super(`${argv.join(" ")} failed (${exitCode === null ? "killed" : `exit ${exitCode}`})${tail ? `: ${tail}` : ""}`);
  }
}

/**
 * A block store shorter than the filesystem it holds (an image truncated by hand, an LV reduced under its
 * filesystem): what lay past its end is gone, and a copy or resize would carry the damage on as if whole.
 */
export class CutShort extends RootfsError {
  constructor(
    readonly path: string,
    readonly deviceBytes: number,
    readonly filesystemBytes: number,
  ) {
    super(
      `${path} is ${formatBytes(deviceBytes)}, shorter than the ${formatBytes(filesystemBytes)} filesystem it holds: it was cut short, ` +
        "and what lay past its end is lost. Nothing was changed. Restore it from a backup, or extend it to the filesystem's size " +
        "and check the filesystem (e2fsck -f, xfs_repair, btrfs check) before using it.",
    );
  }
}

/** A refusal that protects data: a path outside the container, a symlink, adopted storage. */
export class Unsafe extends RootfsError {}

/** A remote host that could not be reached within the connection's dial limits; nothing was asked of it. */
export class Unreachable extends RootfsError {
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(message);
  }
}

/** A system call failed; `code` is the errno name, like Node's own fs errors, so callers can test it. */
export class SyscallError extends RootfsError {
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly code: string,
    detail: string,
  ) {
    super(`${syscall}(${detail}) failed: ${code}`);
  }
}

/**
 * Errors cross process boundaries as plain data (the mount helper, and the agent of a remote host): a
 * JSON object with the class name, the message and the class's fields. Decoding gives back the same
 * class with the same fields and message; a name that is not one of these comes back as a RootfsError.
 */
const CLASSES = new Map<string, new (...args: never[]) => RootfsError>(
  [
    RootfsError,
    InvalidInput,
    SourceMissing,
    InUse,
    NoSpace,
    PoolFull,
    CannotShrink,
    CutShort,
    AlreadyExists,
    NotFound,
    HasSnapshots,
    ToolFailed,
    Unsafe,
    Unreachable,
    SyscallError,
  ].map((c) => [c.name, c]),
);

export type ErrorJSON = { name: string; message: string } & Record<string, unknown>;

export function errorToJSON(e: unknown): ErrorJSON {
  if (!(e instanceof Error)) return { name: "RootfsError", message: String(e) };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (k !== "stack" && k !== "name" && k !== "message") fields[k] = v;
  const { code } = e as NodeJS.ErrnoException;
  if (code !== undefined) fields.code = code;
  return { ...fields, name: CLASSES.has(e.name) ? e.name : "RootfsError", message: e.message };
}

export function errorFromJSON(json: ErrorJSON): RootfsError {
  const cls = CLASSES.get(String(json.name)) ?? RootfsError;
  const e = Object.create(cls.prototype) as RootfsError;
  Object.defineProperty(e, "message", { value: String(json.message), writable: true, configurable: true });
  // As the constructors leave them: message own and hidden, name own and enumerable, then the fields.
  const fields = e as unknown as Record<string, unknown>;
  fields.name = cls.name;
  for (const [k, v] of Object.entries(json)) {
    if (k !== "name" && k !== "message" && k !== "__proto__" && k !== "constructor") fields[k] = v;
  }
  Error.captureStackTrace?.(e, errorFromJSON);
  return e;
}
