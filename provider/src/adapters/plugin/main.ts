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

interface StructMessage {
  getFieldsMap(): { get(key: string): unknown; set(key: string, value: unknown): void };
}

/**
 * @pulumi/pulumi's server hands Read and Delete the state's outputs alone. Credentials never diff (keys
 * rotate), so after a rotation the outputs still hold the old ones, while the engine sends the current
 * inputs beside them (ReadRequest.inputs, DeleteRequest.old_inputs): the connection is taken from those.
 */
function connectionFromInputs(): void {
  const requests: Array<[{ prototype: Record<string, unknown> }, string]> = [
    [providerProto.ReadRequest, "getInputs"],
    [providerProto.DeleteRequest, "getOldInputs"],
  ];
  for (const [Request, inputsGetter] of requests) {
    const original = Request.prototype.getProperties as (this: unknown) => StructMessage;
    Request.prototype.getProperties = function (this: Record<string, () => StructMessage | undefined>) {
      const props = original.call(this);
      const connection = this[inputsGetter]()?.getFieldsMap().get("connection");
      if (connection !== undefined) props.getFieldsMap().set("connection", connection);
      return props;
    };
  }
}

// dist/provider/src/adapters/plugin → the package root, where schema.json is served from as written.
const ROOT = path.resolve(__dirname, "..", "..", "..", "..", "..");
const schema = readFileSync(path.join(ROOT, "schema.json"), "utf8");
const args = process.argv.slice(2);
const engineAddress = args.find((a) => !a.startsWith("-"));

tolerateImportRead();
connectionFromInputs();
void provider.main(new RootfsProvider(PACKAGE_VERSION, schema, engineLog(engineAddress)), args);
