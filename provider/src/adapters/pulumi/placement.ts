/**
 * Where a Rootfs lives: the machine running Pulumi, or the LXC host its `connection` reaches over SSH.
 * The storage core never sees the connection: it only chooses which core a request goes to.
 */
import { deferredCore, localCore, RootfsCore } from "../../api";
import { connectionIn, validateConnection } from "../remote/connection";
import { remoteCore } from "../remote/pool";

/**
 * The core that serves a resource: its host's over SSH, or this process's. The connection is checked at
 * the first call, once (reading an encrypted key is slow on purpose), not here: a preview may hold
 * credentials not known yet, and then never calls.
 */
export function coreFor(props: Record<string, unknown>): RootfsCore {
  const raw = connectionIn(props);
  if (raw === undefined) return localCore;
  let remote: RootfsCore | undefined;
  return deferredCore(() => (remote ??= remoteCore(validateConnection(raw))));
}
