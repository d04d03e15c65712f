// A schedule's canonical form and next run, remembered until the run passes
// (src/api/next-run.ts), and list rows mapped without holding the event loop
// (src/api/rows.ts). Speed itself is measured by bench/lists.ts, not asserted here.
import { expect, test } from "bun:test";
import { scheduleRun } from "../../src/api/next-run.ts";
import { mapRows } from "../../src/api/rows.ts";
import { parseTimespec } from "../../src/scheduler/timespec.ts";

const at = (iso: string) => Date.parse(iso);

test("the next run is the scheduler's, and stays right as time passes it", () => {
  const when = "daily at 4am in Europe/Berlin";
  for (const now of ["2026-03-28T12:00:00Z", "2026-03-28T12:00:01Z", "2026-03-29T01:59:59Z", "2026-03-29T02:00:00Z", "2026-03-29T02:00:01Z", "2026-03-30T03:00:00Z"]) {
    const run = scheduleRun(when, "UTC", at(now));
    expect([now, run]).toEqual([now, { canonical: parseTimespec(when).canonical, next: parseTimespec(when).next(new Date(at(now)), "UTC")!.getTime() }]);
  }
  // A clock set back is not answered from what was found later.
  expect(scheduleRun(when, "UTC", at("2026-01-10T12:00:00Z")).next).toBe(at("2026-01-11T03:00:00Z"));
});

test("the zone that applies to a schedule without one is part of what is remembered", () => {
  const now = at("2026-06-01T00:00:00Z");
  expect(scheduleRun("daily at 4am", "UTC", now).next).toBe(at("2026-06-01T04:00:00Z"));
  expect(scheduleRun("daily at 4am", "America/New_York", now).next).toBe(at("2026-06-01T08:00:00Z"));
});

test("a `when` that no longer parses: canonical and next null", () => {
  expect(scheduleRun("dialy at 4am", "UTC", Date.now())).toEqual({ canonical: null, next: null });
});

test("a long mapping lets timers run while it goes", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const busy = (n: number) => { const end = performance.now() + 0.05; while (performance.now() < end); return n * 2; };
  const out = await mapRows(Array.from({ length: 4000 }, (_, i) => i), busy);
  clearInterval(timer);
  expect(out.length).toBe(4000);
  expect(out[3999]).toBe(7998);
  // 200 ms of work in slices of ~8 ms: the 1 ms timer got its turns in between.
  expect(ticks).toBeGreaterThan(5);
});
