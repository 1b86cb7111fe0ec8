/**
 * pulumi-resource-lxc: the plugin process the engine starts. It serves RootfsProvider over gRPC with
 * @pulumi/pulumi's provider.main; the engine's address is its first argument.
 */
import { readFileSync } from "fs";
import path from "path";
import * as provider from "@pulumi/pulumi/provider";
import { engineLog } from "../pulumi/engine-log";
import { PACKAGE_VERSION } from "../../model/schema";
import { RootfsProvider } from "./provider";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const providerProto = require("@pulumi/pulumi/proto/provider_pb.js");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const structProto = require("google-protobuf/google/protobuf/struct_pb.js");

/**
 * An import's Read carries no properties at all, and @pulumi/pulumi's server reads them with
 * getProperties().toJavaScript(), which throws on the missing message: give it an empty one.
 */
function tolerateImportRead(): void {
  const original = providerProto.ReadRequest.prototype.getProperties;
  providerProto.ReadRequest.prototype.getProperties = function (this: { hasProperties(): boolean }) {
    return this.hasProperties() ? original.call(this) : new structProto.Struct();
  };
}

// dist/provider/src/adapters/plugin → the package root, where schema.json is served from as written.
const ROOT = path.resolve(__dirname, "..", "..", "..", "..", "..");
const schema = readFileSync(path.join(ROOT, "schema.json"), "utf8");
const args = process.argv.slice(2);
const engineAddress = args.find((a) => !a.startsWith("-"));

tolerateImportRead();
void provider.main(new RootfsProvider(PACKAGE_VERSION, schema, engineLog(engineAddress)), args);
