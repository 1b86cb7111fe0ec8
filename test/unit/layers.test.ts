/**
 * The layers of provider/src only call downward: model (plain data every layer shares), native bindings,
 * host tools, drivers, the pure planner, the executor, the API, the adapters. A file may import its own
 * layer or any below it, never one above.
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

it("every folder of provider/src is a layer", () => {
  const folders = readdirSync(SRC).filter((n) => statSync(path.join(SRC, n)).isDirectory());
  expect(folders.sort()).toEqual([...LAYERS].sort());
});

it.each(LAYERS)("%s imports only its own layer and those below", (layer) => {
  const upward: string[] = [];
  for (const file of files(path.join(SRC, layer))) {
    const source = readFileSync(file, "utf8");
    for (const [, spec] of source.matchAll(/(?:from|import\(|require\()\s*"(\.[^"]+)"/g)) {
      const target = path.resolve(path.dirname(file), spec);
      if (!target.startsWith(SRC + path.sep)) continue;
      const rank = LAYERS.indexOf(layerOf(target));
      if (rank > LAYERS.indexOf(layer)) upward.push(`${path.relative(SRC, file)} → ${spec}`);
    }
  }
  expect(upward).toEqual([]);
});
