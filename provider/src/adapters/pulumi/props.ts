/**
 * Property bags as the Pulumi adapters receive them, and what every resource asks of one: whether a
 * preview left a value unknown, where the resource lives, and which keys are not the resource's own.
 */
import { unknownValue as UNKNOWN } from "@pulumi/pulumi/runtime";
import { CONNECTION } from "../../model/schema";
import { connectionIn } from "../remote/connection";

export type Props = Record<string, unknown>;

export function isUnknown(v: unknown): boolean {
  return v === UNKNOWN;
}

/** Whether a value holds an unknown anywhere (a connection whose host is another resource's output). */
export function hasUnknown(v: unknown): boolean {
  if (isUnknown(v)) return true;
  if (typeof v === "object" && v !== null) return Object.values(v).some(hasUnknown);
  return false;
}

/** Where the resource lives, as given: `{ connection }`, or nothing for the machine running Pulumi. */
export function placementOf(props: Props): Props {
  const connection = connectionIn(props);
  return connection === undefined ? {} : { [CONNECTION]: connection };
}

/**
 * Properties that are none of `known` nor the engine's own (`__provider`, ...): the validator reports
 * each as "not a property", so a misspelt input is named rather than ignored.
 */
export function extraKeys(props: Props, known: Iterable<string>): Props {
  const names = new Set<string>(known);
  return Object.fromEntries(Object.entries(props).filter(([k]) => !names.has(k) && !k.startsWith("__")));
}
