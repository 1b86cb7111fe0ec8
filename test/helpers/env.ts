/**
 * Shared test environment. Every test here runs for real: as root, with loop devices, mounts and LXC.
 * A missing prerequisite fails the run (it is never skipped): see global-setup.ts.
 */
import { ChildProcess, spawn } from "child_process";
import { createHash } from "crypto";
import { promises as fs } from "fs";
import os from "os";
import path from "path";
import { utils } from "ssh2";
import type { CreateResult, DestroyResult, UpdateResult } from "../../provider/src/model/results";

export const REPO = path.resolve(__dirname, "..", "..");
export const CLI = path.join(REPO, "bin", "lxc-rootfs.js");
/** Every path a test makes lives under this prefix; global-teardown checks nothing is left attached. */
export const TEST_PREFIX = path.join(os.tmpdir(), "pulumi-lxc-test");

export async function tempDir(label: string): Promise<string> {
  await fs.mkdir(TEST_PREFIX, { recursive: true });
  return fs.mkdtemp(path.join(TEST_PREFIX, `${label}-`));
}

/**
 * An ed25519 key pair that ssh2 parses: the OpenSSH private key (encrypted when `encryption` says how)
 * and the public key line "ssh-ed25519 BASE64". ssh2's generateKeyPairSync strips the leading zero
 * bytes of the 32-byte public key, so about one pair in 256 carries a short one that ssh2 and sshd refuse
 * (mscdex/ssh2#1513); such a pair is made again.
 */
export function ed25519KeyPair(encryption?: { passphrase: string; cipher: string; rounds: number }): { private: string; public: string } {
  for (let attempt = 0; attempt < 16; attempt++) {
    const pair = utils.generateKeyPairSync("ed25519", encryption);
    if (!(utils.parseKey(pair.public) instanceof Error) && !(utils.parseKey(pair.private, encryption?.passphrase) instanceof Error))
      return pair;
  }
  throw new Error("ssh2 made 16 ed25519 key pairs in a row that it cannot parse");
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export function sh(argv: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** sh that must succeed. */
export async function must(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<string> {
  const r = await sh(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** What `lxc-rootfs` prints: one of the core's results, typed as all of them so that a test reads the field it expects. */
export type CliJson = CreateResult & UpdateResult & DestroyResult;

/** Runs the real `lxc-rootfs` CLI in its own process. */
export async function cli(args: string[], env?: NodeJS.ProcessEnv): Promise<Ran & { json: CliJson | undefined }> {
  const r = await sh([process.execPath, CLI, ...args], { env });
  let json: CliJson | undefined;
  try {
    json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  } catch {
    json = undefined;
  }
  return { ...r, json };
}

/** cli that must succeed. */
export async function cliOk(args: string[], env?: NodeJS.ProcessEnv): Promise<CliJson> {
  const r = await cli(args, env);
  if (r.code !== 0) throw new Error(`lxc-rootfs ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.json as CliJson;
}

/** A content fingerprint of a tree: paths, types, modes, owners, sizes, link targets and file hashes. */
export async function treeDigest(root: string): Promise<string> {
  const hash = createHash("sha256");
  async function walk(dir: string, rel: string): Promise<void> {
    const entries = (await fs.readdir(dir)).filter((e) => rel !== "" || e !== "lost+found").sort();
    for (const name of entries) {
      const p = path.join(dir, name);
      const r = path.join(rel, name);
      const st = await fs.lstat(p);
      hash.update(`${r}\0${st.mode}\0${st.uid}\0${st.gid}\0`);
      if (st.isSymbolicLink()) hash.update(`L${await fs.readlink(p)}\0`);
      else if (st.isDirectory()) await walk(p, r);
      else if (st.isFile())
        hash.update(
          createHash("sha256")
            .update(await fs.readFile(p))
            .digest("hex"),
        );
    }
  }
  await walk(root, "");
  return hash.digest("hex");
}

/** A small tree with the things a copy must keep: a hard link, a symlink, a sparse file, odd modes. */
export async function makeSampleTree(root: string, bigMiB = 4): Promise<void> {
  await fs.mkdir(path.join(root, "etc"), { recursive: true });
  await fs.writeFile(path.join(root, "etc", "marker"), "the data survives\n");
  await fs.writeFile(path.join(root, "etc", "secret"), "0600\n", { mode: 0o600 });
  await fs.link(path.join(root, "etc", "marker"), path.join(root, "etc", "marker.hardlink"));
  await fs.symlink("/etc/marker", path.join(root, "marker.symlink"));
  const big = Buffer.alloc(bigMiB * 2 ** 20);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i ^ 0x5a5a5a5a, i);
  await fs.writeFile(path.join(root, "big.bin"), big);
  const sparse = await fs.open(path.join(root, "sparse.img"), "w");
  await sparse.write("start", 0);
  await sparse.write("end", 64 * 2 ** 20);
  await sparse.close();
  await fs.chown(path.join(root, "etc", "secret"), 1234, 5678);
}

export async function allocatedBytes(p: string): Promise<number> {
  return (await fs.stat(p)).blocks * 512;
}

export async function blkidType(p: string): Promise<string> {
  return (await must(["blkid", "-o", "value", "-s", "TYPE", p])).trim();
}

/** A btrfs filesystem in a loop image, mounted (with `options`, e.g. noacl); for the btrfs store and reflink tests. */
export async function mountScratchBtrfs(label: string, size = "1G", options = "loop"): Promise<{ dir: string; release(): Promise<void> }> {
  const base = await tempDir(label);
  const img = path.join(base, "btrfs.img");
  const dir = path.join(base, "mnt");
  await fs.mkdir(dir);
  await must(["truncate", "-s", size, img]);
  await must(["mkfs.btrfs", "-q", "-f", img]);
  await must(["mount", "-o", options, img, dir]);
  return {
    dir,
    async release() {
      await must(["umount", dir]);
      await fs.rm(base, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `fn` on a loop image's filesystem, mounted read-only by the test itself (not by the code under
 * test) inside a private mount namespace held by a process of its own: the host namespace never holds
 * the mount, so a test that times out or fails mid-read cannot leave it behind, and when the holder
 * dies the kernel drops the mount and its autoclear loop device. `fn` reads it through /proc/PID/root.
 */
export async function withImageMounted<T>(image: string, scratchParent: string, fn: (root: string) => Promise<T>): Promise<T> {
  const mp = await fs.mkdtemp(path.join(scratchParent, ".look-"));
  const holder = spawn(
    "unshare",
    ["--mount", "--propagation", "private", "sh", "-c", 'mount -o loop,ro "$1" "$2" && echo mounted && exec sleep 600', "sh", image, mp],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const exited = new Promise<void>((resolve) => holder.on("close", () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      let stderr = "";
      holder.stderr!.on("data", (d) => (stderr += d));
      holder.stdout!.on("data", (d) => String(d).includes("mounted") && resolve());
      holder.on("error", reject);
      holder.on("close", (code) => reject(new Error(`mount -o loop,ro ${image} exited ${code}: ${stderr}`)));
    });
    return await fn(path.join(`/proc/${holder.pid}/root`, mp));
  } finally {
    holder.kill("SIGKILL");
    await exited;
    await waitForLoopRelease(image);
    await fs.rmdir(mp);
  }
}

/** The kernel detaches an autoclear loop device after its last mount goes, which is not at once. */
async function waitForLoopRelease(image: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (!(await must(["losetup", "-j", image])).trim()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`a loop device over ${image} is still attached 5 s after its mount namespace ended`);
}

/** The tree digest of a loop image's filesystem. */
export function imageDigest(image: string, scratchParent: string): Promise<string> {
  return withImageMounted(image, scratchParent, treeDigest);
}

export interface Started {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: string | null; stderr: string }>;
}

/** Starts the CLI without waiting for it: a test kills it in the middle, or waits on what it announces. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Started {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, done };
}

/**
 * Sets environment variables of this process (what the core, run in it, and the tools and engines it
 * starts read), and returns what puts them back as they were.
 */
export function setEnv(vars: Record<string, string>): () => void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/** Waits for a file to appear: what a stand-in tool touches once it runs. */
export async function waitForFile(file: string, timeoutMs = 60000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (
      await fs.stat(file).then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${file}`);
}

/** An lxcPath `real` under `parent` and a symlink `link` to it: two spellings of one directory. */
export async function symlinkedLxcPath(parent: string): Promise<{ real: string; link: string }> {
  const real = path.join(parent, "real");
  const link = path.join(parent, "link");
  await fs.mkdir(real);
  await fs.symlink(real, link);
  return { real, link };
}
