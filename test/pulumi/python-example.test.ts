/**
 * examples/python, a Python program on the generated Python SDK (sdk/python), through the real engine, the
 * `pulumi` CLI and the lxc plugin: create a loop rootfs, move it to btrfs keeping its data (on a scratch
 * btrfs), destroy. Pulumi's Python language host (a Go program) is not served by the Go module proxy this
 * project builds from: `npm test` installs scripts/pulumi-language-python.py in its place, which runs
 * __main__.py with the Python SDK's own in-process language server (pulumi from PyPI, in a virtualenv).
 */
import { promises as fs } from "fs";
import path from "path";
import { must, REPO, tempDir } from "../helpers/env";
import { Example, exampleOnBtrfs, expectCreatePreviews, playThroughCli } from "../helpers/examples";

let ex: Example;
let sdkCopy: string;

beforeAll(async () => {
  // The generated SDK with its package metadata (the SDK reads its own version from it), as `pip install
  // ./sdk/python` would give, made offline by setuptools in a copy: nothing is written into sdk/.
  sdkCopy = await tempDir("python-sdk");
  const sdk = path.join(sdkCopy, "python");
  await must(["cp", "-a", path.join(REPO, "sdk", "python"), sdk]);
  await must(["python3", "setup.py", "-q", "egg_info"], { cwd: sdk });
  ex = await exampleOnBtrfs("python", path.join(REPO, "examples", "python"), "python", { PYTHONPATH: sdk });
});

afterAll(async () => {
  await ex.pulumi("destroy", "--yes");
  await ex.cleanup();
  await fs.rm(sdkCopy, { recursive: true, force: true });
});

it("a preview of the create asks the host through the plugin: its plan line, and a size the host cannot hold", async () => {
  await expectCreatePreviews(ex);
});

it("creates a loop rootfs, moves it to btrfs keeping the data, destroys it", async () => {
  // The host ends quietly when the engine stops it.
  await playThroughCli(ex, (text) => expect(text).not.toMatch(/Traceback|KeyboardInterrupt/));
});
