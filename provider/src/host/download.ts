/**
 * OS images fetched by URL, kept on the host in a cache keyed by their sha256. curl fetches, with the
 * host's proxy settings (HTTPS_PROXY, NO_PROXY) and CA store; the URL reaches it on stdin, never in an argv.
 * A download lands in a private temporary file, is hashed, and only then renamed into the cache: a file
 * under its digest's name has had that digest. The unpack hashes it again as it reads it.
 */
import { randomBytes } from "crypto";
import { promises as fs } from "fs";
import path from "path";
import { InvalidInput, RootfsError, ToolFailed } from "../model/errors";
import { ByteProgress } from "../model/progress";
import { curlUrlConfig, redactedUrl } from "../model/urls";
import { digestOf } from "./digest";
import { Runner } from "./run";

/** Where images are kept: documented among the places outside a container's directory this tool writes. */
export function imageCacheDir(): string {
  return process.env.LXC_ROOTFS_IMAGE_CACHE ?? "/var/cache/lxc-rootfs/images";
}

/** The cache's bound (8 GiB): past it, the least recently used images go, but none used within the hour. */
function cacheBound(): number {
  const given = Number(process.env.LXC_ROOTFS_IMAGE_CACHE_BYTES);
  return Number.isSafeInteger(given) && given > 0 ? given : 8 * 2 ** 30;
}
const IN_USE_MS = 60 * 60 * 1000;

/**
 * A new temporary path in the cache, the cache made private (0700) first when absent: where a fetch writes
 * before its rename. Not made: the caller makes it. A killed run's leftover is swept by evictImages.
 */
export async function newPartPath(kind = ""): Promise<string> {
  const dir = imageCacheDir();
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  return path.join(dir, `.part-${kind}${randomBytes(8).toString("hex")}`);
}

const cachedPath = (hex: string) => path.join(imageCacheDir(), `sha256-${hex}`);

/**
 * The cached image of that sha256, its use recorded (its mtime: what eviction orders by); null when there is
 * none. The caller hashes it before use, and drops it (dropCached) when it no longer has its digest.
 */
export async function cachedImage(hex: string): Promise<string | null> {
  const file = cachedPath(hex);
  const st = await fs.lstat(file).catch(() => null);
  if (!st?.isFile()) return null;
  const now = new Date();
  await fs.utimes(file, now, now);
  return file;
}

export async function dropCached(hex: string): Promise<void> {
  await fs.rm(cachedPath(hex), { force: true });
}

/**
 * curl's failure as the error to throw, with anything of the URL that may be secret taken out of its
 * message (curl rarely repeats it; never trust that); any other error as it is.
 */
function curlFailure(url: string, e: unknown): unknown {
  if (!(e instanceof ToolFailed)) return e;
  let message = e.stderr.trim().split("\n").pop() ?? "";
  const u = new URL(url);
  for (const secret of [url, u.href, u.username, u.password, u.search, u.hash]) {
    if (secret.length > 1) message = message.split(secret).join("…");
  }
  return new RootfsError(
    `fetching the image at ${redactedUrl(url)} failed: ${message || `curl exited ${e.exitCode}`}. Nothing was changed.`,
  );
}

/** curl's options for every request: no ~/.curlrc (-q, first), HTTP(S) only, on redirects too, and no hang. */
const CURL = ["curl", "-q", "--silent", "--show-error", "--location", "--proto", "=http,https", "--proto-redir", "=http,https"];

/**
 * Asks the server for the image without fetching it (a preview): a 2xx's length, or null when it gives none
 * or refuses HEAD (403, 405: a presigned URL signed for GET only is still reached). Any other answer, or none,
 * fails naming the URL as it may be shown.
 */
export async function headImage(run: Runner, url: string): Promise<{ bytes: number | null }> {
  const { stdout } = await run(
    [...CURL, "--head", "--connect-timeout", "15", "--max-time", "30", "--write-out", "\n%{http_code}", "--config", "-"],
    {
      stdin: { text: curlUrlConfig(url) },
    },
  ).catch((e: unknown) => {
    throw curlFailure(url, e);
  });
  const lines = stdout.trim().split(/\r?\n/);
  const code = Number(lines.pop());
  if (code === 403 || code === 405) return { bytes: null };
  if (!(code >= 200 && code < 300))
    throw new RootfsError(
      `the image at ${redactedUrl(url)} cannot be fetched: the server answered ${code || "nothing"}. Nothing was changed.`,
    );
  const lengths = lines.map((l) => /^content-length:\s*(\d+)\s*$/i.exec(l)).filter((m) => m !== null);
  return { bytes: lengths.length ? Number(lengths[lengths.length - 1]![1]) : null };
}

/** A small document (an image server's index), as parsed JSON: at most 64 MiB, which the public server's stays well under. */
export async function fetchJson(run: Runner, url: string): Promise<unknown> {
  const { stdout } = await run([...CURL, "--fail", "--compressed", "--connect-timeout", "15", "--max-time", "120", "--config", "-"], {
    stdin: { text: curlUrlConfig(url) },
    maxOutput: 64 * 2 ** 20,
  }).catch((e: unknown) => {
    throw curlFailure(url, e);
  });
  try {
    return JSON.parse(stdout);
  } catch {
    throw new RootfsError(`${redactedUrl(url)} is not JSON: an image server's index was expected there. Nothing was changed.`);
  }
}

/**
 * A small file the server may lack (an LXC image's meta.tar.xz, which its simplestreams index gives no
 * sha256 for: it is trusted as the index is, which is the server's word), fetched into a private temporary file
 * in the cache, at most `maxBytes`; null when the server answers 404. The caller removes the file.
 */
export async function fetchSmall(run: Runner, url: string, maxBytes: number): Promise<string | null> {
  const part = await newPartPath();
  try {
    const { stdout } = await run(
      [
        ...CURL,
        "--connect-timeout",
        "15",
        "--max-time",
        "120",
        "--max-filesize",
        String(maxBytes),
        "--output",
        part,
        "--write-out",
        "%{http_code}",
        "--config",
        "-",
      ],
      { stdin: { text: curlUrlConfig(url) } },
    ).catch((e: unknown) => {
      throw curlFailure(url, e);
    });
    const code = Number(stdout.trim());
    if (code === 404) {
      await fs.rm(part, { force: true });
      return null;
    }
    if (!(code >= 200 && code < 300))
      throw new RootfsError(`fetching ${redactedUrl(url)} failed: the server answered ${code || "nothing"}. Nothing was changed.`);
    return part;
  } catch (e) {
    await fs.rm(part, { force: true });
    throw e;
  }
}

/**
 * The length the server gives for the body, from headers as curl dumps them (every response of a redirect
 * chain, each from its status line): the last response's, or null when it gives none (chunked).
 */
export function bodyLength(headers: string): number | null {
  const last = headers.split(/^(?=HTTP\/)/m).pop() ?? "";
  const m = /^content-length:\s*(\d+)\s*$/im.exec(last);
  return m ? Number(m[1]) : null;
}

/**
 * Fetches the image into the cache and returns its file there. What the server sent is hashed before it is
 * kept: another sha256 fails naming both, and nothing is kept. Then the cache is brought back under its bound.
 * `progress` is measured by the size of the file curl writes, against the length the server announces.
 */
export async function fetchImage(run: Runner, url: string, hex: string, progress?: ByteProgress): Promise<string> {
  const part = await newPartPath();
  try {
    // Headers go to stdout as they arrive, before the body: the total is known while the body comes.
    let headers = "";
    const watch = progress && {
      argv: ["--dump-header", "-"],
      onStdout: (chunk: Buffer) => {
        headers = (headers + chunk.toString("latin1")).slice(-65536);
        progress.total(bodyLength(headers));
      },
    };
    progress?.measure(() => fs.stat(part).then((st) => st.size));
    // No image larger than the cache's bound is taken: it could not stay in it. curl's --max-filesize
    // stops one whose length is announced; Debian 12's curl (7.88) lets a chunked body run on, so its file
    // is watched too, and curl stopped once it passes the bound.
    const bound = cacheBound();
    let tooLarge = false;
    let watchdog: NodeJS.Timeout | undefined;
    const guard = (pid: number) => {
      watchdog = setInterval(() => {
        fs.stat(part).then(
          (st) => {
            if (st.size <= bound || tooLarge) return;
            tooLarge = true;
            process.kill(pid, "SIGKILL");
          },
          () => undefined,
        );
      }, 1000);
      watchdog.unref();
    };
    await run(
      [
        ...CURL,
        "--fail",
        "--connect-timeout",
        "30",
        "--speed-time",
        "60",
        "--speed-limit",
        "1024",
        "--max-filesize",
        String(bound),
        ...(watch?.argv ?? []),
        "--output",
        part,
        "--config",
        "-",
      ],
      {
        stdin: { text: curlUrlConfig(url) },
        onStdout: watch?.onStdout,
        onSpawn: guard,
      },
    )
      .catch((e: unknown) => {
        if (tooLarge)
          throw new RootfsError(
            `fetching the image at ${redactedUrl(url)} failed: it is larger than the image cache's bound, ${bound} bytes (LXC_ROOTFS_IMAGE_CACHE_BYTES). Nothing was changed.`,
          );
        throw curlFailure(url, e);
      })
      .finally(() => clearInterval(watchdog));
    const handle = await fs.open(part, "r");
    const digest = await digestOf(handle).finally(() => handle.close());
    if (digest !== `sha256:${hex}`)
      throw new InvalidInput("source.sha256", hex, `the sha256 of what ${redactedUrl(url)} serves, which is ${digest}`);
    const file = cachedPath(hex);
    await fs.rename(part, file);
    await evictImages(file);
    return file;
  } finally {
    await fs.rm(part, { force: true });
  }
}

/** A download's temporary file older than this was left by a process killed mid-download: it goes. */
const PART_LEFT_MS = 24 * 60 * 60 * 1000;

/** The bytes a cache entry holds: a tarball's size, or the sum of an OCI layout's blobs; nothing through a symlink. */
async function entryBytes(entry: string): Promise<number> {
  const st = await fs.lstat(entry);
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  const blobs = path.join(entry, "blobs", "sha256");
  const sizes = await Promise.all((await fs.readdir(blobs).catch(() => [])).map(async (b) => (await fs.lstat(path.join(blobs, b))).size));
  return sizes.reduce((a, b) => a + b, 0);
}

/**
 * The least recently used images (tarballs, and OCI layouts, host/oci.ts) go until the cache, fetches still
 * running included, is under its bound; `keep` and those used within the hour stay. Temporary files and
 * layouts a killed fetch left go too.
 */
export async function evictImages(keep: string): Promise<void> {
  const dir = imageCacheDir();
  for (const name of (await fs.readdir(dir)).filter((n) => n.startsWith(".part-"))) {
    const st = await fs.lstat(path.join(dir, name)).catch(() => null);
    if (st && !st.isSymbolicLink() && st.mtimeMs < Date.now() - PART_LEFT_MS)
      await fs.rm(path.join(dir, name), { recursive: true, force: true });
  }
  const entries = await Promise.all(
    (await fs.readdir(dir))
      .filter((n) => /^(sha256|oci)-[0-9a-f]{64}$/.test(n))
      .map(async (n) => {
        const file = path.join(dir, n);
        const st = await fs.lstat(file).catch(() => null);
        return { file, st, bytes: st && (st.isFile() || st.isDirectory()) ? await entryBytes(file).catch(() => 0) : 0 };
      }),
  );
  const kept = entries.filter((e) => e.st?.isFile() || e.st?.isDirectory()).sort((a, b) => a.st!.mtimeMs - b.st!.mtimeMs);
  // Fetches still running take room too: counted, never removed here.
  const running = await Promise.all(
    (await fs.readdir(dir)).filter((n) => n.startsWith(".part-")).map((n) => entryBytes(path.join(dir, n)).catch(() => 0)),
  );
  let total = [...kept.map((e) => e.bytes), ...running].reduce((sum, b) => sum + b, 0);
  const recent = Date.now() - IN_USE_MS;
  for (const { file, st, bytes } of kept) {
    if (total <= cacheBound()) break;
    if (file === keep || st!.mtimeMs > recent) continue;
    await fs.rm(file, { recursive: true, force: true });
    total -= bytes;
  }
}
