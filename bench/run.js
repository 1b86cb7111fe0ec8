#!/usr/bin/env node
/**
 * npm run bench: the provider against LXC's own tools, side by side in one run. Each case alternates the
 * two (ours first in odd rounds, the peer first in even ones) over BENCH_ROUNDS rounds (default 5) and
 * reports medians. Run as root.
 *   npm run bench            a table, and bench/RESULTS.md with the machine it ran on
 *   npm run bench -- --json  one JSON array of { case, ours_s, peer, peer_s, ratio }
 *   BENCH_ONLY=images npm run bench   the OS-image and owner-shift rows only, as JSON, RESULTS.md left as it is
 */
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");
const { startSshd } = require("./sshd");

const ROOT = path.resolve(__dirname, "..");
const CLI = [process.execPath, path.join(ROOT, "bin", "lxc-rootfs.js")];
const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
const JSON_OUT = process.argv.includes("--json");
const WORK = path.join(os.tmpdir(), "pulumi-lxc-bench");
const EXT = path.join(WORK, "ext4");
const BTRFS = path.join(WORK, "btrfs");
// The OS-image rows' lxcPath: a fresh ext4 of its own. On the host's root filesystem (ext4 with discard)
// the same untar took from 0.4 s to 4.4 s by what ran before it, and the dir rows measured that.
const IMAGES = path.join(WORK, "images-ext4");
const log = (...a) => {
  if (!JSON_OUT) console.error(...a);
};

function sh(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], ...opts });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout.toString();
}
function timed(argv) {
  const t = process.hrtime.bigint();
  sh(argv);
  return Number(process.hrtime.bigint() - t) / 1e9;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const allocated = (p) => Number(sh(["du", "-s", "-B1", "-x", "--", p]).split("\t")[0]);
const results = [];
function record(name, ours, peer, peerS, extra = {}) {
  const row = {
    case: name,
    ours_s: +ours.toFixed(4),
    peer,
    peer_s: peerS === null ? null : +peerS.toFixed(4),
    ratio: peerS ? +(ours / peerS).toFixed(3) : null,
    ...extra,
  };
  results.push(row);
  const u = { MB: " MB", count: "", bytes: " B" }[extra.unit] ?? "s";
  log(
    `${name.padEnd(44)} ours ${row.ours_s.toFixed(3)}${u}  ${peer.padEnd(34)} ${peerS === null ? "-" : `${row.peer_s.toFixed(3)}${u}`}  ratio ${row.ratio ?? "-"}`,
  );
}

/**
 * Writes back every dirty page, outside the timing, so that each measurement starts clean: without it, our
 * flush of the new store (`sync -f`, a syncfs of the whole filesystem) also paid for the ~200 MB the peer
 * had just written and left unflushed when the peer ran first.
 */
const settle = () => spawnSync("sync");

/** Runs `ours(i)` and `peer(i)` alternately; each returns seconds. Cleans up with `after(i)` outside the timing. */
function sideBySide(name, peerName, ours, peer, after = () => {}) {
  const a = [];
  const b = [];
  const runOurs = (i) => {
    settle();
    a.push(ours(i));
  };
  const runPeer = (i) => {
    settle();
    b.push(peer(i));
  };
  for (let i = 0; i < ROUNDS; i++) {
    if (i % 2 === 0) {
      runOurs(i);
      runPeer(i);
    } else {
      runPeer(i);
      runOurs(i);
    }
    after(i);
  }
  record(name, median(a), peerName, median(b));
}

/**
 * lxc-destroy of what `lxc-copy -B btrfs` made fails here (LXC 5.0.2: "Error destroying rootfs"; the copy is
 * a plain directory, not a subvolume), so the bench cleans that one up itself, outside the timing.
 */
function peerDestroy(lxc, name) {
  if (spawnSync("lxc-destroy", ["-P", lxc, "-n", name]).status === 0) return;
  spawnSync("btrfs", ["subvolume", "delete", path.join(lxc, name, "rootfs")]);
  fs.rmSync(path.join(lxc, name), { recursive: true, force: true });
}

function setup() {
  // A run that died left its filesystems mounted: unmounted first, never removed through.
  unmountScratch();
  fs.rmSync(WORK, { recursive: true, force: true });
  // The CLI keeps OCI copies in its image cache: the bench's own, gone with the rest of its work.
  process.env.LXC_ROOTFS_IMAGE_CACHE = path.join(WORK, "image-cache");
  fs.mkdirSync(EXT, { recursive: true });
  fs.mkdirSync(BTRFS, { recursive: true });
  sh(["truncate", "-s", "8G", path.join(WORK, "btrfs.img")]);
  sh(["mkfs.btrfs", "-q", "-f", path.join(WORK, "btrfs.img")]);
  sh(["mount", "-o", "loop", path.join(WORK, "btrfs.img"), BTRFS]);
  fs.mkdirSync(IMAGES);
  sh(["truncate", "-s", "6G", path.join(WORK, "images-ext4.img")]);
  sh(["mkfs.ext4", "-q", "-F", path.join(WORK, "images-ext4.img")]);
  sh(["mount", "-o", "loop", path.join(WORK, "images-ext4.img"), IMAGES]);
}
/** Unmounts the bench's own filesystems, if mounted; throws when one stays mounted (a store left attached in it). */
function unmountScratch() {
  for (const mp of [BTRFS, IMAGES]) {
    if (spawnSync("mountpoint", ["-q", mp]).status !== 0) continue;
    const r = spawnSync("umount", [mp]);
    if (r.status !== 0) throw new Error(`umount ${mp} failed, so ${WORK} is left as it is: ${r.stderr}`);
  }
}
function teardown() {
  unmountScratch();
  fs.rmSync(WORK, { recursive: true, force: true });
}

/** ~210 MB: four 48 MiB random files and 3,000 small ones. */
function fillData(root) {
  fs.mkdirSync(path.join(root, "data"), { recursive: true });
  for (let i = 0; i < 4; i++) sh(["dd", "if=/dev/urandom", `of=${path.join(root, "data", `big${i}`)}`, "bs=1M", "count=48", "status=none"]);
  for (let d = 0; d < 30; d++) {
    const dir = path.join(root, "data", `d${d}`);
    fs.mkdirSync(dir);
    for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(dir, `f${f}`), `${d}/${f}\n`.repeat(100 + f * 7));
  }
}

/**
 * Creates from an OS image (`source`): the Debian 12 fixture (scripts/setup-images.sh) against
 * `lxc-create -t local` with the same tarball pair, and against the floor, its decompression piped into
 * GNU tar and flushed. lxc-local reads only xz; the .tar.zst rows have the floor alone. The OCI fixture
 * against `lxc-create -t oci` on the same layout.
 */
function imageCases() {
  const dir = sh(["bash", path.join(ROOT, "scripts", "setup-images.sh")]).trim();
  const xz = path.join(dir, "debian-12.tar.xz");
  const zst = path.join(dir, "debian-12.tar.zst");
  const meta = path.join(dir, "debian-12.meta.tar.xz");
  const ours = (name, store, image, extra = []) =>
    timed([...CLI, "create", "--lxcpath", IMAGES, "--name", name, "--backing-store", store, "--source", image, ...extra]);
  const gone = (name) => sh([...CLI, "destroy", "--lxcpath", IMAGES, "--name", name]);
  const floor = (tool, image) => {
    const into = path.join(IMAGES, "floor-tree");
    fs.mkdirSync(into);
    const t = process.hrtime.bigint();
    sh([
      "sh",
      "-c",
      `${tool} -dc -- "$0" | tar --numeric-owner -p --acls --xattrs --xattrs-include='*' -x -C "$1" && sync -f "$1"`,
      image,
      into,
    ]);
    return Number(process.hrtime.bigint() - t) / 1e9;
  };
  const noFloor = () => fs.rmSync(path.join(IMAGES, "floor-tree"), { recursive: true, force: true });
  for (const [store, extra, peerExtra] of [
    ["dir", [], []],
    ["loop", ["--size", "1G", "--fstype", "ext4"], ["--fssize", "1G", "--fstype", "ext4"]],
  ]) {
    sideBySide(
      `create ${store} from the Debian 12 .tar.xz (${store === "loop" ? "1G ext4" : "a tree"})`,
      `lxc-create -t local -B ${store}`,
      (i) => ours(`img${store}${i}`, store, xz, extra),
      (i) =>
        timed([
          "lxc-create",
          "-P",
          IMAGES,
          "-n",
          `pimg${store}${i}`,
          "-t",
          "local",
          "-B",
          store,
          ...peerExtra,
          "--",
          "--metadata",
          meta,
          "--fstree",
          xz,
        ]),
      (i) => {
        gone(`img${store}${i}`);
        sh(["lxc-destroy", "-P", IMAGES, "-n", `pimg${store}${i}`]);
      },
    );
  }
  // The OCI fixture: two layers, a whiteout and a config. Both sides copy the layout with skopeo, then
  // unpack it with umoci; ours keeps its copy in the image cache, so only its first round copies.
  const oci = `oci:${path.join(dir, "oci")}:latest`;
  for (const [store, extra, peerExtra] of [
    ["dir", [], []],
    ["loop", ["--size", "256M", "--fstype", "ext4"], ["--fssize", "256M", "--fstype", "ext4"]],
  ]) {
    sideBySide(
      `create ${store} from the OCI fixture layout`,
      `lxc-create -t oci -B ${store}`,
      (i) => ours(`oci${store}${i}`, store, oci, extra),
      (i) => timed(["lxc-create", "-P", IMAGES, "-n", `poci${store}${i}`, "-t", "oci", "-B", store, ...peerExtra, "--", "--url", oci]),
      (i) => {
        gone(`oci${store}${i}`);
        sh(["lxc-destroy", "-P", IMAGES, "-n", `poci${store}${i}`]);
      },
    );
  }
  for (const [label, image, tool] of [
    [".tar.xz", xz, "xz"],
    [".tar.zst", zst, "zstd"],
  ]) {
    sideBySide(
      `create dir from the Debian 12 ${label} vs its floor`,
      `${tool} -dc | tar -x, then sync -f`,
      (i) => ours(`flr${tool}${i}`, "dir", image),
      () => floor(tool, image),
      (i) => {
        gone(`flr${tool}${i}`);
        noFloor();
      },
    );
  }
}

/**
 * The owner shift of an unprivileged rootfs in place (`idmap`): the Debian 12 tree, about 7,800 inodes, from
 * 0 to 100000, against `chown -hR 100000:100000` of a copy of the same tree: one lchown an inode, the floor
 * (the shift also reads every inode's owner, ACLs and capability, and keeps setuid bits).
 */
function shiftCases() {
  const dir = sh(["bash", path.join(ROOT, "scripts", "setup-images.sh")]).trim();
  sh([...CLI, "create", "--lxcpath", IMAGES, "--name", "shift", "--backing-store", "dir", "--source", path.join(dir, "debian-12.tar.xz")]);
  const shifted = path.join(IMAGES, "shift");
  const copy = path.join(IMAGES, "chown-tree");
  const shift = (way) => Number(sh([process.execPath, path.join(ROOT, "bench", "shift.js"), shifted, way]).trim());
  sideBySide(
    "shift the owners of the Debian 12 rootfs (dir) by 100000",
    "chown -hR 100000:100000 (a copy)",
    () => {
      const s = shift("there");
      shift("back");
      return s;
    },
    () => {
      sh(["cp", "-a", path.join(shifted, "rootfs"), copy]);
      settle();
      const s = timed(["chown", "-hR", "100000:100000", copy]);
      fs.rmSync(copy, { recursive: true, force: true });
      return s;
    },
  );
  sh([...CLI, "destroy", "--lxcpath", IMAGES, "--name", "shift"]);
}

async function main() {
  setup();
  try {
    if (process.env.BENCH_ONLY === "images") {
      imageCases();
      shiftCases();
      output();
      return;
    }
    imageCases();
    shiftCases();
    // 1-2. create and destroy, whole process against whole process.
    for (const [store, lxc, extra, peerExtra] of [
      ["loop", EXT, ["--size", "1G", "--fstype", "ext4"], ["--fssize", "1G", "--fstype", "ext4"]],
      ["dir", EXT, [], []],
      ["btrfs", BTRFS, [], []],
    ]) {
      const created = [];
      sideBySide(
        `create ${store}`,
        `lxc-create -t /bin/true -B ${store}`,
        (i) => timed([...CLI, "create", "--lxcpath", lxc, "--name", `o${store}${i}`, "--backing-store", store, ...extra]),
        (i) => {
          created.push(i);
          return timed(["lxc-create", "-P", lxc, "-n", `p${store}${i}`, "-t", "/bin/true", "-B", store, ...peerExtra]);
        },
      );
      sideBySide(
        `destroy ${store}`,
        "lxc-destroy",
        (i) => timed([...CLI, "destroy", "--lxcpath", lxc, "--name", `o${store}${i}`]),
        (i) => timed(["lxc-destroy", "-P", lxc, "-n", `p${store}${i}`]),
      );
    }

    // 3-4. backing-store changes with data, against lxc-copy of the same source.
    log("making the ~210 MB source container (loop, ext4 1G) ...");
    sh(["lxc-create", "-P", EXT, "-n", "src", "-t", "/bin/true", "-B", "loop", "--fssize", "1G", "--fstype", "ext4"]);
    const srcImage = path.join(EXT, "src", "rootdev");
    const mp = path.join(WORK, "mnt");
    fs.mkdirSync(mp);
    sh(["mount", "-o", "loop", srcImage, mp]);
    fillData(mp);
    sh(["umount", mp]);
    const srcAlloc = fs.statSync(srcImage).blocks * 512;
    const space = {};
    const copyCase = (name, lxc, oursArgs, peerArgs, resultPath, source, srcBytes) => {
      sideBySide(
        name,
        `lxc-copy ${peerArgs.join(" ")}`,
        (i) => timed([...CLI, "create", "--lxcpath", lxc, "--name", `c${i}`, ...oursArgs, "--from", source]),
        (i) => timed(["lxc-copy", "-P", lxc, "-n", peerArgs.includes("btrfs") ? "srcdir" : "src", "-N", `k${i}`, ...peerArgs]),
        (i) => {
          if (i === 0)
            space[name] = { ours: allocated(resultPath(lxc, `c${i}`)), peer: allocated(resultPath(lxc, `k${i}`)), source: srcBytes };
          sh([...CLI, "destroy", "--lxcpath", lxc, "--name", `c${i}`]);
          peerDestroy(lxc, `k${i}`);
        },
      );
    };
    const image = (lxc, n) => path.join(lxc, n, "rootdev");
    const tree = (lxc, n) => path.join(lxc, n, "rootfs");
    copyCase(
      "loop→loop 2G, same fstype",
      EXT,
      ["--backing-store", "loop", "--size", "2G"],
      ["-B", "loop", "-L", "2G"],
      image,
      `loop:${srcImage}`,
      srcAlloc,
    );
    const floor = [];
    for (let i = 0; i < ROUNDS; i++) {
      settle();
      floor.push(timed(["cp", "--sparse=always", srcImage, path.join(EXT, "floor.img")]));
      fs.rmSync(path.join(EXT, "floor.img"));
    }
    // The durable floor: the same copy made to survive a crash, as ours is (fsync before the swap).
    const durable = [];
    for (let i = 0; i < ROUNDS; i++) {
      settle();
      const t = process.hrtime.bigint();
      sh(["cp", "--sparse=always", srcImage, path.join(EXT, "floor.img")]);
      sh(["sync", "-f", path.join(EXT, "floor.img")]);
      durable.push(Number(process.hrtime.bigint() - t) / 1e9);
      fs.rmSync(path.join(EXT, "floor.img"));
    }
    const loopLoop = results[results.length - 1];
    record("loop→loop 2G vs the cp --sparse=always floor", loopLoop.ours_s, "cp --sparse=always (image)", median(floor));
    record("loop→loop 2G vs the durable floor", loopLoop.ours_s, "cp --sparse=always + sync -f (image)", median(durable));
    copyCase("loop→dir", EXT, ["--backing-store", "dir"], ["-B", "dir"], tree, `loop:${srcImage}`, null);

    // dir→btrfs: a dir container holding the same files, on the btrfs lxcPath.
    sh(["lxc-create", "-P", BTRFS, "-n", "srcdir", "-t", "/bin/true", "-B", "dir"]);
    sh(["mount", "-o", "loop,ro", srcImage, mp]);
    sh(["rsync", "-aHAX", `${mp}/`, `${path.join(BTRFS, "srcdir", "rootfs")}/`]);
    sh(["umount", mp]);
    const dirAlloc = allocated(path.join(BTRFS, "srcdir", "rootfs"));
    space["loop→dir"].source = dirAlloc;
    // loop→loop where the lxcPath is btrfs: the image is reflinked (FICLONE), lxc-copy still copies it.
    sh(["lxc-create", "-P", BTRFS, "-n", "srcloop", "-t", "/bin/true", "-B", "loop", "--fssize", "1G", "--fstype", "ext4"]);
    sh(["cp", "--sparse=always", srcImage, path.join(BTRFS, "srcloop", "rootdev")]);
    sideBySide(
      "loop→loop 2G on a btrfs lxcPath",
      "lxc-copy -B loop -L 2G",
      (i) =>
        timed([
          ...CLI,
          "create",
          "--lxcpath",
          BTRFS,
          "--name",
          `r${i}`,
          "--backing-store",
          "loop",
          "--size",
          "2G",
          "--from",
          `loop:${path.join(BTRFS, "srcloop", "rootdev")}`,
        ]),
      (i) => timed(["lxc-copy", "-P", BTRFS, "-n", "srcloop", "-N", `q${i}`, "-B", "loop", "-L", "2G"]),
      (i) => {
        sh([...CLI, "destroy", "--lxcpath", BTRFS, "--name", `r${i}`]);
        peerDestroy(BTRFS, `q${i}`);
      },
    );
    copyCase(
      "dir→btrfs",
      BTRFS,
      ["--backing-store", "btrfs"],
      ["-B", "btrfs"],
      tree,
      `dir:${path.join(BTRFS, "srcdir", "rootfs")}`,
      dirAlloc,
    );

    await snapshotCases(srcImage, space);

    for (const [name, s] of Object.entries(space)) {
      record(`space: ${name} (allocated, ours vs source)`, s.ours / 1e6, "source allocated (MB)", s.source / 1e6, {
        unit: "MB",
        peer_result_MB: +(s.peer / 1e6).toFixed(1),
      });
    }

    // The floor of any Node CLI on this machine: starting Node and doing nothing.
    const nodeFloor = [];
    for (let i = 0; i < ROUNDS; i++) nodeFloor.push(timed([process.execPath, "-e", "0"]));
    record(
      "node -e 0 (any Node CLI's start-up)",
      median(nodeFloor),
      "lxc-create -t /bin/true -B dir",
      results.find((r) => r.case === "create dir").peer_s,
    );

    // The CLI as whole processes against their floors: Node's start-up, and for a create the tools it runs.
    sh([...CLI, "create", "--lxcpath", EXT, "--name", "insp", "--backing-store", "loop", "--size", "1G"]);
    sideBySide(
      "lxc-rootfs inspect loop (whole process)",
      "node -e 0",
      () => timed([...CLI, "inspect", "--lxcpath", EXT, "--name", "insp"]),
      () => timed([process.execPath, "-e", "0"]),
    );
    sh([...CLI, "destroy", "--lxcpath", EXT, "--name", "insp"]);
    const floorImage = path.join(EXT, "floor-image");
    sideBySide(
      "lxc-rootfs create loop 1G ext4 (whole process)",
      "node -e 0 + truncate + mkfs.ext4 (its floor)",
      (i) => timed([...CLI, "create", "--lxcpath", EXT, "--name", `cf${i}`, "--backing-store", "loop", "--size", "1G", "--fstype", "ext4"]),
      () =>
        timed([process.execPath, "-e", "0"]) + timed(["truncate", "-s", "1G", floorImage]) + timed(["mkfs.ext4", "-q", "-F", floorImage]),
      (i) => {
        sh([...CLI, "destroy", "--lxcpath", EXT, "--name", `cf${i}`]);
        fs.rmSync(floorImage, { force: true });
      },
    );

    // 5. inside the library, no process start: what a pulumi up of many resources pays per resource.
    const lib = require(path.join(ROOT, "dist", "provider", "src", "index.js"));
    const libCreate = [];
    const libInspect = [];
    for (let i = 0; i < 20; i++) {
      let t = process.hrtime.bigint();
      await lib.createRootfs({ container: `lib${i}`, lxcPath: EXT, backingStore: "loop", size: "1G" });
      libCreate.push(Number(process.hrtime.bigint() - t) / 1e9);
      t = process.hrtime.bigint();
      await lib.inspectRootfs({ container: `lib${i}`, lxcPath: EXT });
      libInspect.push(Number(process.hrtime.bigint() - t) / 1e9);
    }
    for (let i = 0; i < 20; i++) await lib.destroyRootfs({ container: `lib${i}`, lxcPath: EXT });
    const peerCreate = results.find((r) => r.case === "create loop");
    record("library createRootfs loop 1G (in process)", median(libCreate), "lxc-create -t /bin/true -B loop", peerCreate.peer_s);
    record("library inspectRootfs loop (in process)", median(libInspect), "-", null);

    // 6. through the engine.
    await engineCases(lib);
  } finally {
    teardown();
  }
  output();
}

/**
 * Snapshots of the ~210 MB rootfs on each store, against lxc-snapshot of the same container: it copies a
 * dir or loop rootfs file by file into a directory (rsync), and takes a writable btrfs snapshot.
 */
async function snapshotCases(srcImage, space) {
  const lib = require(path.join(ROOT, "dist", "provider", "src", "index.js"));
  sh([...CLI, "create", "--lxcpath", EXT, "--name", "snapdir", "--backing-store", "dir", "--from", `loop:${srcImage}`]);
  sh([
    ...CLI,
    "create",
    "--lxcpath",
    BTRFS,
    "--name",
    "snapbtrfs",
    "--backing-store",
    "btrfs",
    "--from",
    `dir:${path.join(BTRFS, "srcdir", "rootfs")}`,
  ]);
  const snapDir = (lxc, c, n) => path.join(lxc, c, "snaps", n);
  const cases = [
    // name, lxcPath, container, whether space is compared (du counts shared btrfs extents in full: not there)
    ["dir", EXT, "snapdir", true],
    ["loop 1G", EXT, "src", true],
    ["btrfs", BTRFS, "snapbtrfs", false],
    ["dir on a btrfs lxcPath", BTRFS, "srcdir", false],
    ["loop 1G on a btrfs lxcPath", BTRFS, "srcloop", false],
  ];
  for (const [name, lxc, c, measureSpace] of cases) {
    sideBySide(
      `snapshot ${name}`,
      "lxc-snapshot",
      (i) => timed([...CLI, "snapshot", "--lxcpath", lxc, "--name", c, "--snapshot", `o${i}`]),
      () => timed(["lxc-snapshot", "-P", lxc, "-n", c]),
      (i) => {
        if (i === 0 && measureSpace) {
          space[`snapshot ${name}`] = {
            ours: allocated(snapDir(lxc, c, `o${i}`)),
            peer: allocated(snapDir(lxc, c, "snap0")),
            source: allocated(path.join(lxc, c, fs.existsSync(path.join(lxc, c, "rootdev")) ? "rootdev" : "rootfs")),
          };
        }
        sh([...CLI, "snapshot-destroy", "--lxcpath", lxc, "--name", c, "--snapshot", `o${i}`]);
        sh(["lxc-snapshot", "-P", lxc, "-n", c, "-d", "snap0"]);
      },
    );
  }
  // In the library, no process start: what a pulumi up pays for a btrfs snapshot (its provider process is
  // running already), alternated with lxc-snapshot in the same loop. Also Node's own start, for the
  // whole-process rows above: a process of ours cannot start faster than `node -e 0`.
  const inProcess = [];
  const peer = [];
  const node = [];
  const lib1 = () => ({ container: "snapbtrfs", lxcPath: BTRFS, name: "lib" });
  for (let i = 0; i < ROUNDS * 2; i++) {
    const ours = async () => {
      settle();
      const t = process.hrtime.bigint();
      await lib.createRootfsSnapshot(lib1());
      inProcess.push(Number(process.hrtime.bigint() - t) / 1e9);
    };
    const theirs = () => {
      settle();
      peer.push(timed(["lxc-snapshot", "-P", BTRFS, "-n", "snapbtrfs"]));
    };
    if (i % 2 === 0) {
      await ours();
      theirs();
    } else {
      theirs();
      await ours();
    }
    node.push(timed([process.execPath, "-e", "0"]));
    await lib.destroyRootfsSnapshot(lib1());
    sh(["lxc-snapshot", "-P", BTRFS, "-n", "snapbtrfs", "-d", "snap0"]);
  }
  record("library createRootfsSnapshot btrfs (in process)", median(inProcess), "lxc-snapshot", median(peer));
  record("node -e 0 (the floor of a process of ours)", median(node), "lxc-snapshot", median(peer));
  sh([...CLI, "destroy", "--lxcpath", EXT, "--name", "snapdir"]);
  sh([...CLI, "destroy", "--lxcpath", BTRFS, "--name", "snapbtrfs"]);
}

async function engineCases(lib) {
  const { LocalWorkspace, PulumiCommand } = require("@pulumi/pulumi/automation");
  const pulumi = require("@pulumi/pulumi");
  const cmd = await PulumiCommand.get({ root: path.join(ROOT, ".tools"), skipVersionCheck: true });
  const noop = {
    async create(inputs) {
      return { id: inputs.n, outs: inputs };
    },
    async read(id, props) {
      return { id, props };
    },
  };
  class Noop extends pulumi.dynamic.Resource {
    constructor(n) {
      super(noop, n, { n });
    }
  }
  async function stack(name, program) {
    const dir = path.join(WORK, `stack-${name}`);
    fs.mkdirSync(path.join(dir, "state"), { recursive: true });
    return LocalWorkspace.createOrSelectStack(
      { stackName: "bench", projectName: `bench-${name}`, program },
      {
        workDir: dir,
        pulumiCommand: cmd,
        envVars: {
          PULUMI_BACKEND_URL: `file://${dir}/state`,
          PULUMI_CONFIG_PASSPHRASE: "bench",
          PULUMI_HOME: path.join(dir, "home"),
          PULUMI_SKIP_UPDATE_CHECK: "true",
          PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        },
      },
    );
  }
  const time = async (fn) => {
    const t = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - t) / 1e9;
  };
  for (const n of [1, 20]) {
    const names = Array.from({ length: n }, (_, i) => `e${n}x${i}`);
    const ours = await stack(`rootfs${n}`, async () => {
      for (const c of names) new lib.Rootfs(c, { container: c, lxcPath: EXT, backingStore: "loop", size: "1G" });
    });
    const peer = await stack(`noop${n}`, async () => {
      for (const c of names) new Noop(c);
    });
    const oursUp = await time(() => ours.up({ parallel: 20 }));
    const peerUp = await time(() => peer.up({ parallel: 20 }));
    record(`pulumi up of ${n} loop Rootfs`, oursUp, `pulumi up of ${n} no-op dynamic resources`, peerUp);
    if (n === 20) {
      const a = [];
      const b = [];
      for (let i = 0; i < ROUNDS; i++) {
        if (i % 2 === 0) {
          a.push(await time(() => ours.refresh({ parallel: 20 })));
          b.push(await time(() => peer.refresh({ parallel: 20 })));
        } else {
          b.push(await time(() => peer.refresh({ parallel: 20 })));
          a.push(await time(() => ours.refresh({ parallel: 20 })));
        }
      }
      record("pulumi refresh of 20 loop Rootfs", median(a), "pulumi refresh of 20 no-op dynamic resources", median(b));
    }
    await ours.destroy();
    await peer.destroy();
  }
  await remoteCases(lib, stack, time);
}

/**
 * The same 20 loop Rootfs on a host reached over SSH (this machine, through an sshd on loopback) beside
 * the same stack run locally: what SSH and the agent cost. The connections come from sshd's own log.
 */
async function remoteCases(lib, stack, time) {
  const sshd = await startSshd(path.join(WORK, "sshd"));
  try {
    await firstContact(lib, stack, time, sshd);
    const names = Array.from({ length: 20 }, (_, i) => `x${i}`);
    const local = await stack("local20", async () => {
      for (const c of names) new lib.Rootfs(c, { container: `l${c}`, lxcPath: EXT, backingStore: "loop", size: "1G" });
    });
    const remote = await stack("remote20", async () => {
      for (const c of names)
        new lib.Rootfs(c, { container: `r${c}`, lxcPath: EXT, backingStore: "loop", size: "1G", connection: sshd.connection });
    });
    // A preview of 20 new ones: each create's checks ask the host (issue 26), over one SSH connection.
    const [previewLocal, previewRemote] = [[], []];
    for (let i = 0; i < ROUNDS; i++) {
      const pair = [
        async () => previewLocal.push(await time(() => local.preview({ parallel: 20 }))),
        async () => previewRemote.push(await time(() => remote.preview({ parallel: 20 }))),
      ];
      for (const run of i % 2 === 0 ? pair : pair.reverse()) await run();
    }
    record("pulumi preview of 20 new Rootfs on a host over SSH", median(previewRemote), "the same stack, local", median(previewLocal));
    const rounds = Math.min(ROUNDS, 3);
    const [upLocal, upRemote, refreshLocal, refreshRemote, logins] = [[], [], [], [], []];
    for (let i = 0; i < rounds; i++) {
      const pair = [
        async () => upLocal.push(await time(() => local.up({ parallel: 20 }))),
        async () => upRemote.push(await time(() => remote.up({ parallel: 20 }))),
      ];
      for (const run of i % 2 === 0 ? pair : pair.reverse()) await run();
      await local.destroy();
      await remote.destroy();
    }
    await local.up({ parallel: 20 });
    await remote.up({ parallel: 20 });
    for (let i = 0; i < ROUNDS; i++) {
      const pair = [
        async () => refreshLocal.push(await time(() => local.refresh({ parallel: 20 }))),
        async () => {
          const before = sshd.connections();
          refreshRemote.push(await time(() => remote.refresh({ parallel: 20 })));
          logins.push(sshd.connections() - before);
        },
      ];
      for (const run of i % 2 === 0 ? pair : pair.reverse()) await run();
    }
    await local.destroy();
    await remote.destroy();
    record("pulumi up of 20 loop Rootfs on a host over SSH", median(upRemote), "the same stack, local", median(upLocal));
    record("pulumi refresh of 20 Rootfs on a host over SSH", median(refreshRemote), "the same stack, local", median(refreshLocal));
    record("SSH logins per pulumi refresh of 20 Rootfs on one host", Math.max(...logins), "-", null, { unit: "count" });
  } finally {
    await sshd.stop();
  }
}

/**
 * First contact: one Rootfs on a host that has no agent yet (the agent and its Node.js are uploaded, checked
 * and unpacked), beside the same up on a host that has it. The host is this machine, so "fresh" is its
 * agents' directory emptied; the client's gzipped Node.js is made once before (a warm-up up), as any
 * machine that used a host before has it. The bytes come from sftp-server's log.
 */
async function firstContact(lib, stack, time, sshd) {
  const agents = path.join(os.homedir(), ".cache", "pulumi-lxc", "agent");
  const one = await stack("first1", async () => {
    new lib.Rootfs("f", { container: "first", lxcPath: EXT, backingStore: "loop", size: "1G", connection: sshd.connection });
  });
  await one.up();
  await one.destroy();
  const rounds = Math.min(ROUNDS, 3);
  const [fresh, installed, bytes] = [[], [], []];
  for (let i = 0; i < rounds; i++) {
    const pair = [
      async () => {
        fs.rmSync(agents, { recursive: true, force: true });
        const before = sshd.uploaded();
        fresh.push(await time(() => one.up()));
        bytes.push(sshd.uploaded() - before);
      },
      async () => installed.push(await time(() => one.up())),
    ];
    // The fresh up first in every round, each up after a destroy: "installed" needs the upload before it.
    for (const run of pair) {
      await run();
      await one.destroy();
    }
  }
  record(
    "pulumi up of 1 loop Rootfs on a fresh host (agent and Node.js uploaded)",
    median(fresh),
    "the same up, agent installed",
    median(installed),
  );
  record("bytes uploaded on first contact", Math.max(...bytes), "-", null, { unit: "bytes" });
}

function machine() {
  const mem = Math.round(os.totalmem() / 2 ** 30);
  const lxc = sh(["lxc-create", "--version"]).trim();
  return (
    `${os.cpus().length} × ${os.cpus()[0].model}, ${mem} GiB, Linux ${os.release()}, LXC ${lxc}, Node ${process.version}; ` +
    `lxcPath on ext4 (${WORK}/ext4, host /tmp), on btrfs (an 8 GiB loop image), and for the OS-image rows on a fresh 6 GiB ext4 loop image; ${ROUNDS} rounds, medians`
  );
}

function output() {
  if (JSON_OUT || process.env.BENCH_ONLY) {
    process.stdout.write(
      `${JSON.stringify(
        results.map(({ case: c, ours_s, peer, peer_s, ratio }) => ({ case: c, ours_s, peer, peer_s, ratio })),
        null,
        1,
      )}\n`,
    );
    return;
  }
  const lines = ["| case | ours | peer | peer's | ratio |", "|---|---|---|---|---|"];
  for (const r of results) {
    const u = { MB: " MB", count: "", bytes: " B" }[r.unit] ?? " s";
    lines.push(`| ${r.case} | ${r.ours_s}${u} | ${r.peer} | ${r.peer_s === null ? "-" : r.peer_s + u} | ${r.ratio ?? "-"} |`);
  }
  const md = `# Benchmark results\n\nMachine: ${machine()}.\nProduced by \`npm run bench\` on ${new Date().toISOString()}; ratio = ours / peer (lower is better).\n\n${lines.join("\n")}\n`;
  const notes = path.join(__dirname, "NOTES.md");
  fs.writeFileSync(path.join(__dirname, "RESULTS.md"), fs.existsSync(notes) ? `${md}\n${fs.readFileSync(notes, "utf8")}` : md);
  console.log(md);
}

main().catch((e) => {
  console.error(e);
  try {
    teardown();
  } catch {
    // The run failed already; teardown is best effort and its own error would hide the first.
  }
  process.exit(1);
});
