import { InvalidInput } from "./errors";

const UNITS: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
/** Sector granularity: loop devices and LVM work in 512-byte sectors. */
export const SIZE_ALIGN = 512;
/** Larger than any loop image or LV this project should make; keeps every size an exact JS integer. */
export const MAX_SIZE = 2 ** 50;
const ALLOWED =
  'a whole number of bytes, or a whole number followed by K, M, G or T (binary: "512M", "2G", "1GiB"), a multiple of 512 bytes, at most 1 PiB';

/** Parses a size: bytes, or a whole number with a binary unit K/M/G/T (also KiB/MiB/GiB/TiB). */
export function parseSize(value: unknown, property = "size"): number {
  let bytes: number;
  if (typeof value === "number") {
    bytes = value;
  } else if (typeof value === "string") {
    const m = /^\s*(\d{1,16})\s*(?:([KMGT])(?:iB)?)?\s*$/i.exec(value);
    if (!m) throw new InvalidInput(property, value, ALLOWED);
    bytes = Number(m[1]) * (m[2] ? UNITS[m[2].toUpperCase()] : 1);
  } else {
    throw new InvalidInput(property, value, ALLOWED);
  }
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes > MAX_SIZE || bytes % SIZE_ALIGN !== 0) {
    throw new InvalidInput(property, value, ALLOWED);
  }
  return bytes;
}
