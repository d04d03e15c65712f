// The GFS rules (src/scheduler/retention.ts) against a straightforward reference:
// group the archives by period, keep the newest of the newest N groups (plus the
// oldest archive while a rule has slots left, as restic does). Random histories
// of years of hourly archives with gaps, in zones with DST; and by hand, the
// examples of docs/retention.md, DST nights and month ends.
import { describe, expect, test } from "bun:test";
import { decide, isoWeek, NO_RULES, toExpire, type KeepReason, type RetainedArchive, type RetentionRules } from "../../src/scheduler/retention.ts";
import { wallClock } from "../../src/scheduler/zone.ts";

const HOUR = 3600;
const DAY = 86400;

/** A seeded generator (mulberry32): a failure prints its seed and replays. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- the reference ------------------------------------------------------------

/** ISO week by counting days from the Monday of week 1, independently of the engine's Thursday rule. */
function refIsoWeek(year: number, month: number, day: number): string {
  const mondayOfWeek1 = (y: number) => {
    const jan4 = Date.UTC(y, 0, 4);
    return jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY * 1000;
  };
  const t = Date.UTC(year, month - 1, day);
  let y = year + 1;
  while (mondayOfWeek1(y) > t) y--;
  return `${y}-W${Math.floor((t - mondayOfWeek1(y)) / (7 * DAY * 1000)) + 1}`;
}

function refPeriod(rule: string, takenAt: number, zone: string): string {
  const w = wallClock(takenAt * 1000, zone); // Intl, per archive: slow and obviously right
  switch (rule) {
    case "keep_hourly": return `${w.year}-${w.month}-${w.day} ${w.hour}`;
    case "keep_daily": return `${w.year}-${w.month}-${w.day}`;
    case "keep_weekly": return refIsoWeek(w.year, w.month, w.day);
    case "keep_monthly": return `${w.year}-${w.month}`;
    default: return `${w.year}`;
  }
}

function reference(archives: RetainedArchive[], r: RetentionRules, now: number, zone: string): Map<string, Set<KeepReason>> {
  const list = [...archives].sort((a, b) => b.takenAt - a.takenAt || (a.uuid < b.uuid ? 1 : -1));
  const kept = new Map(list.map((a) => [a.uuid, new Set<KeepReason>()]));
  for (const a of list) {
    if (a.pinned) kept.get(a.uuid)!.add("pinned");
    if (a.expiresAt > now) kept.get(a.uuid)!.add("not_expired");
  }
  const counts: [KeepReason, number][] = [["keep_last", r.keepLast], ["keep_hourly", r.keepHourly], ["keep_daily", r.keepDaily],
    ["keep_weekly", r.keepWeekly], ["keep_monthly", r.keepMonthly], ["keep_yearly", r.keepYearly]];
  for (const [rule, n] of counts) {
    if (n <= 0 || !list.length) continue;
    // Groups in order of their newest archive, newest first; the first archive met in a group is its newest.
    const groups = new Map<string, RetainedArchive>();
    list.forEach((a, i) => {
      const key = rule === "keep_last" ? String(i) : refPeriod(rule, a.takenAt, zone);
      if (!groups.has(key)) groups.set(key, a);
    });
    [...groups.values()].slice(0, n).forEach((a) => kept.get(a.uuid)!.add(rule));
    if (groups.size < n) kept.get(list[list.length - 1]!.uuid)!.add(rule);
  }
  if (r.keepWithin > 0) {
    const past = list.filter((a) => a.takenAt < now).map((a) => a.takenAt);
    const latest = past.length ? Math.max(...past) : -Infinity;
    for (const a of list) if (a.takenAt > latest - r.keepWithin) kept.get(a.uuid)!.add("keep_within");
  }
  return kept;
}

// ---- random histories -----------------------------------------------------------

/** Years of hourly archives (taken at a random minute) with gaps of hours, days and months. */
function history(rand: () => number, start: number, years: number, expiry: number): RetainedArchive[] {
  const out: RetainedArchive[] = [];
  const end = start + years * 365 * DAY;
  let t = start;
  let n = 0;
  while (t < end) {
    const x = rand();
    if (x < 0.002) t += Math.floor(rand() * 90) * DAY; // a long outage
    else if (x < 0.02) t += Math.floor(rand() * 72) * HOUR; // a missed day or three
    const takenAt = t + Math.floor(rand() * 3600);
    out.push({ uuid: `a${String(n++).padStart(6, "0")}`, takenAt, expiresAt: takenAt + expiry, pinned: rand() < 0.001 });
    t += HOUR * (rand() < 0.1 ? 2 : 1);
  }
  return out;
}

function randomRules(rand: () => number): RetentionRules {
  const n = (max: number) => (rand() < 0.3 ? 0 : Math.floor(rand() * max));
  const r = { keepLast: n(30), keepHourly: n(72), keepDaily: n(60), keepWeekly: n(30), keepMonthly: n(40), keepYearly: n(5), keepWithin: rand() < 0.5 ? 0 : Math.floor(rand() * 40 * DAY) };
  return r.keepDaily || r.keepLast ? r : { ...r, keepDaily: 7 };
}

const asMap = (verdicts: ReturnType<typeof decide>) => new Map(verdicts.map((v) => [v.archive.uuid, new Set(v.reasons)]));
function same(engine: Map<string, Set<KeepReason>>, ref: Map<string, Set<KeepReason>>): string | undefined {
  for (const [uuid, want] of ref) {
    const got = new Set([...engine.get(uuid)!].filter((r) => r !== "newest"));
    if ([...want].sort().join() !== [...got].sort().join()) return `${uuid}: engine ${[...got]} reference ${[...want]}`;
  }
  return undefined;
}

describe("GFS rules against the reference", () => {
  for (const zone of ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC", "Asia/Kathmandu"]) {
    test(`random histories over years, in ${zone}`, () => {
      for (let round = 0; round < 6; round++) {
        const seed = (zone.length * 7919 + round * 104729) >>> 0;
        const rand = rng(seed);
        const start = Date.UTC(2019 + Math.floor(rand() * 4), Math.floor(rand() * 12), 1) / 1000;
        const expiry = [HOUR, DAY, 7 * DAY][Math.floor(rand() * 3)]!;
        const archives = history(rand, start, 1 + rand() * 2.5, expiry);
        const now = archives[archives.length - 1]!.takenAt + Math.floor(rand() * 30 * DAY);
        const rules = randomRules(rand);
        const diff = same(asMap(decide(archives, rules, now, zone)), reference(archives, rules, now, zone));
        expect({ seed, zone, rules, diff }).toEqual({ seed, zone, rules, diff: undefined });
        // With no rules: exactly the expiry (and pins), whatever the history.
        const plain = decide(archives, NO_RULES, now, zone);
        expect(plain.filter((v) => v.reasons.length).length).toBe(archives.filter((a) => a.expiresAt > now || a.pinned).length);
        expect(same(asMap(plain), reference(archives, NO_RULES, now, zone))).toBeUndefined();
      }
    });
  }

  test("a history of three years of hourly archives is decided in well under a second", () => {
    const archives = history(rng(1), Date.UTC(2021, 0, 1) / 1000, 3, HOUR);
    const now = archives[archives.length - 1]!.takenAt + HOUR;
    decide(archives, { ...NO_RULES, keepDaily: 7 }, now, "Europe/Berlin"); // warms the offset cache, as the purger's first pass does
    const started = performance.now();
    const verdicts = decide(archives, { ...NO_RULES, keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepLast: 3 }, now, "Europe/Berlin");
    const ms = performance.now() - started;
    console.log(`decide: ${archives.length} archives in ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1000);
    expect(verdicts.filter((v) => v.reasons.length).length).toBeLessThanOrEqual(3 + 7 + 4 + 12 + 1);
  });
});

// ---- by hand ---------------------------------------------------------------------

/** Archives at the given UTC times ("2024-03-31T00:30:00Z"), all past their expiry at `now`. */
function at(...isoTimes: string[]): RetainedArchive[] {
  return isoTimes.map((s, i) => {
    const takenAt = Date.parse(s) / 1000;
    return { uuid: `x${i}`, takenAt, expiresAt: takenAt + HOUR, pinned: false };
  });
}
const NOW = Date.parse("2030-01-01T00:00:00Z") / 1000;
const keptTimes = (archives: RetainedArchive[], r: Partial<RetentionRules>, zone = "UTC", now = NOW) =>
  decide(archives, { ...NO_RULES, ...r }, now, zone).filter((v) => v.reasons.length).map((v) => new Date(v.archive.takenAt * 1000).toISOString().slice(0, 16));

describe("GFS rules by hand", () => {
  test("no rules: exactly `expires`, as before rules existed (even the newest archive expires)", () => {
    const archives = at("2029-12-31T22:00:00Z", "2029-12-31T23:30:00Z");
    const verdicts = decide(archives, NO_RULES, Date.parse("2029-12-31T23:30:00Z") / 1000 + HOUR, "UTC");
    expect(verdicts.map((v) => v.reasons)).toEqual([[], []]);
    expect(decide(archives, NO_RULES, Date.parse("2029-12-31T23:30:00Z") / 1000 + HOUR - 1, "UTC").map((v) => v.reasons)).toEqual([["not_expired"], []]);
  });

  test("keep_daily: the newest archive of each day; days without archives take no slot", () => {
    const archives = at("2024-05-01T08:00:00Z", "2024-05-01T20:00:00Z", "2024-05-03T09:00:00Z", "2024-05-06T01:00:00Z", "2024-05-06T02:00:00Z");
    expect(keptTimes(archives, { keepDaily: 3 })).toEqual(["2024-05-06T02:00", "2024-05-03T09:00", "2024-05-01T20:00"]);
    // A fourth slot is left over: restic then keeps the oldest archive too.
    expect(keptTimes(archives, { keepDaily: 4 })).toEqual(["2024-05-06T02:00", "2024-05-03T09:00", "2024-05-01T20:00", "2024-05-01T08:00"]);
  });

  test("month ends: the last archive of January, of a leap February, of a 30-day month", () => {
    const archives = at("2024-01-31T23:59:00Z", "2024-02-01T00:00:00Z", "2024-02-29T23:00:00Z", "2024-03-01T00:30:00Z",
      "2024-04-30T23:59:59Z", "2024-05-01T00:00:00Z");
    expect(keptTimes(archives, { keepMonthly: 4 })).toEqual(["2024-05-01T00:00", "2024-04-30T23:59", "2024-03-01T00:30", "2024-02-29T23:00"]);
    // In Berlin (UTC+1/+2) 2024-01-31T23:59Z is already February, 2024-02-29T23:00Z already March and 2024-04-30T23:59:59Z already May.
    expect(keptTimes(archives, { keepMonthly: 3 }, "Europe/Berlin")).toEqual(["2024-05-01T00:00", "2024-03-01T00:30", "2024-02-01T00:00"]);
  });

  test("weeks are ISO weeks, Monday to Sunday, across a year end", () => {
    // 2020-12-31 (Thu) and 2021-01-03 (Sun) are both in 2020-W53; 2021-01-04 (Mon) starts 2021-W01.
    expect(isoWeek({ year: 2021, month: 1, day: 3, hour: 0 })).toBe(202053);
    expect(isoWeek({ year: 2021, month: 1, day: 4, hour: 0 })).toBe(202101);
    expect(isoWeek({ year: 2024, month: 12, day: 30, hour: 0 })).toBe(202501);
    const archives = at("2020-12-29T10:00:00Z", "2021-01-03T10:00:00Z", "2021-01-04T10:00:00Z", "2021-01-05T10:00:00Z");
    expect(keptTimes(archives, { keepWeekly: 2 })).toEqual(["2021-01-05T10:00", "2021-01-03T10:00"]);
  });

  test("DST fall back in New York: the two 1 o'clock hours are one hourly period, as on the wall clock", () => {
    // 2024-11-03: 01:00-01:59 EDT (05:xxZ), then 01:00-01:59 EST (06:xxZ).
    const archives = at("2024-11-03T04:30:00Z", "2024-11-03T05:15:00Z", "2024-11-03T05:45:00Z", "2024-11-03T06:10:00Z", "2024-11-03T06:50:00Z", "2024-11-03T07:05:00Z");
    expect(keptTimes(archives, { keepHourly: 3 }, "America/New_York")).toEqual(["2024-11-03T07:05", "2024-11-03T06:50", "2024-11-03T04:30"]);
    // In UTC the same archives fill four hours.
    expect(keptTimes(archives, { keepHourly: 3 }, "UTC")).toEqual(["2024-11-03T07:05", "2024-11-03T06:50", "2024-11-03T05:45"]);
    // The 25-hour day is one day.
    expect(keptTimes(archives, { keepDaily: 1 }, "America/New_York")).toEqual(["2024-11-03T07:05"]);
  });

  test("DST spring forward in Berlin: the 23-hour day is one day, the skipped hour holds no archive", () => {
    // 2024-03-31: 02:00 CET does not happen; 00:30Z is 01:30 CET, 01:30Z is 03:30 CEST.
    const archives = at("2024-03-30T22:59:00Z", "2024-03-30T23:00:00Z", "2024-03-31T00:30:00Z", "2024-03-31T01:30:00Z", "2024-03-31T21:59:00Z", "2024-03-31T22:00:00Z");
    expect(keptTimes(archives, { keepDaily: 3 }, "Europe/Berlin")).toEqual(["2024-03-31T22:00", "2024-03-31T21:59", "2024-03-30T22:59"]);
    expect(keptTimes(archives, { keepHourly: 10 }, "Europe/Berlin").length).toBe(6);
  });

  test("keep_within counts back from the newest archive, not from now", () => {
    const archives = at("2024-05-10T00:00:00Z", "2024-05-09T00:00:01Z", "2024-05-09T00:00:00Z", "2024-05-01T00:00:00Z");
    expect(keptTimes(archives, { keepWithin: DAY })).toEqual(["2024-05-10T00:00", "2024-05-09T00:00"]);
    // An archive in the future (a skewed clock) is kept, and does not move the window.
    const future = [...archives, ...at("2031-01-01T00:00:00Z").map((a) => ({ ...a, uuid: "future" }))];
    expect(keptTimes(future, { keepWithin: DAY })).toEqual(["2031-01-01T00:00", "2024-05-10T00:00", "2024-05-09T00:00"]);
  });

  test("pinned archives and unexpired archives are kept whatever the rules say; the newest always is", () => {
    const archives = at("2024-05-10T00:00:00Z", "2024-05-09T00:00:00Z", "2024-05-08T00:00:00Z");
    archives[2]!.pinned = true;
    archives[1]!.expiresAt = NOW + 1;
    const verdicts = decide(archives, { ...NO_RULES, keepWithin: HOUR }, NOW, "UTC");
    expect(verdicts.map((v) => v.reasons)).toEqual([["keep_within"], ["not_expired"], ["pinned"]]);
    expect(toExpire(decide(at("2024-05-10T00:00:00Z"), { ...NO_RULES, keepWithin: HOUR }, NOW, "UTC"))).toEqual([]);
  });

  test("the issue's example: 7 dailies, 4 weeklies, 12 monthlies and the last 3", () => {
    // Hourly archives through 2024, expiring after an hour.
    const archives: RetainedArchive[] = [];
    for (let t = Date.UTC(2024, 0, 1) / 1000; t < Date.UTC(2025, 0, 1) / 1000; t += HOUR) archives.push({ uuid: `h${t}`, takenAt: t, expiresAt: t + HOUR, pinned: false });
    const now = Date.UTC(2025, 0, 1) / 1000;
    const kept = keptTimes(archives, { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 }, "UTC", now);
    expect(kept.slice(0, 9)).toEqual(["2024-12-31T23:00", "2024-12-31T22:00", "2024-12-31T21:00", "2024-12-30T23:00", "2024-12-29T23:00",
      "2024-12-28T23:00", "2024-12-27T23:00", "2024-12-26T23:00", "2024-12-25T23:00"]);
    // Weeks: 2025-W01 (Dec 30-31) and W52 (to Sunday Dec 29) are kept already, then the Sundays of W51 and W50;
    // months: December is kept already, then every month end back to January.
    expect(kept.slice(9, 11)).toEqual(["2024-12-22T23:00", "2024-12-15T23:00"]);
    expect(kept.slice(11)).toEqual(["2024-11-30T23:00", "2024-10-31T23:00", "2024-09-30T23:00", "2024-08-31T23:00", "2024-07-31T23:00",
      "2024-06-30T23:00", "2024-05-31T23:00", "2024-04-30T23:00", "2024-03-31T23:00", "2024-02-29T23:00", "2024-01-31T23:00"]);
  });
});
