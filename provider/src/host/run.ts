import { spawn } from "child_process";
import { constants as fsConstants, promises as fs } from "fs";
import { Writable } from "stream";
import { StringDecoder } from "string_decoder";
import { ToolFailed } from "../model/errors";

export interface RunOptions {
  /** Exit codes that count as success (e2fsck: 0-2). Default [0]. */
  okCodes?: number[];
  /** Collect at most this many bytes of stdout. */
  maxOutput?: number;
  /**
   * What the tool reads on stdin (default: nothing, /dev/null): a text (what must not be in an argv, which
   * any user can read in /proc), or a file streamed through this process, `onRead` seeing every byte in
   * order and then the rest of the file the tool left unread: a hash taken there covers exactly what the
   * tool was given.
   */
  stdin?: { file: string; onRead: (chunk: Buffer) => void } | { text: string };
  /** Where stdout goes, chunk by chunk, instead of being collected: for output too large to hold. */
  onStdout?: (chunk: Buffer) => void;
  /** Sees stderr chunk by chunk as it comes (a helper's progress lines), besides its collection. */
  onStderr?: (chunk: Buffer) => void;
  /** The tool's process id, once it is started: what a caller measures it by (its reads, for progress). */
  onSpawn?: (pid: number) => void;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command: always an argument array, never a shell. */
export type Runner = (argv: readonly string[], opts?: RunOptions) => Promise<RunResult>;

const MAX_OUTPUT = 4 * 1024 * 1024;

/** Whether `sink` still takes data: not destroyed (the tool exited, EPIPE) nor ended. */
const takes = (sink: Writable): boolean => !sink.destroyed && !sink.writableEnded;

/** Until `sink` wants more, or is gone; at once when it is gone already (its events have fired). */
function drained(sink: Writable): Promise<void> {
  if (!takes(sink)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      sink.off("drain", done);
      sink.off("close", done);
      sink.off("error", done);
      resolve();
    };
    sink.on("drain", done);
    sink.on("close", done);
    sink.on("error", done);
  });
}

/**
 * Streams `file` into `sink` chunk by chunk, through `onRead`, to the file's end; a sink that is gone (the
 * tool is done, or failed) gets no more. The sink is always ended or destroyed, so the tool never waits on
 * its stdin: a file that cannot be opened ends it at once.
 */
async function feed(file: string, sink: Writable, onRead: (chunk: Buffer) => void): Promise<void> {
  sink.on("error", () => undefined); // EPIPE: the tool stopped reading, which its exit status judges
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, "r");
  } catch (e) {
    sink.destroy();
    throw e;
  }
  try {
    const buffer = Buffer.alloc(1 << 20);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      const chunk = Buffer.from(buffer.subarray(0, bytesRead));
      onRead(chunk);
      if (takes(sink) && !sink.write(chunk)) await drained(sink);
    }
  } finally {
    await handle.close();
    if (takes(sink)) sink.end();
  }
}

/**
 * The real runner. Every tool runs under `setpriv --pdeathsig KILL`, so it dies with us: a killed
 * operation leaves no cp or mkfs writing on. stdin is /dev/null unless a file is given, so no tool can
 * ever wait on a prompt; LC_ALL=C keeps outputs parseable.
 */
export const run: Runner = (argv, opts = {}) =>
  new Promise((resolve, reject) => {
    const okCodes = opts.okCodes ?? [0];
    const max = opts.maxOutput ?? MAX_OUTPUT;
    const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", ...argv], {
      stdio: [opts.stdin ? "pipe" : "ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C", LANG: "C" },
    });
    let stdout = "";
    let stderr = "";
    let fed: Promise<void> = Promise.resolve();
    const stdin = opts.stdin;
    if (stdin && "text" in stdin) {
      child.stdin!.on("error", () => undefined); // EPIPE: the tool did not read it all, which its status judges
      child.stdin!.end(stdin.text);
    } else if (stdin) fed = feed(stdin.file, child.stdin!, stdin.onRead);
    // A file that cannot be read fails the run once the tool is done (it sees its stdin end early).
    let feedError: unknown;
    fed.catch((e: unknown) => (feedError = e));
    child.stdout!.on("data", (d: Buffer) => {
      if (opts.onStdout) opts.onStdout(d);
      else if (stdout.length < max) stdout += d.toString();
    });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    child.stderr!.on("data", (d: Buffer) => {
      opts.onStderr?.(d);
      // The end matters most (the final error, our helper's marker line): keep the last 64 KiB.
      stderr += d.toString();
      if (stderr.length > 65536) stderr = stderr.slice(-65536);
    });
    child.on("error", (e: NodeJS.ErrnoException) => {
      reject(new ToolFailed(argv, null, e.code === "ENOENT" ? `${argv[0]}: command not found; install it` : e.message));
    });
    child.on("close", async (code, signal) => {
      await fed.catch(() => undefined);
      if (feedError) return reject(feedError);
      const c = code ?? -1;
      if (c === 127 && /setpriv: failed to execute/.test(stderr)) {
        return reject(new ToolFailed(argv, null, `${argv[0]}: command not found; install it`));
      }
      if (signal || !okCodes.includes(c)) {
        reject(new ToolFailed(argv, signal ? null : c, stderr || stdout));
      } else {
        resolve({ code: c, stdout, stderr });
      }
    });
  });

/**
 * The bytes a running process has read (`rchar` of /proc/<pid>/io: read(2), and copy_file_range(2) too),
 * which for a copying tool is how far its copy is; null once it has exited.
 */
export async function processReadBytes(pid: number): Promise<number | null> {
  const io = await fs.readFile(`/proc/${pid}/io`, "utf8").catch(() => null);
  const m = io && /^rchar:\s*(\d+)$/m.exec(io);
  return m ? Number(m[1]) : null;
}

/**
 * Whether `tool` is an executable on PATH, as spawn would find it: a check before anything is made that
 * costs no process (a Go tool's start alone is 20 ms).
 */
export async function onPath(tool: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? "").split(":").filter((d) => d.startsWith("/"))) {
    const found = await fs.access(`${dir}/${tool}`, fsConstants.X_OK).then(
      () => true,
      () => false,
    );
    if (found) return true;
  }
  return false;
}

/** Calls `onLine` with each whole line of a stream, as its chunks come. */
export function lineSplitter(onLine: (line: string) => void): (chunk: Buffer) => void {
  const decoder = new StringDecoder("utf8");
  let buffered = "";
  return (chunk) => {
    buffered += decoder.write(chunk);
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      onLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  };
}
