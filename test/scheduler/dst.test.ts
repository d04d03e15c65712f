// Next-run computation across the calendar's awkward places: month ends, leap
// days, and both DST changes in Europe/Berlin and America/New_York. All from fixed
// dates: nothing sleeps.
//
// 2024 changes: Berlin 31 March 02:00 CET -> 03:00 CEST (01:00Z), 27 October
// 03:00 CEST -> 02:00 CET (01:00Z); New York 10 March 02:00 EST -> 03:00 EDT
// (07:00Z), 3 November 02:00 EDT -> 01:00 EST (06:00Z).
import { describe, expect, test } from "bun:test";
import { parseTimespec } from "../../src/scheduler/timespec.ts";
import { instantOf, wallClock } from "../../src/scheduler/zone.ts";

const utc = (s: string) => new Date(s.replace(" ", "T") + "Z");
const iso = (d: Date) => d.toISOString().slice(0, 16).replace("T", " ");
const runs = (text: string, after: string, count: number, zone?: string) =>
  parseTimespec(text).nextRuns(utc(after), count, zone).map(iso);
const local = (d: Date, zone: string) => {
  const w = wallClock(d.getTime(), zone);
  return `${w.year}-${String(w.month).padStart(2, "0")}-${String(w.day).padStart(2, "0")} ${String(w.hour).padStart(2, "0")}:${String(w.minute).padStart(2, "0")}`;
};

describe("month ends and leap days", () => {
  test("the last day of the month: 31, 29 (leap February), 31, 30", () => {
    expect(runs("monthly on the last day at 23:00", "2024-01-15 00:00", 4, "UTC"))
      .toEqual(["2024-01-31 23:00", "2024-02-29 23:00", "2024-03-31 23:00", "2024-04-30 23:00"]);
    expect(runs("last day of the month at 23:00", "2023-02-01 00:00", 1, "UTC")).toEqual(["2023-02-28 23:00"]);
  });
  test("the 31st runs only in months that have one (the documented rule; 'last day' is the month's end)", () => {
    expect(runs("monthly on the 31st at 1am", "2024-01-01 00:00", 4, "UTC"))
      .toEqual(["2024-01-31 01:00", "2024-03-31 01:00", "2024-05-31 01:00", "2024-07-31 01:00"]);
  });
  test("the 29th skips February in a common year and not in a leap year", () => {
    expect(runs("monthly on the 29th at 1am", "2023-01-30 00:00", 1, "UTC")).toEqual(["2023-03-29 01:00"]);
    expect(runs("monthly on the 29th at 1am", "2024-01-30 00:00", 1, "UTC")).toEqual(["2024-02-29 01:00"]);
  });
  test("29 February by cron: every four years, and not in 2100", () => {
    expect(runs("0 12 29 2 *", "2024-03-01 00:00", 2, "UTC")).toEqual(["2028-02-29 12:00", "2032-02-29 12:00"]);
    expect(runs("0 12 29 2 *", "2096-03-01 00:00", 1, "UTC")).toEqual(["2104-02-29 12:00"]);
  });
  test("last friday: 23 February 2024, and 29 March in a five-friday month", () => {
    expect(runs("last friday of the month at 6pm", "2024-02-01 00:00", 2, "UTC")).toEqual(["2024-02-23 18:00", "2024-03-29 18:00"]);
  });
  test("the 5th friday skips months with only four", () => {
    expect(runs("5th friday at 6pm", "2024-01-01 00:00", 3, "UTC")).toEqual(["2024-03-29 18:00", "2024-05-31 18:00", "2024-08-30 18:00"]);
  });
  test("daily runs across a year end and a leap day", () => {
    expect(runs("daily at 23:30", "2024-02-28 23:30", 2, "UTC")).toEqual(["2024-02-29 23:30", "2024-03-01 23:30"]);
    expect(runs("daily at 00:00", "2024-12-31 00:00", 2, "UTC")).toEqual(["2025-01-01 00:00", "2025-01-02 00:00"]);
  });
});

describe("DST: a time that does not exist runs once, at the next valid time", () => {
  test("Berlin, daily at 02:30: at 03:00 CEST on 31 March, then 02:30 again", () => {
    const r = parseTimespec("daily at 2:30am in Europe/Berlin").nextRuns(utc("2024-03-29 12:00"), 3);
    expect(r.map(iso)).toEqual(["2024-03-30 01:30", "2024-03-31 01:00", "2024-04-01 00:30"]);
    expect(r.map((d) => local(d, "Europe/Berlin"))).toEqual(["2024-03-30 02:30", "2024-03-31 03:00", "2024-04-01 02:30"]);
  });
  test("New York, daily at 2:30am: at 03:00 EDT on 10 March", () => {
    const r = parseTimespec("daily at 2:30am").nextRuns(utc("2024-03-09 12:00"), 3, "America/New_York");
    expect(r.map((d) => local(d, "America/New_York"))).toEqual(["2024-03-10 03:00", "2024-03-11 02:30", "2024-03-12 02:30"]);
  });
  test("weekly, monthly and nth-weekday forms follow the same rule (31 March 2024 is a Sunday and the last one)", () => {
    const at = (text: string) => local(parseTimespec(text).next(utc("2024-03-30 12:00"))!, "Europe/Berlin");
    expect(at("sundays at 2:15 in Europe/Berlin")).toBe("2024-03-31 03:00");
    expect(at("monthly on the 31st at 2:15 in Europe/Berlin")).toBe("2024-03-31 03:00");
    expect(at("last sunday of the month at 2:15 in Europe/Berlin")).toBe("2024-03-31 03:00");
    expect(at("monthly on the last day at 2:15 in Europe/Berlin")).toBe("2024-03-31 03:00");
    expect(at("15 2 * * * in Europe/Berlin")).toBe("2024-03-31 03:00");
  });
  test("every 4 hours from 2:15: the 02:15 run comes at 03:00, the grid carries on at 06:15", () => {
    const r = parseTimespec("every 4 hours from 2:15 in Europe/Berlin").nextRuns(utc("2024-03-30 20:00"), 4);
    expect(r.map((d) => local(d, "Europe/Berlin"))).toEqual(["2024-03-30 22:15", "2024-03-31 03:00", "2024-03-31 06:15", "2024-03-31 10:15"]);
  });
});

describe("DST: a repeated hour runs once", () => {
  test("Berlin, daily at 02:30 on 27 October: once, at the first 02:30 (CEST)", () => {
    const r = parseTimespec("daily at 2:30am in Europe/Berlin").nextRuns(utc("2024-10-26 12:00"), 3);
    expect(r.map(iso)).toEqual(["2024-10-27 00:30", "2024-10-28 01:30", "2024-10-29 01:30"]);
  });
  test("New York, daily at 1:30am on 3 November: once (EDT), next day in EST", () => {
    const r = parseTimespec("daily at 1:30am in America/New_York").nextRuns(utc("2024-11-02 12:00"), 2);
    expect(r.map(iso)).toEqual(["2024-11-03 05:30", "2024-11-04 06:30"]);
  });
  test("every 4 hours from 2:15 runs once at 02:15 on 27 October", () => {
    const r = parseTimespec("every 4 hours from 2:15 in Europe/Berlin").nextRuns(utc("2024-10-26 19:00"), 3);
    expect(r.map(iso)).toEqual(["2024-10-26 20:15", "2024-10-27 00:15", "2024-10-27 05:15"]);
  });
  test("a fixed-time cron expression with a list of hours is a fixed time too", () => {
    const r = parseTimespec("30 1,13 * * * in America/New_York").nextRuns(utc("2024-11-02 18:00"), 3);
    expect(r.map(iso)).toEqual(["2024-11-03 05:30", "2024-11-03 18:30", "2024-11-04 06:30"]);
  });
});

describe("DST over a whole year: daily schedules run exactly once on every local day", () => {
  for (const zone of ["Europe/Berlin", "America/New_York"]) {
    for (const time of ["00:30", "01:30", "02:00", "02:30", "03:00", "12:00", "23:59"]) {
      test(`daily at ${time} in ${zone}`, () => {
        // From the last second of 2023 on that zone's clock.
        const newYear = new Date(instantOf(2024, 1, 1, 0, 0, zone) - 1000);
        const r = parseTimespec(`daily at ${time} in ${zone}`).nextRuns(newYear, 366);
        const days = r.map((d) => local(d, zone).slice(0, 10));
        expect(new Set(days).size).toBe(366);
        expect(days[0]).toBe("2024-01-01");
        expect(days[365]).toBe("2024-12-31");
      });
    }
  }
});

describe("intervals of an hour or less follow real time through DST changes", () => {
  // The grid of the clock already runs every hour: in the gap there is no hour to miss, and in the
  // repeated hour running both times is what "every hour" means in elapsed time.
  for (const zone of ["Europe/Berlin", "America/New_York"]) {
    for (const [after, label] of [["2024-03-09 22:00", "spring"], ["2024-03-30 22:00", "spring"], ["2024-10-26 22:00", "fall"], ["2024-11-02 22:00", "fall"]] as const) {
      test(`hourly at :30 in ${zone}, ${label} ${after.slice(0, 10)}: one hour apart, always`, () => {
        const r = parseTimespec(`hourly at :30 in ${zone}`).nextRuns(utc(after), 12);
        for (let i = 1; i < r.length; i++) expect(r[i]!.getTime() - r[i - 1]!.getTime()).toBe(3600_000);
      });
      test(`every 15 minutes in ${zone}, ${label} ${after.slice(0, 10)}: 15 minutes apart, always`, () => {
        const r = parseTimespec(`every 15 minutes in ${zone}`).nextRuns(utc(after), 48);
        for (let i = 1; i < r.length; i++) expect(r[i]!.getTime() - r[i - 1]!.getTime()).toBe(900_000);
      });
    }
  }
  test("an anchored interval (every 7 hours) keeps exactly 7 hours across both changes", () => {
    for (const after of ["2024-03-30 00:00", "2024-10-26 00:00"]) {
      const r = parseTimespec("every 7 hours from 5:00 in Europe/Berlin").nextRuns(utc(after), 10);
      for (let i = 1; i < r.length; i++) expect(r[i]!.getTime() - r[i - 1]!.getTime()).toBe(7 * 3600_000);
    }
  });
  test("an anchored interval counts from its from-time on 1 January 2000 in its zone", () => {
    const first = parseTimespec("every 7 hours from 5:00 in America/New_York").next(utc("2000-01-01 09:59"))!;
    expect(iso(first)).toBe("2000-01-01 10:00"); // 05:00 EST
    // ...and the grid reaches back before it: 7 hours earlier is a run too.
    expect(iso(parseTimespec("every 7 hours from 5:00 in America/New_York").next(utc("2000-01-01 00:00"))!)).toBe("2000-01-01 03:00");
  });
});

describe("instantOf: the instant of a wall time on the days the clocks change", () => {
  const pad = (n: number) => String(n).padStart(2, "0");
  for (const [zone, days] of [["Europe/Berlin", [[2024, 3, 31], [2024, 10, 27]]], ["America/New_York", [[2024, 3, 10], [2024, 11, 3]]]] as const) {
    for (const [y, m, d] of days) {
      test(`every quarter hour of ${y}-${pad(m)}-${pad(d)} in ${zone}`, () => {
        for (let minutes = 0; minutes < 24 * 60; minutes += 15) {
          const [h, min] = [Math.floor(minutes / 60), minutes % 60];
          const t = instantOf(y, m, d, h, min, zone);
          const w = wallClock(t, zone);
          const reads = `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}`;
          if (reads === `${y}-${pad(m)}-${pad(d)} ${pad(h)}:${pad(min)}`) {
            // A repeated time is its first happening: an hour earlier reads differently.
            const w1 = wallClock(t - 3600_000, zone);
            expect(`${pad(w1.hour)}:${pad(w1.minute)}`).not.toBe(`${pad(h)}:${pad(min)}`);
          } else {
            // Only a time in the spring-forward gap does not happen: it is as far after the gap's start, an hour on.
            expect(`${pad(w.hour)}:${pad(w.minute)}`).toBe(`${pad(h + 1)}:${pad(min)}`);
            expect(m).toBeLessThan(6);
          }
        }
      });
    }
  }
});
