/**
 * Commands on a host over an SSH connection. SSH carries a command line, not an argument array, so every
 * argument is single-quoted here and the host's shell splits exactly what was given, nothing more.
 */
import type { Client, ClientChannel } from "ssh2";
import { RootfsError } from "../../model/errors";

/** One argument for a POSIX shell: quoted so that no character in it means anything to the shell. */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** An argument array as one command line. */
export function commandLine(argv: string[]): string {
  return argv.map(shellQuote).join(" ");
}

/** Opens a channel running `argv`; its stdin, stdout and stderr are the channel's. */
export function open(client: Client, argv: string[]): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    client.exec(commandLine(argv), (err, channel) => (err ? reject(new RootfsError(`ssh: ${err.message}`)) : resolve(channel)));
  });
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `argv` to its end and collects its output. */
export async function run(client: Client, argv: string[]): Promise<Ran> {
  const channel = await open(client, argv);
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let code: number | null = null;
    channel.on("data", (d: Buffer) => (stdout += d.toString()));
    channel.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    channel.on("exit", (c: number | null) => (code = c));
    channel.on("close", () => resolve({ code, stdout, stderr }));
    channel.end();
  });
}
