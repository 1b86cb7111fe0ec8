/**
 * Hostile input, property-based (fast-check): arbitrary container names, lxcPaths, sizes and rootfs
 * strings, and arbitrary junk planted in the container directory (symlinks to outside, FIFOs, devices,
 * garbage files). Every operation either succeeds or is refused with one of our errors; a bad input is
 * refused naming its property; nothing outside <lxcPath>/<container> changes; no loop device or mount
 * stays; nothing hangs.
 *
 * The seed is fixed so that CI runs the same cases every time (FC_SEED overrides it, FC_RUNS the count);
 * a failure prints the seed and the shrunk counterexample.
 */
import fc from "fast-check";
import { promises as fs } from "fs";
import path from "path";
import { InvalidInput, RootfsError } from "../../provider/src/model/errors";
import { parseSize } from "../../provider/src/model/sizes";
import { parseRootfsString } from "../../provider/src/drivers";
import { createRootfs, destroyRootfs, inspectRootfs, updateRootfs } from "../../provider/src/api";
import { validateSpec } from "../../provider/src/api/validate";
import { must, tempDir, treeDigest } from "../helpers/env";
import { expectNoLeaks, expectNoLeaksAndRemove } from "../helpers/leaks";

const SEED = Number(process.env.FC_SEED ?? 20261124);
const RUNS = Number(process.env.FC_RUNS ?? 0);
const runs = (n: number) => ({ seed: SEED, numRuns: RUNS || n, endOnFailure: true });

let root: string;
let outside: string;
let outsideDigest: string;

beforeAll(async () => {
  root = await tempDir("prop");
  outside = await tempDir("prop-outside");
  await fs.mkdir(path.join(outside, "dir"));
  await fs.writeFile(path.join(outside, "dir", "file"), "outside");
  await fs.writeFile(path.join(outside, "image"), Buffer.alloc(1 << 20, 7));
  await fs.writeFile(path.join(outside, "config"), "lxc.rootfs.path = dir:/\n");
  await fs.symlink(path.join(outside, "nowhere"), path.join(outside, "dangling"));
  await fs.writeFile(
    path.join(outside, "journal.json"),
    JSON.stringify({ phase: "cleanup", built: { store: "dir", path: "/" }, newFinal: { store: "dir", path: "/" } }),
  );
  outsideDigest = await treeDigest(outside);
});
afterAll(async () => {
  await expectNoLeaksAndRemove(root);
  await fs.rm(outside, { recursive: true, force: true });
});

/** Fragments that have broken path and shell handling elsewhere, mixed into arbitrary unicode. */
const FRAGMENTS = [
  "..",
  ".",
  "/",
  "//",
  " ",
  "\n",
  "\t",
  "\0",
  "$(id)",
  "`id`",
  ";",
  "|",
  "&",
  "'",
  '"',
  "\\",
  ":",
  "~",
  "*",
  "-",
  "ü",
  "名",
  "🙂",
  "\u202e",
  "\u00a0",
];
const hostileString = (maxLength: number) =>
  fc
    .array(
      fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ unit: "grapheme", maxLength: 4 }), fc.stringMatching(/^[a-z0-9._-]{1,8}$/)),
      { maxLength },
    )
    .map((parts) => parts.join(""));

/** What every operation must do with any input: resolve, or reject with one of our errors, in bounded time. */
async function settles(fn: () => Promise<unknown>): Promise<{ ok: true } | { ok: false; err: RootfsError }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("hung for 30 s")), 30_000);
  });
  try {
    await Promise.race([fn(), hang]);
    return { ok: true };
  } catch (e) {
    if (!(e instanceof RootfsError)) throw new Error(`not one of our errors: ${(e as Error)?.stack ?? String(e)}`, { cause: e });
    if (!e.message) throw new Error("an error without a message", { cause: e });
    return { ok: false, err: e };
  } finally {
    clearTimeout(timer);
  }
}

/** Nothing outside changed, nothing stays attached or mounted, no injected command ran. */
async function hostUnchanged(): Promise<void> {
  expect(await treeDigest(outside)).toBe(outsideDigest);
  await expectNoLeaks(root);
  await expect(fs.lstat("/tmp/pwned")).rejects.toThrow(/ENOENT/);
}

describe("inputs", () => {
  it("any container name: valid names work end to end, every other is refused naming container", async () => {
    const lxcPath = path.join(root, "names");
    await fs.mkdir(lxcPath);
    await fc.assert(
      fc.asyncProperty(hostileString(6), async (container) => {
        const valid = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(container);
        const ref = { container, lxcPath };
        for (const call of [() => createRootfs({ ...ref, backingStore: "dir" }), () => inspectRootfs(ref), () => destroyRootfs(ref)]) {
          const r = await settles(call);
          if (valid) expect(r.ok).toBe(true);
          else if (!r.ok) {
            expect(r.err).toBeInstanceOf(InvalidInput);
            expect((r.err as InvalidInput).property).toBe("container");
          } else throw new Error(`accepted ${JSON.stringify(container)}`);
        }
        // After destroy, only valid names ever left anything, and they left nothing.
        expect(await fs.readdir(lxcPath)).toEqual([]);
        await hostUnchanged();
      }),
      runs(150),
    );
  });

  it("any lxcPath below a scratch root: refused naming lxcPath, or used exactly as normalized, never above it", async () => {
    const base = path.join(root, "paths");
    await fs.mkdir(base);
    await fc.assert(
      fc.asyncProperty(hostileString(5), async (suffix) => {
        const lxcPath = `${base}/${suffix}`;
        const before = await treeDigest(root).catch(() => "");
        const r = await settles(() => createRootfs({ container: "c", lxcPath, backingStore: "dir" }));
        if (r.ok) {
          const normal = path.normalize(lxcPath);
          const rel = path.relative(base, normal);
          expect(rel === ".." || rel.startsWith("../")).toBe(false);
          expect((await fs.lstat(path.join(normal, "c", "rootfs"))).isDirectory()).toBe(true);
          expect((await settles(() => destroyRootfs({ container: "c", lxcPath }))).ok).toBe(true);
          await expect(fs.lstat(path.join(normal, "c"))).rejects.toThrow(/ENOENT/);
          await fs.rm(base, { recursive: true });
          await fs.mkdir(base);
        } else {
          expect(r.err).toBeInstanceOf(InvalidInput);
          expect((r.err as InvalidInput).property).toBe("lxcPath");
          expect(await treeDigest(root)).toBe(before);
        }
        await hostUnchanged();
      }),
      runs(100),
    );
  });

  it("any size: the parsed value equals the model's, or it is refused naming size", () => {
    const unit = fc.constantFrom("", "K", "M", "G", "T", "k", "KiB", "MiB", "gib", "B", "KB", "P", "iB", " K", "e3");
    const sizes = fc.oneof(
      fc
        .tuple(fc.constantFrom("", " ", "-", "+", "0", "00"), fc.bigInt({ min: 0n, max: 10n ** 20n }), unit)
        .map(([p, n, u]) => `${p}${n}${u}`),
      fc.double(),
      fc.integer({ min: -(2 ** 53), max: 2 ** 53 }),
      fc.constantFrom(null, undefined, true, [], {}, "١٢", "1e9", "0x200", "Infinity", "NaN", 2 ** 60),
      hostileString(4),
    );
    const model = (v: unknown): number | null => {
      let n: bigint;
      if (typeof v === "number") {
        if (!Number.isSafeInteger(v)) return null;
        n = BigInt(v);
      } else if (typeof v === "string") {
        const m = /^\s*(\d{1,16})\s*([KMGT](iB)?)?\s*$/i.exec(v);
        if (!m) return null;
        n = BigInt(m[1]) * (m[2] ? 1024n ** BigInt("KMGT".indexOf(m[2][0].toUpperCase()) + 1) : 1n);
      } else return null;
      return n > 0n && n <= 2n ** 50n && n % 512n === 0n ? Number(n) : null;
    };
    fc.assert(
      fc.property(sizes, (v) => {
        const expected = model(v);
        let got: number | null = null;
        try {
          got = parseSize(v);
        } catch (e) {
          expect(e).toBeInstanceOf(InvalidInput);
          expect((e as InvalidInput).property).toBe("size");
          expect((e as InvalidInput).message).toMatch(/^size: invalid value .*: a whole number of bytes/);
        }
        expect(got).toBe(expected);
        // validateSpec agrees with parseSize, and names size and nothing else.
        try {
          expect(validateSpec({ container: "c", lxcPath: "/x", backingStore: "loop", size: v }).size).toBe(expected ?? undefined);
        } catch (e) {
          expect((e as InvalidInput).property).toBe("size");
          // Beyond the syntax, a block store needs room for its filesystem.
          if (expected !== null) expect((e as Error).message).toMatch(/: at least \d+ bytes \(\w+\) for ext4$/);
        }
      }),
      runs(2000),
    );
  });

  it("any from: refused naming from before anything is made, unless it names an existing rootfs", async () => {
    const lxcPath = path.join(root, "from");
    await fs.mkdir(lxcPath);
    const prefix = fc.constantFrom("dir:", "loop:", "btrfs:", "overlay:", "overlayfs:", "lvm:", "zfs:", "nfs:", "", "file://", "dir::");
    const fromValues = fc.oneof(
      fc.tuple(prefix, hostileString(4)).map(([p, s]) => p + s),
      fc
        .tuple(
          prefix,
          fc.constantFrom(
            outside,
            `${outside}/dir`,
            `${outside}/image`,
            `${outside}/dangling`,
            "/etc",
            "/dev/sda",
            "/dev/vg/lv",
            "/proc/self/root",
          ),
        )
        .map(([p, s]) => p + s),
    );
    await fc.assert(
      fc.asyncProperty(fromValues, fc.constantFrom("dir", "loop"), async (from, backingStore) => {
        let parsed = true;
        try {
          parseRootfsString(from, "from", "/");
        } catch {
          parsed = false;
        }
        const r = await settles(() =>
          createRootfs({ container: "f", lxcPath, backingStore, ...(backingStore === "loop" ? { size: "16M" } : {}), from }),
        );
        if (r.ok) {
          // Only an existing dir or loop rootfs can be copied from; the copy never changes the source.
          expect(parsed).toBe(true);
          expect((await settles(() => destroyRootfs({ container: "f", lxcPath }))).ok).toBe(true);
        } else {
          if (!parsed) expect((r.err as InvalidInput).property).toBe("from");
          expect(r.err.message).toMatch(/^from: invalid value|refusing|not|cannot|no /);
        }
        expect(await fs.readdir(lxcPath)).toEqual([]);
        await hostUnchanged();
      }),
      runs(120),
    );
  });
});

describe("junk planted in the container directory", () => {
  type Kind = "link-dir" | "link-file" | "link-missing" | "fifo" | "chardev" | "garbage" | "empty-dir";
  const ENTRIES = [
    "config",
    "rootfs",
    "rootdev",
    ".lxc-rootfs",
    ".lxc-rootfs/journal.json",
    "config.lxc-rootfs-tmp",
    ".lxc-rootfs/journal.json.lxc-rootfs-tmp",
    "rootfs.lxc-rootfs-new",
    "rootdev.lxc-rootfs-new",
    "rootfs.lxc-rootfs-old",
    "rootdev.lxc-rootfs-old",
  ];
  const KINDS: Kind[] = ["link-dir", "link-file", "link-missing", "fifo", "chardev", "garbage", "empty-dir"];

  async function plant(dir: string, entry: string, kind: Kind): Promise<void> {
    const p = path.join(dir, entry);
    const parent = await fs.lstat(path.dirname(p)).catch(() => null);
    if (parent && !parent.isDirectory()) return; // .lxc-rootfs itself was planted as something else
    await fs.mkdir(path.dirname(p), { recursive: true });
    if (
      await fs.lstat(p).then(
        () => true,
        () => false,
      )
    )
      return;
    switch (kind) {
      case "link-dir":
        return fs.symlink(path.join(outside, "dir"), p);
      case "link-file":
        return fs.symlink(path.join(outside, entry.endsWith("journal.json") ? "journal.json" : entry === "config" ? "config" : "image"), p);
      case "link-missing":
        return fs.symlink(path.join(outside, "missing"), p);
      case "fifo":
        await must(["mkfifo", p]);
        return;
      case "chardev":
        await must(["mknod", p, "c", "1", "5"]); // /dev/zero: endless if read
        return;
      case "garbage":
        return fs.writeFile(p, "lxc.rootfs.path = \u0000garbage\n{not json");
      case "empty-dir":
        return fs.mkdir(p);
    }
  }

  it("every operation settles with our error or succeeds, nothing outside changes, nothing stays attached", async () => {
    const lxcPath = path.join(root, "planted");
    await fs.mkdir(lxcPath);
    let n = 0;
    const ops = fc.array(fc.tuple(fc.constantFrom("create", "update", "inspect", "destroy"), fc.constantFrom("dir", "loop")), {
      minLength: 1,
      maxLength: 3,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(fc.constantFrom(...ENTRIES), fc.constantFrom(...KINDS)), {
          minLength: 1,
          maxLength: 3,
          selector: ([e]) => e,
        }),
        ops,
        async (planted, steps) => {
          const container = `p${n++}`;
          const dir = path.join(lxcPath, container);
          await fs.mkdir(dir);
          for (const [entry, kind] of planted) await plant(dir, entry, kind);
          for (const [op, backingStore] of steps) {
            const ref = { container, lxcPath };
            const wanted = { backingStore, ...(backingStore === "loop" ? { size: "16M" } : {}) };
            const call = {
              create: () => createRootfs({ ...ref, ...wanted }),
              update: () => updateRootfs(ref, wanted),
              inspect: () => inspectRootfs(ref),
              destroy: () => destroyRootfs(ref),
            }[op];
            await settles(call);
            await hostUnchanged();
          }
          // Clean up what the case left, without following anything: rm -r never follows symlinks.
          await must(["rm", "-rf", "--one-file-system", "--", dir]);
        },
      ),
      runs(150),
    );
  });
});
