/**
 * Messages from the plugin to the engine's Log service, attached to a resource's URN, so that `pulumi
 * preview` prints a plan line under the resource as it does for the dynamic provider's console output.
 * (A plugin's own stdout and stderr only reach the engine's debug log.)
 */
import * as grpc from "@grpc/grpc-js";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const engrpc = require("@pulumi/pulumi/proto/engine_grpc_pb.js");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const engproto = require("@pulumi/pulumi/proto/engine_pb.js");

/**
 * `ephemeral`: a status line (progress), which the engine shows in the resource's row while it runs and
 * drops when it is done, never among the update's diagnostics.
 */
export type EngineLog = (urn: string, message: string, ephemeral?: boolean) => Promise<void>;

/** A logger for the engine at `address`; without one (run by hand), messages go to stderr. */
export function engineLog(address: string | undefined): EngineLog {
  if (!address) return async (_urn, message) => void process.stderr.write(`${message}\n`);
  const client = new engrpc.EngineClient(address, grpc.credentials.createInsecure());
  return (urn, message, ephemeral = false) =>
    new Promise((resolve) => {
      const req = new engproto.LogRequest();
      req.setSeverity(engproto.LogSeverity.INFO);
      req.setUrn(urn);
      req.setMessage(message);
      req.setEphemeral(ephemeral);
      // A message that cannot be delivered must not fail the operation it describes.
      client.log(req, () => resolve());
    });
}
