/**
 * The mount helper's errors come back as themselves: it runs in a child process with a private mount
 * namespace and reports a failure as JSON, which must keep the class and its fields.
 */
import { promises as fs } from "fs";
import path from "path";
import { SyscallError } from "../../provider/src/model/errors";
import { makeContext } from "../../provider/src/executor/context";
import { runIsolated } from "../../provider/src/executor/isolated";
import { tempDir } from "../helpers/env";
import { expectNoLeaksAndRemove } from "../helpers/leaks";

let dir: string;
beforeAll(async () => {
  dir = await tempDir("isolated");
});
afterAll(() => expectNoLeaksAndRemove(dir));

it("a mount that fails in the helper is a SyscallError with its errno name", async () => {
  const notADevice = path.join(dir, "plain-file");
  await fs.writeFile(notADevice, Buffer.alloc(1 << 20));
  const err = await runIsolated(makeContext(dir, {}), { kind: "grow-fs", containerDir: dir, device: notADevice, fstype: "xfs" }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SyscallError);
  expect(err).toMatchObject({ syscall: "mount", code: "ENOTBLK" });
  expect((err as Error).message).toMatch(/^mount\(.*plain-file.*\) failed: ENOTBLK$/);
});
