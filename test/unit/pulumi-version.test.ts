/**
 * One Pulumi release, declared once: package.json's @pulumi/pulumi pin. The setup scripts and the Python
 * host read it from there (scripts/pulumi-version.sh); the files that must spell it (go.mod, the lock file)
 * are checked against it here. The Python example's `pulumi` (examples/python/requirements.txt, its single
 * declaration) is the same release unless PyPI has not published it: PYPI_LAGS says which one it is then.
 */
import { execFileSync } from "child_process";
import { readdirSync, readFileSync } from "fs";
import path from "path";

const REPO = path.resolve(__dirname, "..", "..");
const read = (p: string) => readFileSync(path.join(REPO, p), "utf8");
const pin: string = JSON.parse(read("package.json")).dependencies["@pulumi/pulumi"];
/**
 * CLI release -> the newest `pulumi` on PyPI when the project moved to it: the Python SDK is published apart
 * from npm's package and the Go modules, and sometimes weeks behind. An entry goes once PyPI catches up.
 */
const PYPI_LAGS: Record<string, string> = { "3.276.0": "3.272.0" };
const pythonPin = PYPI_LAGS[pin] ?? pin;

describe("the Pulumi version", () => {
  it("is an exact release", () => {
    expect(pin).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("is what scripts/pulumi-version.sh gives the setup scripts", () => {
    const out = execFileSync("bash", ["-c", 'source scripts/pulumi-version.sh && printf %s "$PULUMI_VERSION"'], {
      cwd: REPO,
      encoding: "utf8",
    });
    expect(out).toBe(pin);
  });

  it.each([
    ["scripts/pulumi-toolchain/go.mod", /github\.com\/pulumi\/pulumi\/pkg\/v3 (v\S+)/],
    ["examples/go/go.mod", /github\.com\/pulumi\/pulumi\/sdk\/v3 (v\S+)/],
    ["sdk/go.mod", /github\.com\/pulumi\/pulumi\/sdk\/v3 (v\S+)/],
  ])("%s spells it", (file, re) => {
    expect(re.exec(read(file))?.[1]?.replace(/^v/, "")).toBe(pin);
  });

  it("examples/python/requirements.txt pins it, or the release PyPI lags at (PYPI_LAGS)", () => {
    expect(/^pulumi==(\S+)/m.exec(read("examples/python/requirements.txt"))?.[1]).toBe(pythonPin);
  });

  it("is what scripts/pulumi-version.sh gives setup-python.sh from requirements.txt", () => {
    const out = execFileSync("bash", ["-c", 'source scripts/pulumi-version.sh && printf %s "$PULUMI_PYTHON_VERSION"'], {
      cwd: REPO,
      encoding: "utf8",
    });
    expect(out).toBe(pythonPin);
  });

  it("the lock file installs it", () => {
    expect(JSON.parse(read("package-lock.json")).packages["node_modules/@pulumi/pulumi"].version).toBe(pin);
  });

  it("no script or source writes it a second time", () => {
    const files = [
      ...readdirSync(path.join(REPO, "scripts"))
        .filter((f) => /\.(sh|js|py)$|^pulumi-language/.test(f))
        .map((f) => `scripts/${f}`),
      ".ci/run",
      "jest.config.js",
    ];
    for (const f of files) expect({ f, has: read(f).includes(pin) || read(f).includes(pythonPin) }).toEqual({ f, has: false });
  });
});
