/** JSON lines off a byte stream: whole lines only, a character split between chunks arriving whole. */
import { StringDecoder } from "string_decoder";
import type { Readable } from "stream";

/** Calls `onLine` with each complete line of `input` (without its newline); `onEnd` when it ends. */
export function readLines(input: Readable, onLine: (line: string) => void, onEnd: () => void): void {
  const decoder = new StringDecoder("utf8");
  let buffered = "";
  input.on("data", (chunk: Buffer | string) => {
    buffered += typeof chunk === "string" ? chunk : decoder.write(chunk);
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() !== "") onLine(line);
    }
  });
  input.on("end", () => {
    buffered += decoder.end();
    if (buffered.trim() !== "") onLine(buffered);
    buffered = "";
    onEnd();
  });
}
