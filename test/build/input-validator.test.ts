/**
 * What the build generates (scripts/build-generated.js) against what it is generated from: a system test,
 * since it reads dist/, which `npm test` builds and the unit loop (`npm run test:unit`) does not need.
 */

describe("the validator ajv generates at build time", () => {
  it("judges inputs exactly as ajv compiling schema.json at run time does", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const generated = require("../../dist/provider/src/api/input-validator.js");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Ajv = require("ajv").default;
    const { inputJsonSchema } = jest.requireActual("../../provider/src/model/schema");
    const runtime = new Ajv({ allErrors: true, verbose: true }).compile(inputJsonSchema);
    const samples: unknown[] = [
      { container: "web" },
      { container: "web", backingStore: "nfs" },
      { container: "web", size: true },
      { container: "web", size: "1G", fstype: "ext4", backingStore: "loop" },
      { container: 5 },
      { lxcPath: "/x" },
      { container: "web", colour: "blue" },
      { container: "web", fstype: "ntfs", from: 3 },
    ];
    for (const input of samples) {
      const a = generated(input);
      const b = runtime(input);
      expect(a).toBe(b);
      const shape = (errs: Array<{ keyword: string; instancePath: string }> | null) =>
        (errs ?? []).map((e) => `${e.keyword}${e.instancePath}`).sort();
      expect(shape(generated.errors)).toEqual(shape(runtime.errors));
    }
  });
});
