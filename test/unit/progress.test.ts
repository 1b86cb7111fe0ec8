/**
 * Progress lines: their wording (what, bytes done of the total, the rate), their pace on a fake clock
 * (nothing within the first 3 s, then one each 3 s at most, the rate over the last window), the reporter's
 * timer driving them from counted or measured bytes, the dynamic provider's sparser pace, and the length a
 * download's headers announce.
 */
import { progressLine, ProgressMeter, shortBytes, sparseLines } from "../../provider/src/model/progress";
import { startProgress } from "../../provider/src/executor/progress";
import { bodyLength } from "../../provider/src/host/download";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

describe("wording", () => {
  it.each([
    [0, "0 B"],
    [512, "512 B"],
    [999, "999 B"],
    [1000, "1.0 KiB"],
    [40 * MiB, "40 MiB"],
    [412 * MiB, "412 MiB"],
    [9.96 * MiB, "10.0 MiB"],
    [1.2 * GiB, "1.2 GiB"],
    [2 * GiB, "2.0 GiB"],
    [1023.6 * MiB, "1.0 GiB"],
  ])("%d bytes are %s", (n, text) => {
    expect(shortBytes(n)).toBe(text);
  });

  it("says what, bytes done of the total, and the rate", () => {
    expect(progressLine("copying blocks", 1.2 * GiB, 2 * GiB, false, 310 * MiB)).toBe("copying blocks: 1.2 GiB of 2.0 GiB, 310 MiB/s");
    expect(progressLine("copying files", 800 * MiB, 1.1 * GiB, true, 120 * MiB)).toBe("copying files: 800 MiB of ~1.1 GiB, 120 MiB/s");
    expect(progressLine("fetching debian-12.tar.xz", 40 * MiB, null, false, 12 * MiB)).toBe("fetching debian-12.tar.xz: 40 MiB, 12 MiB/s");
  });

  it("leaves out an estimated total the work has passed, never an exact one", () => {
    expect(progressLine("copying files", 1.2 * GiB, 1.1 * GiB, true, 0)).toBe("copying files: 1.2 GiB, 0 B/s");
    expect(progressLine("copying blocks", 3 * GiB, 2 * GiB, false, 0)).toBe("copying blocks: 3.0 GiB of 2.0 GiB, 0 B/s");
  });
});

describe("pace, on a fake clock", () => {
  it("says nothing within the first 3 s, then one line each 3 s at most, its rate over the window since the last", () => {
    const m = new ProgressMeter("copying blocks", 10_000, 2 * GiB);
    expect(m.sample(10_000, 0)).toBeNull();
    expect(m.sample(12_999, 500 * MiB)).toBeNull();
    expect(m.sample(13_000, 600 * MiB)).toBe("copying blocks: 600 MiB of 2.0 GiB, 200 MiB/s");
    expect(m.due(15_999)).toBe(false);
    expect(m.sample(15_999, 900 * MiB)).toBeNull();
    expect(m.sample(17_000, 960 * MiB)).toBe("copying blocks: 960 MiB of 2.0 GiB, 90 MiB/s");
    // A stall is a rate of nothing, not the average since the start.
    expect(m.sample(20_000, 960 * MiB)).toBe("copying blocks: 960 MiB of 2.0 GiB, 0 B/s");
  });

  it("takes a total learned on the way", () => {
    const m = new ProgressMeter("fetching x.tar.xz", 0);
    expect(m.sample(3000, 30 * MiB)).toBe("fetching x.tar.xz: 30 MiB, 10 MiB/s");
    m.total = 120 * MiB;
    expect(m.sample(6000, 60 * MiB)).toBe("fetching x.tar.xz: 60 MiB of 120 MiB, 10 MiB/s");
  });

  it("the dynamic provider's sink passes one line each 12 s, the first after 12 s", () => {
    let now = 0;
    const seen: string[] = [];
    const sink = sparseLines(
      (l) => seen.push(l),
      12_000,
      () => now,
    );
    for (now = 0; now <= 40_000; now += 3000) sink(`at ${now}`);
    expect(seen).toEqual(["at 12000", "at 24000", "at 36000"]);
  });
});

describe("the reporter's timer", () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it("says nothing of work that ends within the first seconds", async () => {
    const lines: string[] = [];
    const r = startProgress((l) => lines.push(l), "copying blocks", { total: GiB });
    r.add(GiB);
    await jest.advanceTimersByTimeAsync(2500);
    r.stop();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(lines).toEqual([]);
  });

  it("reports counted bytes every 3 s while the work runs, and nothing once stopped", async () => {
    const lines: string[] = [];
    const r = startProgress((l) => lines.push(l), "unpacking rootfs.tar.xz", { total: GiB });
    // 19 MiB each 200 ms, between the timer's ticks: 95 MiB/s.
    await jest.advanceTimersByTimeAsync(100);
    r.add(19 * MiB);
    const feed = setInterval(() => r.add(19 * MiB), 200);
    await jest.advanceTimersByTimeAsync(9_000);
    expect(lines).toEqual([
      "unpacking rootfs.tar.xz: 285 MiB of 1.0 GiB, 95 MiB/s",
      "unpacking rootfs.tar.xz: 570 MiB of 1.0 GiB, 95 MiB/s",
      "unpacking rootfs.tar.xz: 855 MiB of 1.0 GiB, 95 MiB/s",
    ]);
    r.stop();
    await jest.advanceTimersByTimeAsync(10_000);
    clearInterval(feed);
    expect(lines).toHaveLength(3);
  });

  it("measures only when a line is due; a read that fails or says null keeps the last figure", async () => {
    const lines: string[] = [];
    const r = startProgress((l) => lines.push(l), "copying files", { total: 2 * GiB, approx: true });
    const reads: number[] = [];
    const answers: Array<number | null | Error> = [600 * MiB, new Error("gone"), null, 1800 * MiB];
    r.measure(async () => {
      reads.push(Date.now());
      const a = answers.shift()!;
      if (a instanceof Error) throw a;
      return a;
    });
    await jest.advanceTimersByTimeAsync(12_100);
    r.stop();
    expect(reads).toEqual([3000, 6000, 9000, 12000]);
    expect(lines).toEqual([
      "copying files: 600 MiB of ~2.0 GiB, 200 MiB/s",
      "copying files: 600 MiB of ~2.0 GiB, 0 B/s",
      "copying files: 600 MiB of ~2.0 GiB, 0 B/s",
      "copying files: 1.8 GiB of ~2.0 GiB, 400 MiB/s",
    ]);
  });

  it("a sink that throws does not reach the work", async () => {
    const r = startProgress(() => {
      throw new Error("channel closed");
    }, "copying blocks");
    r.add(1);
    await jest.advanceTimersByTimeAsync(7000);
    r.stop();
  });
});

describe("a download's announced length", () => {
  it("is the last response's, through redirects; none for a chunked body", () => {
    const redirect = "HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 17\r\n\r\n";
    expect(bodyLength(`${redirect}HTTP/1.1 200 OK\r\ncontent-length: 125829120\r\n\r\n`)).toBe(125829120);
    expect(bodyLength(`${redirect}HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n`)).toBeNull();
    expect(bodyLength(`${redirect}HTTP/2 200\r\n`)).toBeNull();
    expect(bodyLength("")).toBeNull();
  });
});
