/**
 * Commands sent over SSH are one line that the host's shell splits: every argument is single-quoted, so the
 * shell hands over exactly the arguments given, whatever they hold. Checked against a real POSIX shell.
 */
import { spawnSync } from "child_process";
import { commandLine } from "../../provider/src/adapters/remote/exec";

const HOSTILE = [
  "plain",
  "with space",
  "it's",
  "'",
  "''",
  '"double"',
  "$(touch /tmp/pwned)",
  "`id`",
  "$HOME",
  "a;b&&c||d|e",
  "*",
  "new\nline",
  "back\\slash",
  "-n",
  "",
  "\t",
  "é ü 中",
];

it("a POSIX shell splits the command line back into exactly the arguments given", () => {
  // printf prints each argument it receives, NUL-terminated: what the shell made of the line.
  const r = spawnSync("sh", ["-c", `printf '%s\\0' ${commandLine(HOSTILE)}`], { encoding: "utf8" });
  expect(r.status).toBe(0);
  expect(r.stdout.split("\0").slice(0, -1)).toEqual(HOSTILE);
});
