/**
 * What `npm run build` leaves in dist/, which the npm package and the plugin's tarball ship whole: the core,
 * and no copy of the generated SDK (tsc compiles whatever the core imports; it imports nothing from sdk/).
 */
import { existsSync } from "fs";
import path from "path";

const DIST = path.resolve(__dirname, "..", "..", "dist");

it("dist holds the compiled core and no copy of the SDK", () => {
  expect(existsSync(path.join(DIST, "provider", "src", "index.js"))).toBe(true);
  expect(existsSync(path.join(DIST, "sdk"))).toBe(false);
});
