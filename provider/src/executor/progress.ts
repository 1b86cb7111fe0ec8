/**
 * The reporter of long work: a step counts or measures its bytes (model/progress.ts's ByteProgress) and a
 * timer turns them into a line every few seconds for the operation's `progress` sink, none at all for work
 * done within the first seconds. Progress is a courtesy: nothing here can fail or slow the work it reports.
 */
import { ByteProgress, ProgressMeter } from "../model/progress";
import { OpContext } from "../drivers/types";
import { printable } from "../model/text";

export type { ByteProgress };

/** How often the timer asks whether a line is due (the meter decides; measuring happens only then). */
const TICK_MS = 500;

export interface Reporter extends ByteProgress {
  /** Stops the timer: no line after this. */
  stop(): void;
}

/**
 * Starts reporting `what` to `sink`. `approx`: the total is an estimate (a file copy's, from the plan). The
 * timer is unref'd: it never keeps a process alive.
 */
export function startProgress(
  sink: (line: string) => void,
  what: string,
  { total = null, approx = false }: { total?: number | null; approx?: boolean } = {},
): Reporter {
  // One line each: a name from an image cannot start another (the mount helper's lines are markers).
  const meter = new ProgressMeter(printable(what), Date.now(), total, approx);
  let done = 0;
  let read: (() => Promise<number | null> | number | null) | null = null;
  let busy = false;
  let stopped = false;
  const tick = async () => {
    if (busy || stopped || !meter.due(Date.now())) return;
    busy = true;
    try {
      if (read)
        done =
          (await Promise.resolve()
            .then(read)
            .catch(() => null)) ?? done;
      const line = stopped ? null : meter.sample(Date.now(), done);
      if (line) sink(line);
    } catch {
      // A sink that fails (a closed channel) must not fail the copy it describes.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), TICK_MS);
  timer.unref();
  return {
    total: (bytes) => void (meter.total = bytes),
    add: (bytes) => void (done += bytes),
    measure: (fn) => void (read = fn),
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** Runs `fn` with a reporter of `what` on the operation's sink, stopped however `fn` ends. */
export async function withProgress<T>(
  ctx: OpContext,
  what: string,
  opts: { total?: number | null; approx?: boolean },
  fn: (progress: ByteProgress) => Promise<T>,
): Promise<T> {
  const reporter = startProgress((line) => ctx.progress(line), what, opts);
  try {
    return await fn(reporter);
  } finally {
    reporter.stop();
  }
}
