/**
 * Three projects. `unit`: the pure tests (planner, validation, sizes, rootfs strings, the errors' JSON round
 * trip, docs), which run without root, apt or the Pulumi toolchain (`npm run test:unit`). `system`: the
 * other host tests, for real: root, loop devices, mounts, LXC and the Pulumi engine, with a global check
 * that no prerequisite is missing and no loop device or mount is left. `fetched`: the system tests that need
 * what scripts/setup-test.sh fetches from PyPI and the Go module proxy (the Python virtualenv, the Go
 * modules), with the same global setup and teardown, plus the check that setup-test.sh ran and succeeded.
 * `npm test` (scripts/test.sh) runs unit and system, then waits for setup-test.sh, which ran in the background
 * all along, and runs fetched (`npm run test:fetched`), all beside the guest suites (test/guest, their own
 * config, in the background from the start): a registry outage delays only those few tests, at the end of
 * the host's, instead of every test.
 */
const common = { preset: "ts-jest", testEnvironment: "node" };

// Each is in fetched and nowhere else.
const FETCHED = [
  "test/pulumi/python-example.test.ts", // the virtualenv with pulumi from PyPI (scripts/setup-python.sh)
  "test/pulumi/go-example.test.ts", // the Go modules of examples/go and sdk/
  "test/pulumi/sdk.test.ts", // gen-sdk: the SDK generator and the Go modules its go mod tidy reads
];
const regexEscape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const system = {
  ...common,
  roots: ["<rootDir>/test"],
  globalSetup: "<rootDir>/test/helpers/global-setup.ts",
  globalTeardown: "<rootDir>/test/helpers/global-teardown.ts",
};

module.exports = {
  testTimeout: 300000,
  projects: [
    { ...common, displayName: "unit", roots: ["<rootDir>/test/unit"] },
    {
      ...system,
      displayName: "system",
      // test/guest runs in the KVM guest, under its own config (npm run test:guest).
      testPathIgnorePatterns: [
        "/node_modules/",
        "<rootDir>/test/unit/",
        "<rootDir>/test/guest/",
        ...FETCHED.map((f) => `<rootDir>/${regexEscape(f)}$`),
      ],
    },
    {
      ...system,
      displayName: "fetched",
      testMatch: FETCHED.map((f) => `<rootDir>/${f}`),
      globalSetup: "<rootDir>/test/helpers/global-setup-fetched.ts",
    },
  ],
};
