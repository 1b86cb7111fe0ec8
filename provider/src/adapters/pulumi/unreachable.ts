/**
 * The opt-in for stacks that bring up their own host (a VM the same stack makes, addressed by a literal
 * IP), whose checks no preview can run before that host exists: PULUMI_LXC_PREVIEW_UNREACHABLE=warn turns
 * the checks of a new rootfs or snapshot on an unreachable host into a line that names the host. The create
 * still dials at up, once what it depends on is made, and runs the same checks before it makes anything.
 * Unset, or `fail`, an unreachable host fails the check, as it would fail the up: a green preview of a
 * host nobody can reach is not the default. (pulumi-kubernetes offers the same for clusters it cannot reach.)
 */
import { InvalidInput, Unreachable } from "../../model/errors";

export const PREVIEW_UNREACHABLE = "PULUMI_LXC_PREVIEW_UNREACHABLE";
const MODES = ["fail", "warn"];

/** The mode the environment asks for; a value that is not one is refused, whatever the host. */
export function previewUnreachable(): "fail" | "warn" {
  const mode = process.env[PREVIEW_UNREACHABLE] || "fail";
  if (!MODES.includes(mode)) throw new InvalidInput(PREVIEW_UNREACHABLE, mode, "warn, or fail (the default)");
  return mode as "fail" | "warn";
}

/**
 * The hosts found unreachable by this process, by machine, with what was said of them: the checks after
 * the first say it again without dialing (a host that does not exist yet takes the whole dial limit, 150 s
 * with the defaults, each time).
 */
const found = new Map<string, string>();

/** What a check says of `machine` when an earlier check found it unreachable and the opt-in is on. */
export function knownUnreachable(machine: string): string | undefined {
  return previewUnreachable() === "warn" ? found.get(machine) : undefined;
}

/** What a check says instead of failing, when `e` is an unreachable host and the opt-in is on; else null. */
export function unreachableNote(e: unknown, machine: string): string | null {
  if (!(e instanceof Unreachable) || previewUnreachable() !== "warn") return null;
  const note = `warning: ${e.host} is unreachable, so nothing was checked there (${PREVIEW_UNREACHABLE}=warn): ${e.message}`;
  found.set(machine, note);
  return note;
}
