/**
 * The idmap walker against the real kernel: every owner moves by the transform, once an inode, and what a
 * chown destroys (setuid bits, the capability) comes back; ACLs are rewritten, on device nodes and FIFOs
 * too; kinds the caller keeps stay as they are; nothing is followed out of the tree, nothing is opened that
 * must not be, no other mount is entered, and a directory swapped for a symlink mid-walk leads nowhere
 * outside. The statx layout the walk reads is checked against stat(1).
 */
import { promises as fs, renameSync, rmSync, symlinkSync } from "fs";
import path from "path";
import { Unsafe } from "../../provider/src/model/errors";
import { InodeShift, shiftTreeSync, PROGRESS_EVERY_MS } from "../../provider/src/host/shift-tree";
import { AT_FDCWD, AT_SYMLINK_NOFOLLOW, Statx, statxAt } from "../../provider/src/native/at";
import { must, sh, tempDir } from "../helpers/env";
import { expectNoLeaksAndRemove } from "../helpers/leaks";

const SHIFT = 100000;

/**
 * The test's own transform, not the project's map code: +100000 for every id; ACL_USER (2) and ACL_GROUP
 * (8) entries of a POSIX ACL xattr (a 4-byte version, then 8-byte entries: u16 tag, u16 perm, u32 id)
 * moved the same; a v2 capability (20 bytes) rewritten as v3 (24 bytes, rootid last) whose rootid is the
 * host id of container root, a v3 one's rootid moved.
 */
const plus: InodeShift = {
  uid: (id) => id + SHIFT,
  gid: (id) => id + SHIFT,
  acl(value) {
    const out = Buffer.from(value);
    for (let off = 4; off + 8 <= out.length; off += 8) {
      const tag = out.readUInt16LE(off);
      if (tag === 2 || tag === 8) out.writeUInt32LE(out.readUInt32LE(off + 4) + SHIFT, off + 4);
    }
    return out;
  },
  capability(value) {
    const magic = value.readUInt32LE(0);
    if (magic >>> 24 === 3) {
      const out = Buffer.from(value);
      out.writeUInt32LE(value.readUInt32LE(20) + SHIFT, 20);
      return out;
    }
    const out = Buffer.alloc(24);
    out.writeUInt32LE(0x03000000 | (magic & 1), 0);
    value.copy(out, 4, 4, 20);
    out.writeUInt32LE(SHIFT, 20);
    return out;
  },
};

let base: string;
beforeAll(async () => {
  base = await tempDir("shift-tree");
});
afterAll(() => expectNoLeaksAndRemove(base));

const owner = async (p: string) => (await must(["stat", "-c", "%u:%g %a", p])).trim();

/** The descriptors this process holds: the walk must close every one it opens. */
const openFds = async () => (await fs.readdir("/proc/self/fd")).length;

/** A host file and directory outside the tree, owned 4242, that symlinks in the tree name. */
async function makeOutside(name: string): Promise<{ dir: string; file: string }> {
  const dir = path.join(base, name);
  await fs.mkdir(dir);
  const file = path.join(dir, "host-file");
  await fs.writeFile(file, "the host's\n");
  await fs.chown(file, 4242, 4242);
  await fs.chown(dir, 4242, 4242);
  return { dir, file };
}

describe("a tree with every kind of inode", () => {
  let root: string;
  let outside: { dir: string; file: string };
  let mnt: string;

  beforeAll(async () => {
    outside = await makeOutside("outside");
    root = path.join(base, "tree");
    const at = (rel: string) => path.join(root, rel);
    for (const d of ["bin", "etc", "home/user", "shared", "data", "dev", "run", "mnt"]) await fs.mkdir(at(d), { recursive: true });
    await fs.writeFile(at("etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    await fs.writeFile(at("home/user/notes"), "mine\n", { mode: 0o600 });
    await fs.chown(at("home/user/notes"), 1000, 1000);
    await fs.chown(at("home/user"), 1000, 1000);
    await fs.copyFile("/bin/true", at("bin/su"));
    await fs.chmod(at("bin/su"), 0o4755);
    await fs.copyFile("/bin/true", at("bin/wall"));
    await fs.chown(at("bin/wall"), 0, 5);
    await fs.chmod(at("bin/wall"), 0o2755);
    await fs.chown(at("shared"), 0, 50);
    await fs.chmod(at("shared"), 0o2775);
    await fs.copyFile("/bin/true", at("bin/ping"));
    await must(["setcap", "cap_net_raw+ep", at("bin/ping")]);
    await fs.writeFile(at("etc/acl"), "acl\n");
    await must(["setfacl", "-m", "u:1234:rw,g:5678:r", at("etc/acl")]);
    await must(["setfacl", "-m", "u:1234:rwx", at("shared")]);
    await must(["setfacl", "-d", "-m", "u:1234:rwx,g:5678:rx", at("shared")]);
    await fs.symlink(outside.file, at("etc/link-out"));
    await fs.symlink(outside.dir, at("dir-out"));
    await fs.writeFile(at("data/a"), "linked\n");
    await fs.link(at("data/a"), at("data/b"));
    await fs.chown(at("data/a"), 2000, 2000);
    await must(["mknod", at("dev/null"), "c", "1", "3"]);
    await must(["mkfifo", at("run/fifo")]);
    // Not symlinks, but device nodes and FIFOs carry access ACLs (ext4 stores them): the walk reads them too.
    await must(["setfacl", "-m", "u:1234:rw", at("dev/null"), at("run/fifo")]);
    mnt = at("mnt");
    await must(["mount", "-t", "tmpfs", "-o", "size=1M", "shift-tree-test", mnt]);
    await fs.writeFile(path.join(mnt, "inside"), "another filesystem\n");
  });
  afterAll(async () => {
    await sh(["umount", mnt]);
  });

  it("shifts every inode once, keeps setuid, setgid and the capability, rewrites ACLs, follows no symlink, enters no mount", async () => {
    const at = (rel: string) => path.join(root, rel);
    const outsideBefore = [await owner(outside.file), await owner(outside.dir)];
    const mountBefore = [await owner(mnt), await owner(path.join(mnt, "inside"))];
    // find -xdev still names the mount point itself, which the walk leaves out with its filesystem.
    const inodes = new Set((await must(["find", root, "-xdev", "!", "-path", mnt, "-printf", "%i\\n"])).trim().split("\n")).size;
    const fds = await openFds();

    const counts = shiftTreeSync(root, plus);

    expect(counts).toMatchObject({ inodes, changed: inodes, kept: 0, hardLinks: 1, modesRestored: 2, acls: 5, capabilities: 1 });
    expect(counts.otherFilesystems).toEqual(["mnt"]);
    expect(counts.xattrBytes).toBeGreaterThan(24);
    expect(await openFds()).toBe(fds);

    expect(await owner(root)).toBe("100000:100000 755");
    expect(await owner(at("etc/passwd"))).toBe("100000:100000 644");
    expect(await owner(at("home/user"))).toBe("101000:101000 755");
    expect(await owner(at("home/user/notes"))).toBe("101000:101000 600");
    // chown cleared these; the walk set them again.
    expect(await owner(at("bin/su"))).toBe("100000:100000 4755");
    expect(await owner(at("bin/wall"))).toBe("100000:100005 2755");
    expect(await owner(at("shared"))).toBe("100000:100050 2775");
    // The kernel dropped the capability on chown; the v3 rewrite was written after it, rootid 100000.
    expect(await must(["getcap", at("bin/ping")])).toMatch(/cap_net_raw=ep/);
    expect(await must(["getfattr", "-n", "security.capability", "-e", "hex", "--absolute-names", at("bin/ping")])).toContain(
      "security.capability=0x0100000300200000000000000000000000000000a0860100",
    );
    const acl = await must(["getfacl", "-n", "-c", at("etc/acl")]);
    expect(acl).toMatch(/^user:101234:rw-$/m);
    expect(acl).toMatch(/^group:105678:r--$/m);
    const shared = await must(["getfacl", "-n", "-c", at("shared")]);
    expect(shared).toMatch(/^user:101234:rwx$/m);
    expect(shared).toMatch(/^default:user:101234:rwx$/m);
    expect(shared).toMatch(/^default:group:105678:r-x$/m);
    // The symlinks themselves moved; what they name did not.
    expect((await must(["stat", "-c", "%u:%g %F", at("etc/link-out")])).trim()).toBe("100000:100000 symbolic link");
    expect((await must(["stat", "-c", "%u:%g", at("dir-out")])).trim()).toBe("100000:100000");
    expect([await owner(outside.file), await owner(outside.dir)]).toEqual(outsideBefore);
    // One inode, two names: moved once (a second visit would have made it 202000).
    expect(await owner(at("data/a"))).toBe("102000:102000 644");
    expect((await fs.stat(at("data/b"))).ino).toBe((await fs.stat(at("data/a"))).ino);
    // The device node and the FIFO: shifted, never opened (an open of the FIFO would hang the walk).
    expect((await must(["stat", "-c", "%u:%g %F %t,%T", at("dev/null")])).trim()).toBe("100000:100000 character special file 1,3");
    expect((await must(["stat", "-c", "%u:%g %F", at("run/fifo")])).trim()).toBe("100000:100000 fifo");
    expect(await must(["getfacl", "-n", "-c", at("dev/null")])).toMatch(/^user:101234:rw-$/m);
    expect(await must(["getfacl", "-n", "-c", at("run/fifo")])).toMatch(/^user:101234:rw-$/m);
    expect([await owner(mnt), await owner(path.join(mnt, "inside"))]).toEqual(mountBefore);
  });

  it("refuses a root that is a symlink", async () => {
    const link = path.join(base, "root-link");
    await fs.symlink(root, link);
    expect(() => shiftTreeSync(link, plus)).toThrow(Unsafe);
  });
});

describe("a directory swapped for a symlink to outside while the walk runs", () => {
  /** A tree whose `victim` directory (owned 4343, the trigger) holds files; `outside` is what the swap points to. */
  async function makeRaceTree(name: string) {
    const outside = await makeOutside(`${name}-outside`);
    const root = path.join(base, name);
    await fs.mkdir(path.join(root, "victim"), { recursive: true });
    for (let i = 0; i < 20; i++) await fs.writeFile(path.join(root, "victim", `f${i}`), `${i}\n`);
    await fs.writeFile(path.join(root, "victim", "host-file"), "the tree's\n");
    const swap = () => {
      // Synchronous, inside the transform: nothing of the walk runs between it and the walk's next step.
      renameSync(path.join(root, "victim"), path.join(root, "victim.real"));
      symlinkSync(outside.dir, path.join(root, "victim"));
    };
    return { root, outside, swap };
  }

  it("between its lstat and its open: the open refuses the symlink, and the walk stops", async () => {
    const { root, outside, swap } = await makeRaceTree("race-before-open");
    await fs.chown(path.join(root, "victim"), 4343, 4343);
    let swapped = false;
    const t: InodeShift = {
      ...plus,
      // The walk asks a directory's new owner after its lstat and before its open.
      uid(id) {
        if (id === 4343 && !swapped) {
          swapped = true;
          swap();
        }
        return plus.uid(id);
      },
    };
    const before = [await owner(outside.file), await owner(outside.dir)];
    const fds = await openFds();
    expect(() => shiftTreeSync(root, t)).toThrow(/victim was replaced by something that is not a directory/);
    expect(swapped).toBe(true);
    expect(await openFds()).toBe(fds);
    expect([await owner(outside.file), await owner(outside.dir)]).toEqual(before);
  });

  it("after its open: the walk goes on in the directory it holds, and nothing outside changes", async () => {
    const { root, outside, swap } = await makeRaceTree("race-after-open");
    // Whichever file the walk reaches first swaps its directory; the other 20 are reached after the swap.
    for (const f of await fs.readdir(path.join(root, "victim"))) await fs.chown(path.join(root, "victim", f), 4343, 4343);
    let swapped = false;
    const t: InodeShift = {
      ...plus,
      // The first file's lstat came through the open victim; its siblings' come after the swap.
      uid(id) {
        if (id === 4343 && !swapped) {
          swapped = true;
          swap();
        }
        return plus.uid(id);
      },
    };
    const before = [await owner(outside.file), await owner(outside.dir)];
    const counts = shiftTreeSync(root, t);
    expect(swapped).toBe(true);
    expect([await owner(outside.file), await owner(outside.dir)]).toEqual(before);
    // Everything of the real directory moved, under its new name: root, victim, 21 files.
    expect(counts.inodes).toBe(23);
    const owners = (await must(["find", path.join(root, "victim.real"), "-printf", "%u\\n"])).trim().split("\n");
    expect(new Set(owners)).toEqual(new Set(["100000", String(4343 + SHIFT)]));
  });
});

it("a survey (a preview of a tree in use) leaves out files removed under it; a shift stops, naming the file", async () => {
  const make = async (name: string) => {
    const root = path.join(base, name);
    await fs.mkdir(path.join(root, "d"), { recursive: true });
    for (let i = 0; i < 20; i++) {
      await fs.writeFile(path.join(root, "d", `f${i}`), "");
      await fs.chown(path.join(root, "d", `f${i}`), 4343, 4343);
    }
    return root;
  };
  // The first file the walk reads removes every file: the others' names are in the walk's buffer already.
  const removing = (root: string, t: InodeShift): InodeShift => {
    let removed = false;
    return {
      ...t,
      uid(id) {
        if (id === 4343 && !removed) {
          removed = true;
          for (let i = 0; i < 20; i++) rmSync(path.join(root, "d", `f${i}`));
        }
        return t.uid(id);
      },
    };
  };
  const same: InodeShift = { uid: (id) => id, gid: (id) => id };
  const surveyed = await make("survey-removed");
  // Root, d and the first file: the 19 others are left out.
  const counts = shiftTreeSync(surveyed, removing(surveyed, { ...same, survey: true }));
  expect(counts.inodes).toBe(3);
  const shifted = await make("shift-removed");
  expect(() => shiftTreeSync(shifted, removing(shifted, plus))).toThrow(/\/d\/f\d+ was removed while the owners of .* were shifted/);
});

it("tells its progress while it runs, and once at the end", async () => {
  const root = path.join(base, "progress");
  await fs.mkdir(path.join(root, "d"), { recursive: true });
  const files = 200;
  for (let i = 0; i < files; i++) await fs.writeFile(path.join(root, "d", `f${i}`), "");
  // A transform that takes 10 ms an inode: a walk of 2 s, in which the clock says when to report.
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const slow: InodeShift = { ...plus, uid: (id) => (Atomics.wait(pause, 0, 0, 10), plus.uid(id)) };
  const told: Array<[number, number]> = [];
  const start = Date.now();
  const counts = shiftTreeSync(root, slow, (n) => told.push([n, Date.now() - start]));
  expect(counts.inodes).toBe(files + 2);
  const [last, ...during] = [...told].reverse();
  expect(last[0]).toBe(files + 2);
  expect(during.length).toBeGreaterThanOrEqual(2);
  for (const [n] of during) expect(n).toBeLessThan(files + 2);
  // Not more often than the period (a few inodes late at most, the clock is read every 64).
  const times = told.map(([, ms]) => ms);
  for (let i = 1; i < times.length - 1; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(PROGRESS_EVERY_MS);
});

describe("kinds the caller keeps", () => {
  it("leaves device nodes as they are with keep: char and block, owner and ACL, and shifts the rest", async () => {
    const root = path.join(base, "keep-devices");
    await fs.mkdir(path.join(root, "dev"), { recursive: true });
    await must(["mknod", path.join(root, "dev/null"), "c", "1", "3"]);
    await must(["mknod", path.join(root, "dev/loop9"), "b", "7", "9"]);
    await must(["setfacl", "-m", "u:1234:rw", path.join(root, "dev/null")]);
    await must(["mkfifo", path.join(root, "dev/fifo")]);
    await fs.writeFile(path.join(root, "dev/file"), "");

    const counts = shiftTreeSync(root, { ...plus, keep: ["char", "block"] });

    expect(counts).toMatchObject({ inodes: 6, kept: 2, changed: 4, acls: 0 });
    const st = (rel: string) => must(["stat", "-c", "%u:%g %F", path.join(root, rel)]).then((o) => o.trim());
    expect(await st("dev/null")).toBe("0:0 character special file");
    expect(await st("dev/loop9")).toBe("0:0 block special file");
    expect(await must(["getfacl", "-n", "-c", path.join(root, "dev/null")])).toMatch(/^user:1234:rw-$/m);
    expect(await st("dev/fifo")).toBe("100000:100000 fifo");
    expect(await st("dev/file")).toBe("100000:100000 regular empty file");
    expect(await st("dev")).toBe("100000:100000 directory");
  });
});

it("enters no bind mount of the same filesystem, which the device number alone would not tell", async () => {
  const outside = await makeOutside("bind-outside");
  const root = path.join(base, "bind");
  const mnt = path.join(root, "mnt");
  await fs.mkdir(mnt, { recursive: true });
  await must(["mount", "--bind", outside.dir, mnt]);
  try {
    const before = [await owner(outside.file), await owner(outside.dir)];
    const counts = shiftTreeSync(root, plus);
    expect(counts.otherFilesystems).toEqual(["mnt"]);
    expect(counts.inodes).toBe(1);
    expect([await owner(outside.file), await owner(outside.dir)]).toEqual(before);
  } finally {
    await sh(["umount", mnt]);
  }
});

it("reads struct statx as stat(1) does", async () => {
  const dir = path.join(base, "statx");
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, "file"), "");
  await fs.chown(path.join(dir, "file"), 123456, 654321);
  await fs.chmod(path.join(dir, "file"), 0o4751);
  await fs.link(path.join(dir, "file"), path.join(dir, "link"));
  await fs.symlink("file", path.join(dir, "symlink"));
  await must(["mknod", path.join(dir, "null"), "c", "1", "3"]);
  const st = new Statx();
  for (const name of ["file", "symlink", "null", "."]) {
    const p = path.join(dir, name);
    statxAt(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, st);
    const mine = [st.uid, st.gid, st.mode.toString(16), st.nlink, String(st.ino), st.devMajor, st.devMinor].join(" ");
    expect(mine).toBe((await must(["stat", "-c", "%u %g %f %h %i %Hd %Ld", p])).trim());
  }
});
