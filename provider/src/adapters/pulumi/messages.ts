/**
 * How both Pulumi adapters (the dynamic provider, the plugin) word what they tell the user: which rootfs
 * a line is about, and errors as their message alone.
 */
import { describeError, Props } from "./resource";

export function label(props: Props): string {
  return `rootfs ${String(props.lxcPath ?? "/var/lib/lxc")}/${String(props.container)}`;
}

/** Errors reach the engine as their message: the stack trace of a validation error helps nobody. */
export async function plainErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new Error(describeError(e), { cause: e });
  }
}
