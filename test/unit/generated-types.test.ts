/**
 * The TypeScript that scripts/gen-types.js writes from schema.json into provider/src is committed, so that
 * tsc and these tests run without a build: it must be what the script writes today, and the dynamic
 * resources' args it types must be the Node.js SDK's, for the users of the dynamic provider who typed
 * their inputs by them before.
 */
import { execFileSync } from "child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "fs";
import os from "os";
import path from "path";
import type * as ours from "../../provider/src/adapters/dynamic/args.generated";
import type { RootfsArgs as SdkRootfsArgs } from "../../sdk/nodejs/rootfs";
import type { RootfsSnapshotArgs as SdkRootfsSnapshotArgs } from "../../sdk/nodejs/rootfsSnapshot";
import type * as sdkInputs from "../../sdk/nodejs/types/input";

const ROOT = path.resolve(__dirname, "..", "..");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

it("the generated files are what npm run gen-types writes from schema.json today", () => {
  const out = mkdtempSync(path.join(os.tmpdir(), "gen-types-"));
  try {
    execFileSync(process.execPath, [path.join(ROOT, "scripts", "gen-types.js"), out]);
    const written = files(out).map((f) => path.relative(out, f));
    expect(written.sort()).toEqual(["provider/src/adapters/dynamic/args.generated.ts", "provider/src/model/enums.generated.ts"]);
    const stale = written.filter((f) => readFileSync(path.join(out, f), "utf8") !== readFileSync(path.join(ROOT, f), "utf8"));
    expect(stale.map((f) => `${f} differs from schema.json: run npm run gen-types`)).toEqual([]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

// Identical types, not merely assignable one way: the same names, optionality and Input wrapping.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
export const sameRootfsArgs: Equal<ours.RootfsArgs, SdkRootfsArgs> = true;
export const sameSnapshotArgs: Equal<ours.RootfsSnapshotArgs, SdkRootfsSnapshotArgs> = true;
export const sameConnection: Equal<ours.ConnectionArgs, sdkInputs.ConnectionArgs> = true;
export const sameProxy: Equal<ours.ProxyConnectionArgs, sdkInputs.ProxyConnectionArgs> = true;
// The control: the check tells two different shapes apart.
export const snapshotIsNotRootfs: Equal<ours.RootfsArgs, SdkRootfsSnapshotArgs> = false;

it("the generated args are the SDK's (checked by the type checker, above)", () => {
  expect([sameRootfsArgs, sameSnapshotArgs, sameConnection, sameProxy, snapshotIsNotRootfs]).toEqual([true, true, true, true, false]);
});
