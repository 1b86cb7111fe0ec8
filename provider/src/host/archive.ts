/**
 * OS images as rootfs tarballs: which compression a tarball has, how GNU tar unpacks it exactly, and how
 * many bytes its tar stream holds. GNU tar is the reference for an exact unpack (numeric owners, modes with
 * setuid, ACLs, every xattr with `security.capability`, device nodes, FIFOs, hard links, holes, mtimes);
 * node-tar can make neither device nodes nor xattrs.
 */
import { promises as fs } from "fs";
import { InvalidInput, RootfsError } from "../model/errors";
import type { ByteProgress } from "../model/progress";
import { lineSplitter, onPath, processReadBytes, Runner } from "./run";

/** A compression, told from its magic bytes: the tar flag that reads it, and the tool and package behind it. */
interface Compression {
  magic: Buffer;
  /** The flag that has GNU tar read it, by a tool it runs with -d. */
  tarFlag: string;
  tool: string;
  /** Debian's package of the tool, for the message when it is missing. */
  pkg: string;
  /** The tool's own count of the bytes it holds, read without decompressing; null: decompress and count. */
  sizeArgv?: (file: string) => string[];
  parseSize?: (stdout: string) => number | null;
}

export const COMPRESSIONS = {
  gzip: { magic: Buffer.from([0x1f, 0x8b]), tarFlag: "--gzip", tool: "gzip", pkg: "gzip" },
  bzip2: { magic: Buffer.from("BZh"), tarFlag: "--bzip2", tool: "bzip2", pkg: "bzip2" },
  xz: {
    magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]),
    // xz decompresses the blocks of a multi-block file (what `xz -T0` makes, as image servers do) on every
    // core when told -T0 and reading a pipe, as tar gives it: 1.4 s rather than 2.2 s for the Debian image
    // on 2 cores. tar adds -d.
    tarFlag: "--use-compress-program=xz -T0",
    tool: "xz",
    pkg: "xz-utils",
    // The index at the end of every xz file holds the uncompressed size: `xz --robot --list`'s totals line.
    sizeArgv: (file) => ["xz", "--robot", "--list", "--", file],
    parseSize: (out) => {
      const totals = out.split("\n").find((l) => l.startsWith("totals\t"));
      const n = totals ? Number(totals.split("\t")[4]) : NaN;
      return Number.isSafeInteger(n) ? n : null;
    },
  },
  zstd: {
    magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]),
    tarFlag: "--zstd",
    tool: "zstd",
    pkg: "zstd",
    // Each frame may carry its content size; `zstd -lv` prints the sum when all do, and "Decompressed Size" only then.
    sizeArgv: (file) => ["zstd", "-lv", "--", file],
    parseSize: (out) => {
      const m = /Decompressed Size:.*\((\d+) B\)/.exec(out);
      return m ? Number(m[1]) : null;
    },
  },
} satisfies Record<string, Compression>;

export type CompressionName = keyof typeof COMPRESSIONS | "none";

/** The ustar magic at offset 257 of a tar header: how an uncompressed tarball is told from anything else. */
const USTAR = Buffer.from("ustar");

/**
 * The compression of the tarball open at `handle`, from its first bytes. A file that is neither a known
 * compression nor a tar archive is refused, naming `property`.
 */
export async function compressionOf(handle: fs.FileHandle, property: string, shown: string): Promise<CompressionName> {
  const head = Buffer.alloc(512);
  const { bytesRead } = await handle.read(head, 0, head.length, 0);
  const start = head.subarray(0, bytesRead);
  for (const [name, c] of Object.entries(COMPRESSIONS)) {
    if (start.subarray(0, c.magic.length).equals(c.magic)) return name as CompressionName;
  }
  if (bytesRead === 512 && head.subarray(257, 262).equals(USTAR)) return "none";
  throw new InvalidInput(
    property,
    shown,
    "a rootfs tarball (tar, or tar compressed with gzip, bzip2, xz or zstd, told from its first bytes)",
  );
}

/** Refuses, before anything is made, a compression whose tool this host lacks, naming its Debian package. */
export async function requireDecompressor(compression: CompressionName): Promise<void> {
  if (compression === "none") return;
  const { tool, pkg } = COMPRESSIONS[compression];
  if (!(await onPath(tool)))
    throw new RootfsError(`this image is ${compression}-compressed and ${tool} is not installed on the host: install ${pkg}`);
}

/**
 * GNU tar's exact unpack of the tarball on stdin into `dir`: owners as numbers (never mapped through the
 * host's names), modes with setuid, ACLs, every xattr (`security.capability` included: LXC 5.0's download
 * template drops it), holes. GNU tar also keeps the archive inside `dir`: it strips leading `/`, refuses
 * members with `..`, and makes a symlink that points outside (absolute, or climbing) only after every other
 * member, so no member is ever written through one.
 */
export function unpackArgv(dir: string, compression: CompressionName, acls = true): string[] {
  return [
    "tar",
    "--extract",
    "--file=-",
    `--directory=${dir}`,
    ...(compression === "none" ? [] : [COMPRESSIONS[compression].tarFlag]),
    "--numeric-owner",
    "--same-owner",
    "--preserve-permissions",
    // --acls sets each member's ACL from its ACL records, or else from its mode, over the ACL an xattr record
    // set just before: --no-acls where the archive keeps its ACLs as xattr records only, or where the
    // filesystem keeps none (then tar would warn for every file). The listing (-vvv, on stdout) says which.
    acls ? "--acls" : "--no-acls",
    "--verbose",
    "--verbose",
    "--verbose",
    "--xattrs",
    "--xattrs-include=*",
    "--sparse",
  ];
}

/**
 * What GNU tar prints, and then exits 0, when an xattr or ACL of the archive is not kept: the filesystem
 * refused it, or an ACL's text names a user or group the host lacks. Each is data lost: the unpack fails.
 */
export const TAR_NOT_KEPT =
  /Cannot set '.*' extended attribute for file|Cannot (set|drop default) POSIX ACLs for file|Cannot acl_from_text/;

/** A member line of `tar -vv` (`-rw-r--r--+ 0/0  1 2026-12-07 21:08 ./srv/acl/file`): its mode, its marker (`+` ACLs, `*` xattrs), the rest. */
const MEMBER = /^(\S{10})(.) (.*)$/;
/** A detail line of `tar -vvv`: an xattr record of the member above, by name. */
const ACL_XATTR_RECORD = /^ {2}x: \d+ system\.posix_acl_(access|default)$/;

/**
 * What a listing (`tar --list` or `--extract` with -vvv and --acls) says of its members' POSIX ACLs: how many
 * carry ACL records (`+`), and how many carry an ACL only as a `system.posix_acl_*` xattr record (as Go's
 * archive/tar and umoci write them), which --acls replaces with one made from the mode: the first of each.
 */
export interface AclForms {
  records: number;
  firstRecord: string | null;
  xattrOnly: number;
  firstXattrOnly: string | null;
}

/** A member's name from the rest of its line (owner, size, date, time, name); the whole rest where tar printed a date it could not format. */
const nameIn = (rest: string) => /^\S+ +\S+ +\d{4}-\d\d-\d\d \d\d:\d\d (.*)$/.exec(rest)?.[1] ?? rest;

/** Reads a -vvv listing line by line; `forms()` once it has ended. Names are escaped by tar: a line is a line. */
export function aclFormsOfListing(): { onLine(line: string): void; forms(): AclForms } {
  const forms: AclForms = { records: 0, firstRecord: null, xattrOnly: 0, firstXattrOnly: null };
  let member: { marker: string; rest: string; counted: boolean } | null = null;
  return {
    onLine(line) {
      const m = MEMBER.exec(line);
      if (m && !line.startsWith(" ")) {
        member = { marker: m[2], rest: nameIn(m[3]), counted: false };
        if (member.marker === "+" && forms.records++ === 0) forms.firstRecord = member.rest;
        return;
      }
      if (member && !member.counted && member.marker !== "+" && ACL_XATTR_RECORD.test(line)) {
        member.counted = true;
        if (forms.xattrOnly++ === 0) forms.firstXattrOnly = member.rest;
      }
    },
    forms: () => forms,
  };
}

/**
 * What a tarball's members carry of POSIX ACLs (aclFormsOfListing), read by `tar --list -vvv`: a whole read
 * of the tarball, made only where the new tree cannot keep ACLs.
 */
export async function aclFormsOf(run: Runner, file: string, compression: CompressionName): Promise<AclForms> {
  const listing = aclFormsOfListing();
  await run(
    [
      "tar",
      "--list",
      "--verbose",
      "--verbose",
      "--verbose",
      "--acls",
      "--xattrs",
      "--xattrs-include=*",
      `--file=${file}`,
      ...(compression === "none" ? [] : [COMPRESSIONS[compression].tarFlag]),
    ],
    { onStdout: lineSplitter(listing.onLine) },
  );
  return listing.forms();
}

/**
 * The bytes of the tar stream inside a tarball: the tree's size as the planner counts it. xz's index and
 * zstd's frame headers say it without decompressing; otherwise (gzip, whose ISIZE is the size modulo
 * 4 GiB, and bzip2) the stream is decompressed and counted.
 */
export async function tarStreamBytes(
  run: Runner,
  file: string,
  compression: CompressionName,
  archiveBytes: number,
  progress?: ByteProgress,
): Promise<number> {
  if (compression === "none") return archiveBytes;
  const c: Compression = COMPRESSIONS[compression];
  if (c.sizeArgv && c.parseSize) {
    const told = c.parseSize((await run(c.sizeArgv(file))).stdout);
    if (told !== null) return told;
  }
  let bytes = 0;
  // Its progress: how much of the file the decompressor has read.
  progress?.total(archiveBytes);
  await run([c.tool, "-dc", "--", file], {
    onStdout: (chunk) => (bytes += chunk.length),
    onSpawn: (pid) => progress?.measure(() => processReadBytes(pid)),
  });
  return bytes;
}

/**
 * The text of the members of a small tarball (an image's metadata) whose names, without a leading `./`,
 * are `wanted`; GNU tar tells the compression. Read to stdout: nothing is written on the host.
 */
export async function readTarMembers(run: Runner, file: string, wanted: readonly string[]): Promise<Record<string, string>> {
  const names = (await run(["tar", "--list", "--file", file])).stdout.split("\n");
  const out: Record<string, string> = {};
  for (const member of names) {
    const name = member.replace(/^\.\//, "");
    if (wanted.includes(name) && !(name in out))
      out[name] = (await run(["tar", "--extract", "--to-stdout", "--file", file, "--", member], { maxOutput: 1 << 20 })).stdout;
  }
  return out;
}
