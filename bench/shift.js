/**
 * One owner shift of a dir rootfs by Proxmox's map (container 0 on host 100000), through the executor as an
 * `idmap` change will run it: its mount helper started, the tree walked. Argv: the container directory, then
 * "there" (0 → 100000) or "back". Prints the seconds the shift took, the Node.js start of this script left
 * out (every operation pays one).
 */
const path = require("path");
const DIST = path.join(__dirname, "..", "dist", "provider", "src");
const { shiftStore } = require(path.join(DIST, "executor", "shift"));
const { makeContext } = require(path.join(DIST, "executor", "context"));
const { DRIVERS } = require(path.join(DIST, "drivers"));
const { idmapOf } = require(path.join(DIST, "model", "idmap"));

async function main() {
  const [containerDir, way] = process.argv.slice(2);
  const map = idmapOf([{ kind: "both", containerId: 0, hostId: 100000, size: 65536 }]);
  const driver = DRIVERS.dir;
  const spec = { container: path.basename(containerDir), lxcPath: path.dirname(containerDir), backingStore: "dir" };
  const end = { driver, loc: driver.locate(spec, containerDir), fstype: null };
  const t = process.hrtime.bigint();
  await shiftStore(makeContext(containerDir, {}), end, way === "there" ? null : map, way === "there" ? map : null);
  process.stdout.write(`${Number(process.hrtime.bigint() - t) / 1e9}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
