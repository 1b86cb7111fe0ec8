/**
 * Progress of long work (a download, an unpack, a block or file copy) as the one line a user sees every few
 * seconds: what is being done, bytes done of the total where known, and the rate. Pure: the clock is an
 * argument, so the throttling is tested without waiting (executor/progress.ts drives it with a timer).
 */

/** Where a long step reports its bytes: counted as they pass, or measured when a line is due. */
export interface ByteProgress {
  /** The bytes to do, once known (a download's length arrives with its headers); null: unknown. */
  total(bytes: number | null): void;
  /** Bytes done since the last call, counted by the step itself. */
  add(bytes: number): void;
  /**
   * Or a way to read how many are done (a growing file's size, a process's reads), asked only when a line
   * is due; it replaces the count. A read that fails or says null keeps the last figure.
   */
  measure(read: () => Promise<number | null> | number | null): void;
}

/** No line for work done within this long; then at most one a period. */
export const PROGRESS_FIRST_MS = 3000;
export const PROGRESS_EVERY_MS = 3000;

/** A byte figure as a line says it: three figures at most, "412 MiB", "1.2 GiB", "512 B". */
export function shortBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = Math.max(0, n);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 || v >= 10 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/**
 * `unpacking x.tar.xz: 412 MiB of 780 MiB, 95 MiB/s`. `approx`: the total is an estimate (~); one the work
 * has already passed is left out rather than shown wrong. `figure`: how an amount is said (bytes, or
 * countOf's things).
 */
export function progressLine(
  what: string,
  done: number,
  total: number | null,
  approx: boolean,
  perSecond: number,
  figure: (n: number) => string = shortBytes,
): string {
  const of = total === null || (approx && done > total) ? "" : ` of ${approx ? "~" : ""}${figure(total)}`;
  return `${what}: ${figure(done)}${of}, ${figure(perSecond)}/s`;
}

/** A count of things as a line says it, for work counted in them rather than bytes: "12,345 inodes". */
export const countOf =
  (things: string) =>
  (n: number): string =>
    `${Math.round(n).toLocaleString("en-US")} ${things}`;

/**
 * When to say what: nothing before `firstMs` has passed since the start, then one line at most each
 * `everyMs`, its rate measured since the line before (or the start).
 */
export class ProgressMeter {
  private lastAt: number;
  private lastDone = 0;
  private said = false;

  constructor(
    readonly what: string,
    startedAt: number,
    public total: number | null = null,
    readonly approx = false,
    private readonly firstMs = PROGRESS_FIRST_MS,
    private readonly everyMs = PROGRESS_EVERY_MS,
    private readonly figure: (n: number) => string = shortBytes,
  ) {
    this.lastAt = startedAt;
  }

  /** Whether a line may be said at `now`: ask before measuring, which may cost a system call. */
  due(now: number): boolean {
    return now - this.lastAt >= (this.said ? this.everyMs : this.firstMs);
  }

  /** The line to say at `now` with `done` bytes done, or null when it is too soon. */
  sample(now: number, done: number): string | null {
    if (!this.due(now)) return null;
    const rate = (Math.max(0, done - this.lastDone) * 1000) / (now - this.lastAt);
    this.lastAt = now;
    this.lastDone = done;
    this.said = true;
    return progressLine(this.what, done, this.total, this.approx, rate, this.figure);
  }
}

/**
 * A sink that passes one line each `everyMs` at most, the first no sooner than `everyMs` after it is made:
 * for outputs where every line stays (the dynamic provider's console).
 */
export function sparseLines(sink: (line: string) => void, everyMs: number, now: () => number = Date.now): (line: string) => void {
  let last = now();
  return (line) => {
    if (now() - last < everyMs) return;
    last = now();
    sink(line);
  };
}
