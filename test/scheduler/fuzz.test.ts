// Properties of the parser over many generated inputs, from a fixed seed so a
// failure can be replayed: generated schedules print a canonical form that parses
// back to the same schedule, and random or mangled text gives a Timespec or a
// TimespecError, never another throw, and quickly.
import { describe, expect, test } from "bun:test";
import { parseTimespec, TimespecError, type Timespec } from "../../src/scheduler/timespec.ts";

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof rng>;

const ZONES = ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"];
const DAYS = [["sun", "sunday", "sundays"], ["mon", "monday", "mondays"], ["tue", "tues", "tuesday", "tuesdays"],
  ["wed", "wednesday", "wednesdays"], ["thu", "thur", "thurs", "thursday", "thursdays"], ["fri", "friday", "fridays"], ["sat", "saturday", "saturdays"]];
const pad = (n: number) => String(n).padStart(2, "0");

/** A time of day in one of its spellings, and its minutes past midnight. */
function timeOfDay(r: Rng): [string, number] {
  const h = r.int(0, 23);
  const m = r.chance(0.3) ? 0 : r.int(0, 59);
  const twelve = h % 12 === 0 ? 12 : h % 12;
  const half = h < 12 ? "am" : "pm";
  const text = r.pick([
    `${h}:${pad(m)}`, `${pad(h)}:${pad(m)}`, `${twelve}:${pad(m)}${half}`, `${twelve}:${pad(m)} ${half.toUpperCase()}`,
    ...(m === 0 ? [`${twelve}${half}`, `${twelve} ${half}`] : []),
    ...(h === 12 && m === 0 ? ["noon"] : []), ...(h === 0 && m === 0 ? ["midnight"] : []),
  ]);
  return [text, h * 60 + m];
}

function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th";
  return `${n}${s}`;
}

/** A valid schedule in a random spelling. */
function schedule(r: Rng): string {
  const [t] = timeOfDay(r);
  const at = r.chance(0.7) ? "at " : "";
  const day = r.pick(r.pick(DAYS));
  const mday = r.int(1, 31);
  let text: string;
  switch (r.int(0, 11)) {
    case 0: text = r.pick([`daily ${at}${t}`, `every day ${at}${t}`]); break;
    case 1: text = r.pick([`${day} ${at}${t}`, `weekly ${at}${t} on ${day}`, `weekly on ${day} ${at}${t}`, `every ${day} ${at}${t}`]); break;
    case 2: text = r.pick([`hourly at :${pad(r.int(0, 59))}`, `every hour at ${r.int(1, 59)} past`, `hourly ${r.pick(["quarter past", "half past", "quarter to"])}`, "hourly"]); break;
    case 3: text = `every ${r.pick([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120])} minutes` + (r.chance(0.5) ? ` from :${pad(r.int(0, 59))}` : ""); break;
    case 4: text = `every ${r.pick([1, 2, 3, 4, 6, 8, 12, 24])} hours` + (r.chance(0.7) ? ` from ${t}` : ""); break;
    case 5: text = `every ${r.int(1, 200)} ${r.pick(["minutes", "hours"])}` + (r.chance(0.5) ? ` from ${t}` : ""); break;
    case 6: text = r.pick([`monthly on the ${ordinal(mday)} ${at}${t}`, `monthly ${at}${t} on ${mday}`, `monthly ${at}${t} on the ${ordinal(mday)}`]); break;
    case 7: text = `${r.pick(["1st", "2nd", "3rd", "4th", "5th", "first", "second", "last"])} ${day}${r.chance(0.5) ? " of the month" : ""} ${at}${t}`; break;
    case 8: text = r.pick([`monthly on the last day ${at}${t}`, `last day of the month ${at}${t}`]); break;
    case 9: text = `${r.int(0, 59)} ${r.pick(["*", String(r.int(0, 23)), "*/2", "1-5", "3,15"])} ${r.pick(["*", "1", "15", "L"])} ${r.pick(["*", "1-6", "JAN"])} ${r.pick(["*", "MON-FRI", "0", "5#L", "2#3"])}`; break;
    case 10: text = `${r.pick(["0", "30"])} ${r.int(0, 59)} ${r.int(0, 23)} * * ${r.pick(["*", "1", "SUN"])}`; break;
    default: text = r.pick(["@daily", "@hourly", "@weekly", "@monthly", "@yearly"]);
  }
  if (r.chance(0.3)) text += ` in ${r.pick(ZONES)}`;
  if (r.chance(0.2)) text = text.toUpperCase();
  if (r.chance(0.2)) text = text.replace(/ /g, () => r.pick(["  ", "\t", " "]));
  return text;
}

const AFTERS = ["1999-12-31T23:59:59Z", "2024-02-28T12:00:00Z", "2024-03-31T00:30:00Z", "2024-10-27T00:59:00Z", "2024-11-03T05:30:00Z", "2031-07-15T08:00:00Z"]
  .map((s) => new Date(s));
const runsOf = (t: Timespec, after: Date) => t.nextRuns(after, 5, "Europe/Berlin").map((d) => d.getTime());

describe("canonical forms round-trip", () => {
  test("3000 generated schedules: canonical parses back to the same canonical and the same runs", () => {
    const r = rng(20240331);
    for (let i = 0; i < 3000; i++) {
      const text = schedule(r);
      let spec: Timespec;
      try {
        spec = parseTimespec(text);
      } catch (err) {
        throw new Error(`generated schedule ${JSON.stringify(text)} was refused: ${(err as Error).message}`);
      }
      const again = parseTimespec(spec.canonical);
      expect(again.canonical).toBe(spec.canonical);
      expect(again.zone).toBe(spec.zone);
      const after = r.pick(AFTERS);
      expect(runsOf(again, after)).toEqual(runsOf(spec, after));
    }
  });

  test("a daily time means that time: the first run on the schedule's clock is the time written", () => {
    const r = rng(7);
    for (let i = 0; i < 500; i++) {
      const [text, minutes] = timeOfDay(r);
      const spec = parseTimespec(`daily at ${text} in UTC`);
      const next = spec.next(new Date("2024-05-01T00:00:00Z"))!;
      // Midnight itself is strictly-after the start: it runs the next day.
      expect(next.getUTCHours() * 60 + next.getUTCMinutes()).toBe(minutes);
      expect(spec.canonical).toBe(`daily at ${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)} in UTC`);
    }
  });
});

describe("fuzz: a Timespec or a TimespecError, never another throw, never slow", () => {
  const ALPHABET = "abcdefghijklmnopqrstuvwxyzAMPL0123456789:*/,-#?+@ \t\n.'\"\\()[]{}!é日\u0000\u200b";
  const WORDS = ["every", "daily", "hourly", "weekly", "monthly", "at", "on", "the", "of", "month", "from", "in", "last", "half", "quarter",
    "past", "til", "minutes", "hours", "day", "sunday", "tues", "3rd", "5th", "32nd", "0", "00", "99", ":15", "25:00", "4am", "13pm",
    "noon", "*", "*/0", "L", "5#L", "MON#9", "Europe/Berlin", "Mars/Base", "in", "-1", "1e9", "99999999999999999999"];

  function mutate(r: Rng, text: string): string {
    const chars = [...text];
    const words = text.split(" ");
    switch (r.int(0, 7)) {
      case 0: chars.splice(r.int(0, chars.length), 1); return chars.join("");
      case 1: chars.splice(r.int(0, chars.length), 0, r.pick([...ALPHABET])); return chars.join("");
      case 2: chars[r.int(0, Math.max(0, chars.length - 1))] = r.pick([...ALPHABET]); return chars.join("");
      case 3: words.splice(r.int(0, words.length), 0, r.pick(WORDS)); return words.join(" ");
      case 4: words.splice(r.int(0, Math.max(0, words.length - 1)), 1); return words.join(" ");
      case 5: { const i = r.int(0, words.length - 1), j = r.int(0, words.length - 1); [words[i], words[j]] = [words[j]!, words[i]!]; return words.join(" "); }
      case 6: return text.replace(/\d+/, () => String(r.pick([0, 1, 5, 7, 13, 24, 25, 31, 32, 59, 60, 61, 100, 1e6])));
      default: return text.slice(0, r.int(0, text.length));
    }
  }

  function check(text: string, slowest: { ms: number; text: string }) {
    const started = performance.now();
    let spec: Timespec | undefined;
    try {
      spec = parseTimespec(text);
    } catch (err) {
      if (!(err instanceof TimespecError)) throw new Error(`${JSON.stringify(text)} threw ${String(err)}`);
      expect(err.at).toBeGreaterThanOrEqual(0);
      expect(err.at).toBeLessThanOrEqual(text.length);
      expect(err.message.length).toBeGreaterThan(0);
    }
    if (spec) {
      // Whatever parses must also compute, and say the same thing once printed.
      try {
        const runs = spec.nextRuns(AFTERS[1]!, 3, "America/New_York");
        for (let i = 1; i < runs.length; i++) expect(runs[i]!.getTime()).toBeGreaterThan(runs[i - 1]!.getTime());
        expect(parseTimespec(spec.canonical).canonical).toBe(spec.canonical);
      } catch (err) {
        throw new Error(`${JSON.stringify(text)} parsed as ${JSON.stringify(spec.canonical)} but then threw ${String(err)}`);
      }
    }
    const ms = performance.now() - started;
    if (ms > slowest.ms) Object.assign(slowest, { ms, text });
  }

  // A parse is a few microseconds; a hang or a catastrophic regex shows as tens of milliseconds and more.
  // The bound is loose because the machine is shared with other test runs.
  const BOUND_MS = 250;

  test("2000 random strings", () => {
    const r = rng(1);
    const slowest = { ms: 0, text: "" };
    for (let i = 0; i < 2000; i++) {
      const len = r.int(0, r.chance(0.1) ? 260 : 40);
      let s = "";
      for (let j = 0; j < len; j++) s += r.chance(0.3) ? r.pick(WORDS) + " " : r.pick([...ALPHABET]);
      check(s, slowest);
    }
    expect(slowest.ms, `slowest: ${JSON.stringify(slowest.text)}`).toBeLessThan(BOUND_MS);
  });

  test("4000 mutations of valid schedules", () => {
    const r = rng(2);
    const slowest = { ms: 0, text: "" };
    for (let i = 0; i < 4000; i++) {
      let text = schedule(r);
      for (let k = r.int(1, 3); k > 0; k--) text = mutate(r, text);
      check(text, slowest);
    }
    expect(slowest.ms, `slowest: ${JSON.stringify(slowest.text)}`).toBeLessThan(BOUND_MS);
  });

  test("non-strings are refused as TimespecErrors too", () => {
    for (const x of [undefined, null, 42, {}, ["daily at 4am"]]) expect(() => parseTimespec(x as any)).toThrow(TimespecError);
  });
});
