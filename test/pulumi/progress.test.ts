/**
 * Progress of a long copy through the real engine, with the disk made slow for real (reads limited by the
 * blkio controller, the seed dropped from the page cache). The plugin (a YAML program): `pulumi up
 * --event-log` records the copy's progress as ephemeral diagnostics of the resource's URN, what, bytes and
 * rate, 3 s apart, and the final output keeps none of them. The dynamic provider, whose lines all stay:
 * one line each 12 s at most, none in the first 12 s.
 */
import { promises as fs } from "fs";
import path from "path";
import { must, REPO, sh } from "../helpers/env";
import { CliProject, cliProject, destroyStackUnder, makeStack, TestStack, TOOLS } from "../helpers/pulumi";
import { dropFromCache, withReadsThrottled } from "../helpers/throttle";
import { tempDir } from "../helpers/env";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Rootfs } = require(path.join(REPO, "dist", "provider", "src", "index.js"));

const PROJECT = path.join(__dirname, "fixtures", "progress-yaml");
const MiB = 2 ** 20;
const SEED_MIB = 320;
const LINE = /^copying files: \d+(?:\.\d)? (?:KiB|MiB|GiB) of ~\d+(?:\.\d)? (?:MiB|GiB), (\d+(?:\.\d)?) (KiB|MiB)\/s$/;

/** A seed tree with `mib` MiB of data no filesystem can compress or skip. */
async function makeSeed(dir: string, mib: number): Promise<string> {
  const seed = path.join(dir, "seed");
  await fs.mkdir(seed);
  await must(["sh", "-c", `head -c ${mib}M /dev/urandom > "$0"`, path.join(seed, "random.bin")]);
  return seed;
}

interface DiagnosticEvent {
  urn: string;
  message: string;
  severity: string;
  ephemeral?: boolean;
}

describe("the plugin", () => {
  let cli: CliProject;
  let lxcPath: string;
  let seed: string;

  beforeAll(async () => {
    cli = await cliProject("progress", PROJECT, "progress");
    lxcPath = path.join(cli.work, "lxc");
    await fs.mkdir(lxcPath);
    seed = await makeSeed(cli.work, SEED_MIB);
    expect((await cli.pulumi("stack", "init", "progress")).code).toBe(0);
    expect((await cli.pulumi("config", "set", "lxcPath", lxcPath)).code).toBe(0);
    expect((await cli.pulumi("config", "set", "from", `dir:${seed}`)).code).toBe(0);
  });

  afterAll(async () => {
    const destroyed = await cli.pulumi("destroy", "--yes");
    await cli.cleanup();
    expect(destroyed.code).toBe(0);
  });

  it("sends a long copy's progress as ephemeral status lines of the resource, which the final output drops", async () => {
    const events = path.join(cli.work, "events.jsonl");
    await dropFromCache(seed);
    // 40 MiB/s: the copy takes 8 s.
    const up = await withReadsThrottled(seed, 40 * MiB, (t) =>
      sh(
        t.argv([
          path.join(TOOLS, "bin", "pulumi"),
          "--cwd",
          PROJECT,
          "--non-interactive",
          "up",
          "--yes",
          "--event-log",
          events,
          "--stack",
          "progress",
        ]),
        // --event-log is one of the debugging commands' flags.
        { env: { ...cli.env, PULUMI_DEBUG_COMMANDS: "true" } },
      ),
    );
    // On failure, the engine's own words.
    expect(up.code === 0 ? "" : up.stdout + up.stderr).toBe("");
    const all = (await fs.readFile(events, "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { timestamp: number; diagnosticEvent?: DiagnosticEvent });
    const diagnostics = all.filter((e) => e.diagnosticEvent);
    const progress = diagnostics.filter((e) => e.diagnosticEvent!.message.startsWith("copying files"));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const { diagnosticEvent: d } of progress) {
      expect(d).toMatchObject({ urn: expect.stringMatching(/::lxc:index:Rootfs::web$/), severity: "info", ephemeral: true });
      const rate = LINE.exec(d!.message.trimEnd());
      expect(rate).not.toBeNull();
      expect(Number(rate![1]) * (rate![2] === "MiB" ? MiB : 1024)).toBeLessThanOrEqual(52 * MiB);
    }
    // 3 s apart at least (the event log counts whole seconds).
    for (let i = 1; i < progress.length; i++) expect(progress[i].timestamp - progress[i - 1].timestamp).toBeGreaterThanOrEqual(2);
    // The resource's lasting lines are its own notes, never progress: the engine shows progress in the
    // resource's row while it runs, and keeps none of it among the diagnostics printed at the end.
    expect(diagnostics.filter((e) => !e.diagnosticEvent!.ephemeral && /copying files:/.test(e.diagnosticEvent!.message))).toEqual([]);
    expect(up.stdout).toMatch(/\+ {2}lxc:index:Rootfs web creating \(\d+s\) copying files: /);
    const kept = up.stdout.slice(up.stdout.lastIndexOf("\nDiagnostics:"));
    expect(kept).toMatch(/filled from `from` by cp/);
    expect(kept).not.toMatch(/copying files:/);
  });
});

describe("the dynamic provider", () => {
  let lxcPath: string;
  let seed: string;
  let t: TestStack;

  beforeAll(async () => {
    lxcPath = await tempDir("progress-dynamic");
    seed = await makeSeed(lxcPath, SEED_MIB);
    t = await makeStack("progress-dynamic", async () => {
      new Rootfs("web", { container: "web", lxcPath, backingStore: "loop", size: "1G", from: `dir:${seed}` });
    });
  });
  afterAll(() => destroyStackUnder(t, lxcPath));

  it("prints one line each 12 s at most, the first after 12 s: each stays in the output", async () => {
    await dropFromCache(seed);
    // 20 MiB/s: the copy takes 16 s, so one line passes.
    const started = Date.now();
    const { text } = await withReadsThrottled(seed, 20 * MiB, () => t.run((onOutput) => t.stack.up({ onOutput })));
    const seconds = (Date.now() - started) / 1000;
    // The console's lines land under the stack's row as they come, then once in the diagnostics that stay.
    const diagnostics = text.slice(text.indexOf("\nDiagnostics:"));
    const lines = diagnostics.split("\n").filter((l) => /copying files:/.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(Math.floor(seconds / 12));
    for (const l of lines) expect(l.trim()).toMatch(new RegExp(`^rootfs ${lxcPath}/web: ${LINE.source.slice(1)}`));
    // None came within 12 s: the row shows how long the stack had been creating (it started before the rootfs).
    const first = /creating \((\d+)s\) rootfs [^\n]*: copying files:/.exec(text);
    expect(Number(first![1])).toBeGreaterThanOrEqual(12);
  });
});
