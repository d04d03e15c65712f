// The progress measure (rate, ETA, percentage from bytes, total and time) and the
// words the web bar and `--follow` share.
import { describe, expect, test } from "bun:test";
import { measure } from "../../src/pipeline/progress.ts";
import { progressText } from "../../views/format.ts";
import { bar } from "../../src/cli/follow.ts";

const MiB = 1024 * 1024;

describe("progress", () => {
  test("a known total: rate over the phase, ETA at that rate, percentage rounded down", () => {
    const p = measure("restoring", 10 * MiB, { total: 40 * MiB, estimate: false, counts: "stored" }, 0, 5000);
    expect(p).toMatchObject({ phase: "restoring", bytes: 10 * MiB, total: 40 * MiB, estimate: false, rate: 2 * MiB, eta: 15, percent: 25 });
    expect(progressText(p)).toBe("restoring 10 MiB of 40 MiB (25 %) · 2.0 MiB/s · 15 s left");
    expect(bar(p)).toBe(`[${"#".repeat(6)}${".".repeat(18)}] `);
    // Done: 100 %, nothing left.
    expect(measure("restoring", 40 * MiB, { total: 40 * MiB, estimate: false, counts: "stored" }, 0, 5000)).toMatchObject({ percent: 100, eta: 0 });
  });

  test("an estimate says so, and passing it is 99 %, with no ETA", () => {
    const p = measure("dumping", 30 * MiB, { total: 40 * MiB, estimate: true, counts: "raw" }, 0, 3000);
    expect(progressText(p)).toBe("dumping 30 MiB of ~40 MiB (75 %) · 10 MiB/s · about 1 s left");
    const past = measure("dumping", 50 * MiB, { total: 40 * MiB, estimate: true, counts: "raw" }, 0, 5000);
    expect(past).toMatchObject({ percent: 99, eta: null });
  });

  test("no total (a first backup): bytes and rate only; an estimate without a total is none", () => {
    const p = measure("dumping", 3 * MiB, { total: null, estimate: true, counts: "raw" }, 0, 1000);
    expect(p).toMatchObject({ total: null, estimate: false, percent: null, eta: null, rate: 3 * MiB });
    expect(progressText(p)).toBe("dumping 3.0 MiB · 3.0 MiB/s");
    expect(bar(p)).toBe("");
    // At the very start: no rate yet, no division by zero.
    expect(measure("starting", 0, { total: null, estimate: false, counts: "raw" }, 1000, 1000)).toMatchObject({ rate: 0, eta: null });
  });
});
