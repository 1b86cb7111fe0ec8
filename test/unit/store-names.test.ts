/**
 * The stores are listed once: each driver names its own store, the driver table lists the drivers, and the
 * generated enums carry schema.json's names. Code anywhere else asks a driver or its capabilities, never
 * compares a store's name: a new store is one file and one row. Some of the same words name other things
 * (the btrfs filesystem type and command, overlayfs as a mount type, /dev/loopN): those lines are allowed
 * by what they are, below.
 */
import { readdirSync, readFileSync, statSync } from "fs";
import path from "path";
import { DRIVERS } from "../../provider/src/drivers";
import { storeValues } from "../../provider/src/model/schema";

const SRC = path.resolve(__dirname, "..", "..", "provider", "src");
const DRIVERS_DIR = path.join(SRC, "drivers");

/** What else the words mean, by the line they stand on. */
const OTHER_MEANINGS: Array<{ why: string; line: RegExp }> = [
  {
    why: "a filesystem type, which btrfs and overlay also are",
    line: /fstype(\s*===\s*|:\s*)"(btrfs|overlay)"|withMountedDevice\([^,]+, [^,]+, "btrfs"/,
  },
  { why: "a command's argv", line: /\[\s*"(btrfs|zfs|lvm)",|argv\[0\] === "(btrfs|zfs)"/ },
  { why: "a loop device's name in /sys/block or /dev", line: /startsWith\("loop"\)/ },
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** The store names quoted on a line of code (a comment's are left out), as a string or a rootfs string's prefix. */
function scanLine(text: string, names: readonly string[]): string[] {
  const code = text.replace(/\/\/.*$/, "");
  if (/^\s*(\*|\/\*)/.test(code)) return [];
  const quoted = new RegExp(`["'\`](${names.join("|")})(?=["'\`:])`, "g");
  return [...code.matchAll(quoted)].map((m) => m[1]);
}

function storeLiterals(file: string, names: readonly string[]): Array<{ line: number; text: string; name: string }> {
  return readFileSync(file, "utf8")
    .split("\n")
    .flatMap((text, i) => scanLine(text, names).map((name) => ({ line: i + 1, text: text.trim(), name })));
}

/** Every name of a store: its own, and the prefixes of the rootfs strings it reads (overlayfs). */
const NAMES = [...new Set(Object.values(DRIVERS).flatMap((d) => [d.store, ...d.prefixes]))];

/** The names a file may hold: a driver file its own store's, the table and the generated enums all. */
function allowedIn(file: string): readonly string[] {
  if (/\.generated\.ts$/.test(file) || file === path.join(DRIVERS_DIR, "index.ts")) return NAMES;
  const own = Object.values(DRIVERS).find((d) => file === path.join(DRIVERS_DIR, `${d.store}.ts`));
  return own ? [own.store, ...own.prefixes] : [];
}

it("names no store outside its driver, the driver table and the generated enums", () => {
  expect([...storeValues].sort()).toEqual(Object.keys(DRIVERS).sort());
  const found = files(SRC).flatMap((file) =>
    storeLiterals(file, NAMES)
      .filter(({ name }) => !allowedIn(file).includes(name))
      .filter(({ text }) => !OTHER_MEANINGS.some((m) => m.line.test(text)))
      .map(({ line, text }) => `${path.relative(SRC, file)}:${line}: ${text}`),
  );
  expect(found).toEqual([]);
});

it("fails on a comparison of a store's name", () => {
  // The scan itself can fail: the same words on a line of generic code are found.
  const sample = 'if (loc.store === "zfs") return `overlay:${lower}`;';
  expect(scanLine(sample, NAMES)).toEqual(["zfs", "overlay"]);
  expect(OTHER_MEANINGS.some((m) => m.line.test(sample))).toBe(false);
  // A line that also speaks of a filesystem type is not excused for comparing a store.
  expect(OTHER_MEANINGS.some((m) => m.line.test('if (loc.store === "btrfs" && fstype) return;'))).toBe(false);
});
