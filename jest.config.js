/**
 * Two projects. `unit`: the pure tests (planner, validation, sizes, rootfs strings, the errors' JSON round
 * trip, docs), which run without root, apt or the Pulumi toolchain (`npm run test:unit`). `system`: every
 * other test, for real: root, loop devices, mounts, LXC and the Pulumi engine, with a global check that no
 * prerequisite is missing and no loop device or mount is left. `npm test` runs both.
 */
const common = { preset: "ts-jest", testEnvironment: "node" };

module.exports = {
  testTimeout: 300000,
  projects: [
    { ...common, displayName: "unit", roots: ["<rootDir>/test/unit"] },
    {
      ...common,
      displayName: "system",
      roots: ["<rootDir>/test"],
      // test/guest runs in the KVM guest, under its own config (npm run test:guest).
      testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/unit/", "<rootDir>/test/guest/"],
      globalSetup: "<rootDir>/test/helpers/global-setup.ts",
      globalTeardown: "<rootDir>/test/helpers/global-teardown.ts",
    },
  ],
};
