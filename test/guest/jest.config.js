/**
 * The guest suites: LVM and ZFS on Debian's own kernel, in the KVM guest that scripts/guest.sh boots
 * (this machine's kernel has neither). `npm run test:guest` boots the guest with its disks and runs this
 * config there; run on a host, the global setup refuses. The TypeScript is only transpiled here: `npm run
 * lint` type-checks the tests, and the guest starts from an empty /tmp, so the cache lives in the checkout.
 */
module.exports = {
  rootDir: "../..",
  roots: ["<rootDir>/test/guest"],
  testEnvironment: "node",
  testTimeout: 300000,
  // Each test's line as it ends: a guest run is one long command, and its log is where a failure is read.
  verbose: true,
  // isolatedModules: each file transpiled alone, without type-checking.
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/test/guest/tsconfig.json" }] },
  cacheDirectory: "<rootDir>/node_modules/.cache/jest-guest",
  globalSetup: "<rootDir>/test/guest/global-setup.ts",
};
