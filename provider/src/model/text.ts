/**
 * Text from an image or its server (a file name, a version), as a line may carry it: control characters
 * (a line break that would forge a marker line of the mount helper, a terminal's escape) shown as `?`.
 */
export function printable(text: string): string {
  return [...text].map((c) => (c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f) ? "?" : c)).join("");
}
