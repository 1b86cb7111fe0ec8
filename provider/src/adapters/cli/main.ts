/**
 * `lxc-rootfs`: the storage core from a shell. A thin adapter: it parses flags, makes one core call and
 * prints one JSON object; errors go to stderr naming the option.
 */
import { parseArgs } from "util";
import { InvalidInput, RootfsError } from "../../model/errors";
import { CHANGE_KEYS } from "../../model/requests";
import { fstypeValues } from "../../model/schema";
import { DRIVERS } from "../../drivers";
import { localCore } from "../../api";

/** The stores, from the driver table: the one place that lists them. */
const STORES = Object.keys(DRIVERS);

/** CLI option for each input property, so errors name what the user typed. */
const OPTIONS: Record<string, string> = {
  lxcpath: "lxcPath",
  name: "container",
  "backing-store": "backingStore",
  size: "size",
  fstype: "fstype",
  from: "from",
  source: "source.url",
  sha256: "source.sha256",
  vgname: "vgName",
  lvname: "lvName",
  thinpool: "thinPool",
  zfsroot: "zfsRoot",
  idmap: "idmap",
  "idmap-mode": "idmapMode",
  "rootfs-path": "rootfsPath",
  snapshot: "snapshotName",
  comment: "comment",
};

/** Flags given once per entry of a list input. */
const LISTS = new Set(["idmap"]);

/** An `--idmap` value: one entry as a config's lxc.idmap line, with `b` for both kinds; `none` for none. */
const IDMAP_ENTRY = /^([ugb]) +(\d+) +(\d+) +(\d+)$/;
const IDMAP_ALLOWED = '"u|g|b <containerId> <hostId> <size>" (b: both), once per range, or "none" for a privileged container';

function idmapEntries(values: string[]): unknown[] {
  if (values.length === 1 && values[0] === "none") return [];
  return values.map((v) => {
    const m = IDMAP_ENTRY.exec(v.trim());
    if (!m) throw new InvalidInput("idmap", v, IDMAP_ALLOWED);
    const kind = { u: "uid", g: "gid", b: "both" }[m[1]];
    return { kind, containerId: Number(m[2]), hostId: Number(m[3]), size: Number(m[4]) };
  });
}

/** Properties a request names otherwise than a flag's (a snapshot's own name is `name`, as in its resource). */
const REQUEST_NAMES: Record<string, string> = { snapshotName: "name" };

const USAGE = `usage:
  lxc-rootfs create  --lxcpath DIR --name NAME --backing-store STORE [--size SIZE] [--fstype FS] [--from ROOTFS | --source TARBALL [--sha256 HEX]] [--idmap MAP]... [--idmap-mode shift|mount]
  lxc-rootfs create-plan (the same as create)
  lxc-rootfs update  --lxcpath DIR --name NAME [--backing-store STORE] [--size SIZE] [--fstype FS] [--idmap MAP]... [--idmap-mode shift|mount]
  lxc-rootfs inspect --lxcpath DIR --name NAME
  lxc-rootfs destroy --lxcpath DIR --name NAME
  lxc-rootfs snapshot         --lxcpath DIR --name NAME --snapshot SNAP [--comment TEXT]
  lxc-rootfs snapshot-plan    --lxcpath DIR --name NAME --snapshot SNAP
  lxc-rootfs snapshot-inspect --lxcpath DIR --name NAME --snapshot SNAP
  lxc-rootfs snapshot-destroy --lxcpath DIR --name NAME --snapshot SNAP
store options: --vgname VG --lvname LV --thinpool POOL (lvm), --zfsroot DATASET (zfs)
inspect, destroy, update: --rootfs-path ROOTFS names the storage when the container's config does not
MAP: "u|g|b <containerId> <hostId> <size>", once per range ("b 0 100000 65536"), or "none" (privileged); a
  create without one takes the config's lxc.idmap lines, an update shifts the owners in place
--idmap-mode mount (dir only): the owners kept a privileged rootfs's, lxc.rootfs.options = idmap=container
  written; an update to another mode shifts the owners in place (to none, or into the map)
STORE: ${STORES.join(", ")}   FS: ${fstypeValues.join(", ")}   SIZE: bytes or 512M, 2G, 1GiB`;

class UsageError extends Error {}

/** The properties each command takes besides container and lxcPath: the core's requests' own. */
const TAKES: Record<string, readonly string[]> = {
  create: [...CHANGE_KEYS, "from", "source"],
  "create-plan": [...CHANGE_KEYS, "from", "source"],
  update: [...CHANGE_KEYS, "rootfsPath"],
  inspect: ["rootfsPath"],
  destroy: ["rootfsPath"],
  snapshot: ["snapshotName", "comment"],
  "snapshot-plan": ["snapshotName"],
  "snapshot-inspect": ["snapshotName"],
  "snapshot-destroy": ["snapshotName"],
};

function optionOf(property: string): string {
  // An entry of a list input (idmap[1].size) is named after its flag: --idmap[1].size.
  const entry = /^(\w+)(\[\d+\].*)$/.exec(property);
  if (entry && LISTS.has(entry[1])) return `--${entry[1]}${entry[2]}`;
  const own = Object.keys(REQUEST_NAMES).find((k) => REQUEST_NAMES[k] === property) ?? property;
  // An object input (source) is named by the flag of its first property (--source for source.url).
  const flag = Object.keys(OPTIONS).find((k) => OPTIONS[k] === own) ?? Object.keys(OPTIONS).find((k) => OPTIONS[k].startsWith(`${own}.`));
  return flag ? `--${flag}` : property;
}

/** `--size -1G` means the value -1G (to be refused as a size), not a missing value. */
function joinValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i].startsWith("--") ? argv[i].slice(2) : "";
    if (flag in OPTIONS && i + 1 < argv.length) out.push(`--${flag}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

/**
 * A failure as one line: ours say what and why; anything else (a system call's error) by its message,
 * never a stack, which LXC_ROOTFS_DEBUG=1 brings back for a bug report.
 */
function oneLine(e: unknown): string {
  if (e instanceof RootfsError) return e.message;
  if (process.env.LXC_ROOTFS_DEBUG && e instanceof Error && e.stack) return e.stack;
  const message = e instanceof Error ? e.message : String(e);
  return message.split("\n")[0];
}

export async function main(argv: string[], out = process.stdout, err = process.stderr): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinValues(argv),
      allowPositionals: true,
      options: Object.fromEntries(
        [...Object.keys(OPTIONS), "help"].map((k) => [k, { type: k === "help" ? "boolean" : "string", multiple: LISTS.has(k) }]),
      ),
    });
  } catch (e) {
    err.write(`lxc-rootfs: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [command, ...extra] = parsed.positionals;
  if (parsed.values.help || !command) {
    (parsed.values.help ? out : err).write(`${USAGE}\n`);
    return parsed.values.help ? 0 : 2;
  }
  const inputs: Record<string, unknown> = {};
  for (const [flag, prop] of Object.entries(OPTIONS)) {
    const v = parsed.values[flag];
    if (v === undefined) continue;
    if (Array.isArray(v)) {
      inputs[prop] = v;
      continue;
    }
    // A property of an object input (source.url) goes into that object.
    const [own, inner] = prop.split(".");
    if (inner === undefined) inputs[own] = v;
    else inputs[own] = { ...(inputs[own] as object | undefined), [inner]: v };
  }
  // Progress only to a person at a terminal, on one line rewritten in place; a log or a script sees none.
  let progressShown = false;
  const clearProgress = () => {
    if (progressShown) err.write("\r\x1b[K");
    progressShown = false;
  };
  const log = (m: string) => {
    clearProgress();
    err.write(`lxc-rootfs: ${m}\n`);
  };
  const progress = (err as NodeJS.WriteStream).isTTY
    ? (line: string) => {
        err.write(`\r\x1b[K${line}`);
        progressShown = true;
      }
    : undefined;
  try {
    if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    if (inputs.lxcPath === undefined) throw new InvalidInput("lxcPath", undefined, "required");
    if (inputs.container === undefined) throw new InvalidInput("container", undefined, "required");
    if (!(command in TAKES)) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    if (inputs.idmap !== undefined) inputs.idmap = idmapEntries(inputs.idmap as string[]);
    const { container, lxcPath, rootfsPath, ...rest } = inputs;
    for (const prop of Object.keys(inputs)) {
      if (prop === "container" || prop === "lxcPath" || TAKES[command].includes(prop)) continue;
      // inspect and destroy find the storage from the container's config, whatever store it is.
      const hint = !["inspect", "destroy", "update"].includes(command)
        ? ""
        : "; the rootfs is found from the container's config, or named with --rootfs-path";
      throw new UsageError(`${optionOf(prop)} does not apply to ${command}${hint}`);
    }
    const ref = { container, lxcPath, rootfsPath };
    const snapshot = { container, lxcPath, name: inputs.snapshotName, comment: inputs.comment };
    if (command.startsWith("snapshot") && inputs.snapshotName === undefined) throw new InvalidInput("name", undefined, "required");
    let result: unknown;
    switch (command) {
      case "create":
      case "create-plan":
        if (inputs.backingStore === undefined)
          throw new InvalidInput("backingStore", undefined, `required: ${STORES.slice(0, -1).join(", ")} or ${STORES.at(-1)}`);
        // The plan is what a preview shows: the create's own checks against the host, read-only.
        result = command === "create" ? await localCore.create(inputs, { log, progress }) : await localCore.planCreate(inputs, { log });
        break;
      case "update":
        // One call: what is not given is kept from the host, read inside the container's lock.
        result = await localCore.update(ref, rest, { log, progress });
        break;
      case "inspect":
        result = await localCore.inspect(ref, { log });
        if (!result) throw new RootfsError(`no rootfs for ${inputs.container} in ${inputs.lxcPath}`);
        break;
      case "destroy":
        result = await localCore.destroy(ref, { log });
        break;
      case "snapshot":
        result = await localCore.createSnapshot(snapshot, { log, progress });
        break;
      case "snapshot-plan":
        result = await localCore.planSnapshot(snapshot, { log });
        break;
      case "snapshot-inspect":
        result = await localCore.inspectSnapshot(snapshot, { log });
        if (!result) throw new RootfsError(`no snapshot ${String(inputs.snapshotName)} of ${inputs.container} in ${inputs.lxcPath}`);
        break;
      case "snapshot-destroy":
        result = await localCore.destroySnapshot(snapshot, { log });
        break;
    }
    clearProgress();
    out.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (e) {
    clearProgress();
    if (e instanceof InvalidInput) {
      err.write(`lxc-rootfs: ${optionOf(e.property)}: invalid value ${JSON.stringify(e.value) ?? "(missing)"}: ${e.allowed}\n`);
      return 2;
    }
    if (e instanceof UsageError) {
      err.write(`lxc-rootfs: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    err.write(`lxc-rootfs: ${oneLine(e)}\n`);
    return 1;
  }
}
