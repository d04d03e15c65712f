// A job's run window: scheduled runs due outside "HH:MM-HH:MM" (the daemon's zone)
// wait for the window's next start; inside it they run as scheduled. Windows that
// wrap past midnight, a DST day, and the scheduler itself on a hand-moved clock.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Catalog, TaskRow } from "../../src/catalog/index.ts";
import { Scheduler } from "../../src/scheduler/scheduler.ts";
import { deferToWindow, parseWindow } from "../../src/scheduler/window.ts";
import { log } from "../../src/log.ts";
import { freshCatalog } from "../helpers/catalog.ts";
import { fmt, ManualClock, utc } from "../helpers/clock.ts";
import { makeJob, makeSchedule } from "../catalog/fixtures.ts";

log.setSink(() => {});

describe("deferToWindow", () => {
  const w = parseWindow("01:00-05:00");
  test("a due time inside stays; one outside moves to the next start", () => {
    expect(fmt(deferToWindow(w, utc("2026-03-01 02:30:00"), "UTC"))).toBe("2026-03-01 02:30:00");
    expect(fmt(deferToWindow(w, utc("2026-03-01 00:30:00"), "UTC"))).toBe("2026-03-01 01:00:00");
    expect(fmt(deferToWindow(w, utc("2026-03-01 05:00:00"), "UTC"))).toBe("2026-03-02 01:00:00");
    expect(fmt(deferToWindow(w, utc("2026-03-01 23:59:00"), "UTC"))).toBe("2026-03-02 01:00:00");
    expect(deferToWindow(null, 1234, "UTC")).toBe(1234);
  });
  test("a window past midnight", () => {
    const night = parseWindow("22:00-02:00");
    expect(fmt(deferToWindow(night, utc("2026-03-01 23:00:00"), "UTC"))).toBe("2026-03-01 23:00:00");
    expect(fmt(deferToWindow(night, utc("2026-03-01 01:59:00"), "UTC"))).toBe("2026-03-01 01:59:00");
    expect(fmt(deferToWindow(night, utc("2026-03-01 12:00:00"), "UTC"))).toBe("2026-03-01 22:00:00");
  });
  test("in the daemon's zone, on a DST day (Europe/Berlin springs forward 2026-03-29)", () => {
    // 12:00 UTC is 14:00 in Berlin (CEST): the window's next 01:00 Berlin is 2026-03-29 01:00 CET = 00:00 UTC.
    expect(fmt(deferToWindow(w, utc("2026-03-28 12:00:00"), "Europe/Berlin"))).toBe("2026-03-29 00:00:00");
    // And the day after, 01:00 CEST = 23:00 UTC the day before.
    expect(fmt(deferToWindow(w, utc("2026-03-29 12:00:00"), "Europe/Berlin"))).toBe("2026-03-29 23:00:00");
  });
  test("malformed windows are refused with the reason", () => {
    expect(() => parseWindow("1-5")).toThrow(/HH:MM-HH:MM/);
    expect(() => parseWindow("25:00-05:00")).toThrow(/HH:MM-HH:MM/);
    expect(() => parseWindow("03:00-03:00")).toThrow(/empty window/);
    expect(parseWindow("")).toBeNull();
  });
});

describe("the scheduler defers runs due outside a job's window", () => {
  let c: Catalog;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ catalog: c, cleanup } = await freshCatalog("sqlite"));
  });
  afterEach(async () => {
    await cleanup();
  });

  async function dues(job: string): Promise<string[]> {
    const rows: TaskRow[] = await c.tasks.list({ job }, { limit: 1000, offset: 0 });
    return rows.map((t) => fmt(t.dueAt!)).sort();
  }

  test("an hourly job with 01:00-03:00 runs at 01:00 and 02:00 only; one without a window every hour", async () => {
    const clock = ManualClock.at("2026-01-01 00:30:00");
    const schedule = await makeSchedule(c, { timespec: "hourly at :00" });
    const windowed = await makeJob(c, { schedule, runWindow: "01:00-03:00" });
    const free = await makeJob(c, { schedule });
    const s = new Scheduler({ catalog: c, clock, zone: "UTC" });
    await s.tick();
    for (let next = s.nextDue(); next !== undefined && next <= utc("2026-01-02 02:00:00"); next = s.nextDue()) {
      clock.set(next * 1000);
      await s.tick();
      for (const t of await c.tasks.list({ status: "pending" }, { limit: 1000, offset: 0 })) await c.tasks.cancel(t.uuid, 0);
    }
    expect(await dues(windowed)).toEqual(["2026-01-01 01:00:00", "2026-01-01 02:00:00", "2026-01-02 01:00:00", "2026-01-02 02:00:00"]);
    expect((await dues(free)).length).toBe(26);
  });

  test("a daily job due at noon with a 01:00-05:00 window runs at 01:00 the next day", async () => {
    const clock = ManualClock.at("2026-01-01 06:00:00");
    const job = await makeJob(c, { schedule: await makeSchedule(c, { timespec: "daily at 12:00" }), runWindow: "01:00-05:00" });
    const s = new Scheduler({ catalog: c, clock, zone: "UTC" });
    await s.tick();
    expect(fmt(s.nextDue()!)).toBe("2026-01-02 01:00:00");
    clock.set(utc("2026-01-01 12:00:00") * 1000);
    expect((await s.tick()).filed).toBe(0);
    clock.set(utc("2026-01-02 01:00:00") * 1000);
    expect((await s.tick()).filed).toBe(1);
    expect(await dues(job)).toEqual(["2026-01-02 01:00:00"]);
  });
});
