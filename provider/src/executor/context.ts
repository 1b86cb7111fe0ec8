/**
 * The context of one operation on one container: its one identity (the canonical container directory,
 * held open), its lock, its scratch directory, and the journal that lets the next operation undo whatever
 * a killed one left half-done.
 */
import { randomBytes } from "crypto";
import { promises as fs } from "fs";
import path from "path";
import { InvalidInput, Unsafe } from "../model/errors";
import { ContainerRef, containerDirOf, LXC_PATH_ALLOWED } from "../model/requests";
import { OpContext } from "../drivers/types";
import { assertStillHeld, Held, holdDirectory, releaseHold } from "../host/held";
import { withContainerLock } from "../host/lock";
import { mountsUnder, unmount } from "../host/mounts";
import { actAnywhere, canonicalPath, lstatOrNull, removeEmptyDir } from "../host/paths";
import { run as realRun, Runner } from "../host/run";
import { racepoint } from "./failpoint";

export const WORK_DIR = ".lxc-rootfs";

export interface OperationOptions {
  /** Replaces the command runner (tests of the exact LVM and ZFS commands). */
  run?: Runner;
  log?: (message: string) => void;
  /** Lines saying how far long work is (executor/progress.ts), every few seconds while it runs. */
  progress?: (line: string) => void;
}

/** One container, as the request spelled it and as it is on the host. */
export interface ResolvedContainer {
  /** `<lxcPath>/<container>` as given: what messages and outputs say. */
  givenDir: string;
  /** The lxcPath through every symlink (of the part that exists). */
  lxcPath: string;
  /** `<canonical lxcPath>/<container>`: what the lock, the guards and every comparison use. */
  containerDir: string;
}

/** Filesystems of the kernel's own (statfs f_type) that no container directory can live on. */
const KERNEL_FS = new Map<number, string>([
  [0x9fa0, "proc"],
  [0x62656572, "sysfs"],
  [0x27e0eb, "cgroup"],
  [0x63677270, "cgroup2"],
  [0x64626720, "debugfs"],
  [0x74726163, "tracefs"],
  [0x73636673, "securityfs"],
  [0x1cd1, "devpts"],
]);

/**
 * Resolves the lxcPath once, at the edge: a symlinked lxcPath (`/var/lib/lxc` on another disk) and every
 * other spelling of it lead to one canonical directory. A value no container directory can live under is
 * refused as the input it is, before anything is touched.
 */
export async function resolveContainer(spec: ContainerRef): Promise<ResolvedContainer> {
  const bad = (why: string) => new InvalidInput("lxcPath", spec.lxcPath, `${LXC_PATH_ALLOWED}; ${why}`);
  const found = await canonicalPath(spec.lxcPath).catch((e: NodeJS.ErrnoException) => {
    throw bad(e.code === "ENAMETOOLONG" ? "it is too long" : e.code === "ELOOP" ? "its symbolic links loop" : (e.code ?? e.message));
  });
  if (!found.existingStat.isDirectory()) throw bad(`${found.existing} is not a directory`);
  const top = found.canonical.split("/")[1];
  if (["proc", "sys", "dev"].includes(top)) throw bad(`it resolves to ${found.canonical}, under /${top}`);
  const kernel = KERNEL_FS.get((await fs.statfs(found.existing)).type);
  if (kernel) throw bad(`${found.existing} is on ${kernel}, a kernel filesystem`);
  return { givenDir: containerDirOf(spec), lxcPath: found.canonical, containerDir: path.join(found.canonical, spec.container) };
}

const resolvedOf = new WeakMap<OpContext, ResolvedContainer>();

function withDirs(ctx: OpContext, dirs: ResolvedContainer): OpContext {
  resolvedOf.set(ctx, dirs);
  return ctx;
}

/** The spellings of an operation's container directory: the given one matters to LXC's own tools. */
export function spellingsOf(ctx: OpContext): string[] {
  const dirs = resolvedOf.get(ctx);
  return dirs && dirs.givenDir !== dirs.containerDir ? [ctx.containerDir, dirs.givenDir] : [ctx.containerDir];
}

/** The container directory held open, or null when it does not exist (nothing there to protect yet). */
async function holdIfPresent(dirs: ResolvedContainer): Promise<Held | null> {
  const held = await holdDirectory(dirs.containerDir, dirs.givenDir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return null;
    throw e;
  });
  if (held) held.beforeStep = (step) => racepoint(step, dirs.containerDir);
  return held;
}

/**
 * Runs `fn` holding the container's lock and its directory open, after recovering from any interrupted
 * earlier operation. Every path the context hands out is canonical; destructive steps reach it through
 * the open directory (host/held.ts), so a rename and a symlink swapped in mid-operation cannot redirect
 * them, and the operation fails instead of reporting success.
 */
export async function withOperation<T>(
  spec: ContainerRef,
  opts: OperationOptions,
  fn: (ctx: OpContext) => Promise<T>,
  { createDir = false, readOnly = false } = {},
): Promise<T> {
  const dirs = await resolveContainer(spec);
  const { containerDir } = dirs;
  return withContainerLock(
    containerDir,
    async () => {
      if (createDir && !readOnly) {
        await fs.mkdir(dirs.lxcPath, { recursive: true, mode: 0o755 });
        await fs.mkdir(containerDir, { mode: 0o750 }).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== "EEXIST") throw e;
        });
      }
      const held = await holdIfPresent(dirs);
      try {
        if (readOnly) return await fn(withDirs(readOnlyContext({ ...spec, lxcPath: dirs.lxcPath }, opts), dirs));
        const workDir = path.join(containerDir, WORK_DIR);
        await releaseLeftovers(workDir);
        try {
          const result = await fn(withDirs(makeContext(containerDir, opts), dirs));
          if (held) await assertStillHeld(held);
          return result;
        } finally {
          await removeEmptyDir(workDir).catch(() => undefined);
        }
      } finally {
        if (held) await releaseHold(held);
      }
    },
    { create: !readOnly },
  );
}

/**
 * The runner an operation uses: a subvolume delete, the one destructive step a driver spawns on a path
 * in the container directory, goes through the held directory as the file steps do (host/paths.ts).
 */
function guardedRunner(run: Runner): Runner {
  return (argv, o) => {
    if (argv[0] === "btrfs" && argv[1] === "subvolume" && argv[2] === "delete" && argv.length === 4) {
      return actAnywhere(argv[3], "btrfs-delete", (q) => run([...argv.slice(0, 3), q], o));
    }
    return run(argv, o);
  };
}

/** The context of an operation on `containerDir`: scratch mount points live in its work directory. */
export function makeContext(containerDir: string, opts: OperationOptions): OpContext {
  const workDir = path.join(containerDir, WORK_DIR);
  return {
    run: guardedRunner(opts.run ?? realRun),
    containerDir,
    log: opts.log ?? (() => undefined),
    progress: opts.progress ?? (() => undefined),
    async scratchDir(label) {
      await ensureWorkDir(workDir);
      const dir = path.join(workDir, `${label}-${randomBytes(4).toString("hex")}`);
      await fs.mkdir(dir, { mode: 0o700 });
      return dir;
    },
  };
}

/** A context for reads and checks: it can run tools but has no scratch space, so it cannot mount. */
export function readOnlyContext(spec: ContainerRef, opts: OperationOptions): OpContext {
  return {
    run: guardedRunner(opts.run ?? realRun),
    containerDir: containerDirOf(spec),
    log: opts.log ?? (() => undefined),
    progress: opts.progress ?? (() => undefined),
    scratchDir: () => Promise.reject(new Error("internal: a read-only operation asked for a mount point")),
  };
}

/** The work directory, made if missing; a planted symlink there must not lead our mkdir and rmdir elsewhere. */
export async function ensureWorkDir(workDir: string): Promise<void> {
  await fs.mkdir(workDir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "EEXIST") throw e;
  });
  if (!(await fs.lstat(workDir)).isDirectory()) throw new Unsafe(`refusing to use ${workDir}: it is not a directory (a symbolic link?)`);
}

/** Unmounts what a killed operation left mounted in the scratch directory; autoclear then frees its loops. */
async function releaseLeftovers(workDir: string): Promise<void> {
  const st = await lstatOrNull(workDir);
  if (!st) return;
  if (!st.isDirectory()) throw new Unsafe(`refusing to use ${workDir}: it is not a directory (a symbolic link?)`);
  for (const mp of await mountsUnder(workDir)) await unmount(mp);
  for (const entry of await fs.readdir(workDir)) {
    const p = path.join(workDir, entry);
    if ((await fs.lstat(p)).isDirectory()) await removeEmptyDir(p);
  }
}
