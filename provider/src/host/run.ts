import { spawn } from "child_process";
import { ToolFailed } from "../model/errors";

export interface RunOptions {
  /** Exit codes that count as success (e2fsck: 0-2). Default [0]. */
  okCodes?: number[];
  /** Collect at most this many bytes of stdout. */
  maxOutput?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command: always an argument array, never a shell. */
export type Runner = (argv: readonly string[], opts?: RunOptions) => Promise<RunResult>;

const MAX_OUTPUT = 4 * 1024 * 1024;

/**
 * The real runner. Every tool runs under `setpriv --pdeathsig KILL`, so it dies with us: a killed
 * operation leaves no cp or mkfs writing on. stdin is /dev/null so no tool can ever wait on a prompt;
 * LC_ALL=C keeps outputs parseable.
 */
export const run: Runner = (argv, opts = {}) =>
  new Promise((resolve, reject) => {
    const okCodes = opts.okCodes ?? [0];
    const max = opts.maxOutput ?? MAX_OUTPUT;
    const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", ...argv], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LC_ALL: "C", LANG: "C" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      if (stdout.length < max) stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      // The end matters most (the final error, our helper's marker line): keep the last 64 KiB.
      stderr += d.toString();
      if (stderr.length > 65536) stderr = stderr.slice(-65536);
    });
    child.on("error", (e: NodeJS.ErrnoException) => {
      reject(new ToolFailed(argv, null, e.code === "ENOENT" ? `${argv[0]}: command not found; install it` : e.message));
    });
    child.on("close", (code, signal) => {
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
