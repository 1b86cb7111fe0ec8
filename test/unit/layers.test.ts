/**
 * The layers of provider/src only call downward: model (plain data every layer shares), native bindings,
 * host tools, drivers, the pure planner, the executor, the API, the adapters. A file may import its own
 * layer or any below it, never one above. Nothing leaves provider/src but for packages and schema.json, the
 * inputs' source of truth: the SDKs in sdk/ are generated for users, and tsc would ship a copy of any file
 * the core imported.
 */
import { readdirSync, readFileSync, statSync } from "fs";
import path from "path";

const SRC = path.resolve(__dirname, "..", "..", "provider", "src");
const LAYERS = ["model", "native", "host", "drivers", "planner", "executor", "api", "adapters"];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const layerOf = (file: string) => path.relative(SRC, file).split(path.sep)[0];
/** Each relative import of the file, by its spelling. */
const relativeImports = (file: string) =>
  [...readFileSync(file, "utf8").matchAll(/(?:from|import|import\(|require\()\s*["'](\.[^"']+)["']/g)].map((m) => m[1]);
const SCHEMA = path.resolve(SRC, "..", "..", "schema.json");

it("every folder of provider/src is a layer", () => {
  const folders = readdirSync(SRC).filter((n) => statSync(path.join(SRC, n)).isDirectory());
  expect(folders.sort()).toEqual([...LAYERS].sort());
});

it.each(LAYERS)("%s imports only its own layer and those below", (layer) => {
  const upward: string[] = [];
  for (const file of files(path.join(SRC, layer))) {
    for (const spec of relativeImports(file)) {
      const target = path.resolve(path.dirname(file), spec);
      if (!target.startsWith(SRC + path.sep)) continue;
      const rank = LAYERS.indexOf(layerOf(target));
      if (rank > LAYERS.indexOf(layer)) upward.push(`${path.relative(SRC, file)} → ${spec}`);
    }
  }
  expect(upward).toEqual([]);
});

it("nothing in provider/src imports from outside it but schema.json", () => {
  const leaving = files(SRC).flatMap((file) =>
    relativeImports(file)
      .filter((spec) => {
        const target = path.resolve(path.dirname(file), spec);
        return !target.startsWith(SRC + path.sep) && target !== SCHEMA;
      })
      .map((spec) => `${path.relative(SRC, file)} → ${spec}`),
  );
  expect(leaving).toEqual([]);
});
