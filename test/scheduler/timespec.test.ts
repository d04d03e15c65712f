// The timespec language: every documented form, its canonical print, the runs it
// gives from fixed dates, and refusals that say what is wrong and where.
import { describe, expect, test } from "bun:test";
import { parseTimespec, TimespecError, type Timespec } from "../../src/scheduler/timespec.ts";

const utc = (s: string) => new Date(s.replace(" ", "T") + "Z");
const iso = (d: Date) => d.toISOString().slice(0, 16).replace("T", " ");
function runs(t: Timespec | string, after: string, count: number, zone = "UTC"): string[] {
  const spec = typeof t === "string" ? parseTimespec(t) : t;
  return spec.nextRuns(utc(after), count, zone).map(iso);
}
function refusal(text: string): TimespecError {
  try {
    parseTimespec(text);
  } catch (err) {
    if (err instanceof TimespecError) return err;
    throw new Error(`"${text}" threw ${String(err)}, not a TimespecError`);
  }
  throw new Error(`"${text}" was accepted`);
}

describe("forms and their canonical print", () => {
  const forms: [string, string][] = [
    // The examples.
    ["daily at 4am", "daily at 04:00"],
    ["daily 1am", "daily at 01:00"],
    ["sundays 8am", "sundays at 08:00"],
    ["weekly on sundays at 2am", "sundays at 02:00"],
    ["weekly at 5:35pm on tues", "tuesdays at 17:35"],
    ["every day at 16:30", "daily at 16:30"],
    ["hourly at :15", "hourly at :15"],
    ["every hour at half past", "hourly at :30"],
    ["every 30 minutes", "every 30 minutes"],
    ["every 4 hours from 12:15", "every 4 hours from 00:15"],
    ["monthly on the 3rd at 2am", "monthly on the 3rd at 02:00"],
    ["monthly at 11pm on 19", "monthly on the 19th at 23:00"],
    ["3rd tuesday at 2:05am", "3rd tuesday of the month at 02:05"],
    ["last friday of the month at 6pm", "last friday of the month at 18:00"],
    // Zones.
    ["daily at 4am in Europe/Berlin", "daily at 04:00 in Europe/Berlin"],
    ["daily at 4am in europe/berlin", "daily at 04:00 in Europe/Berlin"],
    ["15 4 * * * in America/New_York", "15 4 * * * in America/New_York"],
    // Case, whitespace, commas, abbreviations, plurals.
    ["DAILY AT 4AM", "daily at 04:00"],
    ["  daily\t\tat\n 4   pm ", "daily at 16:00"],
    ["weekly, on Sundays, at 2am", "sundays at 02:00"],
    ["Weekly at 2:30 on Thurs", "thursdays at 02:30"],
    ["wed at noon", "wednesdays at 12:00"],
    ["every saturday at midnight", "saturdays at 00:00"],
    ["on mondays at 7:15", "mondays at 07:15"],
    // The original Shield grammar's forms.
    ["hourly at 30", "hourly at :30"],
    ["hourly at x:30", "hourly at :30"],
    ["hourly at *:30", "hourly at :30"],
    ["hourly at h:30", "hourly at :30"],
    ["hourly 10", "hourly at :10"],
    ["hourly at quarter after", "hourly at :15"],
    ["hourly at quarter til", "hourly at :45"],
    ["hourly at 23 past", "hourly at :23"],
    ["hourly at 10 until", "hourly at :50"],
    ["every hour 45", "hourly at :45"],
    ["every hour", "hourly at :00"],
    ["every hour from 12:15", "hourly at :15"],
    ["hourly", "hourly at :00"],
    ["every quarter hour from 0:15", "every 15 minutes"],
    ["every half hour from 0:09", "every 30 minutes from :09"],
    ["every 90 minutes from 12:45am", "every 90 minutes from 00:45"],
    ["every 6 hours from 4:39", "every 6 hours from 04:39"],
    ["daily at 2:30 pm", "daily at 14:30"],
    ["every day 4am", "daily at 04:00"],
    ["weekly 5:35pm on sat", "saturdays at 17:35"],
    ["weekly at 5:35pm sat", "saturdays at 17:35"],
    ["thu 5:35pm", "thursdays at 17:35"],
    ["2nd tuesday at 23:15", "2nd tuesday of the month at 23:15"],
    ["4th fridays 8am", "4th friday of the month at 08:00"],
    ["monthly at 11:01pm on 4th", "monthly on the 4th at 23:01"],
    ["monthly 11:01pm 19st", "monthly on the 19th at 23:01"],
    // Intervals: one print per schedule, however it was spelled.
    ["every minute", "every minute"],
    ["every 1 minutes", "every minute"],
    ["every 60 minutes", "hourly at :00"],
    ["every 120 minutes", "every 2 hours"],
    ["every 1 hour from 3:20", "hourly at :20"],
    ["every 24 hours from 5:00", "daily at 05:00"],
    ["every 4 hours from 0:15", "every 4 hours from 00:15"],
    ["every 4 hours from 20:15", "every 4 hours from 00:15"],
    ["every 15 minutes from :35", "every 15 minutes from :05"],
    ["every 7 hours from 5:00", "every 7 hours from 05:00"],
    ["every 7 hours from 12:00", "every 7 hours from 05:00"],
    ["every 45 minutes", "every 45 minutes"],
    ["every 48 hours from 3am", "every 48 hours from 03:00"],
    // Month days and ordinals in words.
    ["monthly on the first at 1am", "monthly on the 1st at 01:00"],
    ["monthly on the last day at 23:00", "monthly on the last day at 23:00"],
    ["last day of the month at 11pm", "monthly on the last day at 23:00"],
    ["second monday of every month at 6:00", "2nd monday of the month at 06:00"],
    ["monthly on the 22nd day at 12am", "monthly on the 22nd at 00:00"],
    // Cron: fields kept, names upper-cased, zero seconds dropped.
    ["15 4 * * *", "15 4 * * *"],
    ["0 15 4 * * *", "15 4 * * *"],
    ["30 15 4 * * *", "30 15 4 * * *"],
    ["*/5  *  * * mon-fri", "*/5 * * * MON-FRI"],
    ["0 18 * * fri#L", "0 18 * * FRI#L"],
    ["0 2 L * *", "0 2 L * *"],
    ["@daily", "daily at 00:00"],
    ["@hourly", "hourly at :00"],
    ["@weekly", "sundays at 00:00"],
    ["@monthly", "monthly on the 1st at 00:00"],
  ];
  for (const [text, canonical] of forms) {
    test(`${JSON.stringify(text)} -> ${canonical}`, () => {
      const spec = parseTimespec(text);
      expect(spec.canonical).toBe(canonical);
      // The canonical form is a fixed point.
      expect(parseTimespec(canonical).canonical).toBe(canonical);
    });
  }

  test("zone is the suffix's zone, in Intl's spelling, or undefined", () => {
    expect(parseTimespec("daily at 4am in europe/berlin").zone).toBe("Europe/Berlin");
    expect(parseTimespec("daily at 4am in UTC").zone).toBe("UTC");
    expect(parseTimespec("daily at 4am").zone).toBeUndefined();
  });
});

describe("next runs from fixed dates (UTC)", () => {
  test("daily: later today, else tomorrow; strictly after", () => {
    expect(runs("daily at 4pm", "1991-08-06 11:15", 2)).toEqual(["1991-08-06 16:00", "1991-08-07 16:00"]);
    expect(runs("daily at 11:15am", "1991-08-06 11:15", 1)).toEqual(["1991-08-07 11:15"]);
    expect(parseTimespec("daily at 11:15am").next(new Date("1991-08-06T11:14:59.999Z"))!.toISOString()).toBe("1991-08-06T11:15:00.000Z");
    expect(parseTimespec("daily at 11:15am").next(new Date("1991-08-06T11:15:00.001Z"), "UTC")!.toISOString()).toBe("1991-08-07T11:15:00.000Z");
  });
  test("weekly: 6 August 1991 was a Tuesday", () => {
    expect(runs("tuesdays at 11:15", "1991-08-06 11:15", 1)).toEqual(["1991-08-13 11:15"]);
    expect(runs("saturdays at 7am", "1991-08-06 11:15", 1)).toEqual(["1991-08-10 07:00"]);
    expect(runs("weekly on mondays at 19:45", "1991-08-06 11:15", 1)).toEqual(["1991-08-12 19:45"]);
  });
  test("intervals", () => {
    expect(runs("every 5 minutes", "1991-08-06 11:15", 2)).toEqual(["1991-08-06 11:20", "1991-08-06 11:25"]);
    expect(runs("hourly at 7 after", "1991-08-06 11:15", 1)).toEqual(["1991-08-06 12:07"]);
    expect(runs("every 4 hours from 3:15am", "1991-08-06 11:15", 3)).toEqual(["1991-08-06 15:15", "1991-08-06 19:15", "1991-08-06 23:15"]);
    expect(runs("every 2 hours from 1:30am", "1991-08-06 11:15", 1)).toEqual(["1991-08-06 11:30"]);
    expect(runs("every quarter hour from 00:00", "1991-08-06 23:59", 1)).toEqual(["1991-08-07 00:00"]);
    expect(runs("every minute", "1991-08-06 23:59", 2)).toEqual(["1991-08-07 00:00", "1991-08-07 00:01"]);
  });
  test("an interval that does not divide the day runs every N hours, across midnight, not resetting", () => {
    const r = parseTimespec("every 7 hours from 5:00").nextRuns(utc("2024-05-01 00:00"), 10, "UTC");
    for (let i = 1; i < r.length; i++) expect(r[i]!.getTime() - r[i - 1]!.getTime()).toBe(7 * 3600_000);
    // Counted from 05:00 on 1 January 2000: 2024-05-01 00:00 is 212,491 hours later, 3 past a multiple of 7.
    const hours = (utc("2024-05-01 00:00").getTime() - utc("2000-01-01 05:00").getTime()) / 3600_000;
    expect(iso(r[0]!)).toBe(iso(new Date(utc("2024-05-01 00:00").getTime() + (7 - (hours % 7)) * 3600_000)));
    // Runs do not reset to 05:00 each day: some fall at other hours, and on 1 May there is no run at 05:00 + 7k of that day.
    expect(new Set(r.map((d) => d.getUTCHours())).size).toBeGreaterThan(3);
    const every45 = parseTimespec("every 45 minutes").nextRuns(utc("2024-05-01 23:00"), 4, "UTC").map(iso);
    expect(every45).toEqual(["2024-05-01 23:15", "2024-05-02 00:00", "2024-05-02 00:45", "2024-05-02 01:30"]);
  });
  test("monthly by day and by nth weekday", () => {
    expect(runs("monthly at 1am on the 15th", "1991-08-06 11:15", 1)).toEqual(["1991-08-15 01:00"]);
    expect(runs("monthly on the 6th at 10:05", "1991-08-06 11:15", 1)).toEqual(["1991-09-06 10:05"]);
    expect(runs("3rd thursday at 1am", "1991-08-06 11:15", 1)).toEqual(["1991-08-15 01:00"]);
    expect(runs("1st monday at 2:30", "1991-08-06 11:15", 1)).toEqual(["1991-09-02 02:30"]);
    expect(runs("1st tuesday at 10:05", "1991-08-06 11:15", 1)).toEqual(["1991-09-03 10:05"]);
    expect(runs("3rd tuesday at 2:05am", "2024-12-20 00:00", 1)).toEqual(["2025-01-21 02:05"]);
  });
  test("the zone argument is the fallback; a spec's own zone wins", () => {
    const noZone = parseTimespec("daily at 4am");
    expect(iso(noZone.next(utc("2024-06-01 00:00"), "America/New_York")!)).toBe("2024-06-01 08:00");
    expect(iso(noZone.next(utc("2024-06-01 00:00"), "Asia/Tokyo")!)).toBe("2024-06-01 19:00");
    const berlin = parseTimespec("daily at 4am in Europe/Berlin");
    expect(iso(berlin.next(utc("2024-06-01 00:00"), "America/New_York")!)).toBe("2024-06-01 02:00");
    expect(() => noZone.next(utc("2024-06-01 00:00"), "Mars/Olympus")).toThrow(TimespecError);
  });
  test("nextRuns gives count runs, strictly increasing", () => {
    const r = parseTimespec("every 30 minutes").nextRuns(utc("2024-01-01 00:00"), 50, "UTC");
    expect(r).toHaveLength(50);
    for (let i = 1; i < r.length; i++) expect(r[i]!.getTime()).toBeGreaterThan(r[i - 1]!.getTime());
    expect(parseTimespec("daily at 4am").nextRuns(utc("2024-01-01 00:00"), 0, "UTC")).toEqual([]);
  });
});

describe("refusals name what is wrong and where", () => {
  const cases: [string, number, RegExp][] = [
    ["daily at 25:00", 9, /"25:00" is not a time of day: hours run 0 to 23/],
    ["daily at 4:60", 9, /minutes run 00 to 59/],
    ["daily at 13pm", 9, /with am or pm the hour runs 1 to 12/],
    ["daily at 4", 9, /needs am or pm, or minutes: write 4am, 4pm or 04:00/],
    ["daily", 5, /ends too soon: expected a time of day/],
    ["daily at", 8, /"daily at" ends too soon/],
    ["monthly on the 32nd", 15, /"32nd" is not a day of the month: days run 1 to 31/],
    ["monthly on the 0th at 1am", 15, /not a day of the month/],
    ["every 0 hours", 6, /"every 0 hours" is not an interval: it must be at least 1/],
    ["every 0 minutes", 6, /at least 1/],
    ["every 9000 hours", 6, /longer than a year/],
    ["every 5 days", 8, /"days" is not a word of the timespec language \(did you mean "day"\?\); expected "minutes" or "hours"/],
    ["dialy at 4am", 0, /"dialy" is not a word of the timespec language \(did you mean "daily"\?\)/],
    ["weekly at 5pm on funday", 17, /"funday" is not a word .*did you mean "sunday"/],
    ["sundays at 8am please", 15, /unexpected "please" after a complete schedule/],
    ["6th tuesday at 1am", 0, /a month has at most 5 of each weekday/],
    ["hourly at 75", 10, /minutes run 0 to 59/],
    ["hourly at half", 14, /needs "past" or "to"/],
    ["daily at 4am in Europe/Berln", 16, /"Europe\/Berln" is not a time zone.*did you mean Europe\/Berlin\?/],
    ["daily at 4am in +01:00", 16, /is not a time zone/],
    ["daily at 4am in", 13, /"in" must be followed by a time zone/],
    ["60 * * * *", 0, /cron minute field "60" is not valid/],
    ["0 24 * * *", 2, /cron hour field "24"/],
    ["0 0 * 13 *", 6, /cron month field "13"/],
    ["0 0 * * 8", 8, /cron day-of-week field "8"/],
    ["0 0 0 * *", 4, /cron day-of-month field "0"/],
    ["0 60 0 * * *", 2, /cron minute field "60"/],
    ["0 0 * *", 0, /a cron expression has 5 fields .* this one has 4/],
    ["0 0 * * * * *", 0, /this one has 7/],
    ["0 0 31 2 *", 0, /never runs/],
    ["0 0 * * $", 8, /has characters cron does not use/],
    ["@fortnightly", 0, /not a cron nickname/],
    ["", 0, /a schedule is empty/],
    ["   ", 0, /a schedule is empty/],
    ["4am daily", 0, /"4am" cannot start a schedule/],
    ["x".repeat(201), 200, /at most 200 characters/],
  ];
  for (const [text, at, words] of cases) {
    test(JSON.stringify(text.length > 40 ? text.slice(0, 40) + "..." : text), () => {
      const err = refusal(text);
      expect(err.message).toMatch(words);
      expect(err.at).toBe(at);
      // Where, for people: the same place as a 1-based character.
      expect(err.message).toContain(`(character ${at + 1})`);
    });
  }
});
