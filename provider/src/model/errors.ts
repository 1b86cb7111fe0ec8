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
    super(
      `no space on ${where}: needs ${formatBytes(neededBytes)}, ${formatBytes(availableBytes)} available. Nothing was changed.`,
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

/** A refusal that protects data: a path outside the container, a symlink, adopted storage. */
export class Unsafe extends RootfsError {}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]} (${n} bytes)`;
}
