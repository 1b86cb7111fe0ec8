// ESLint for the TypeScript and JavaScript of the project (npm run lint): the recommended rules of ESLint
// and typescript-eslint; formatting is Prettier's alone (eslint-config-prettier turns off what clashes).
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // Generated or fetched: the SDKs (Pulumi's codegen), build output, the toolchain, the demo's scratch.
  { ignores: ["dist/", "node_modules/", "sdk/", ".tools/", ".demo/", ".test-work/", "**/*.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.jest } },
    rules: {
      // `_name` marks a parameter an interface requires and this implementation does not read.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Scripts and plain JavaScript are CommonJS: require() is how they load modules.
    files: ["**/*.js", "**/*.cjs", "bin/*"],
    languageOptions: { sourceType: "commonjs" },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  prettier,
);
