/**
 * The timespec language: what a schedule's `when` says ("daily at 4am",
 * "3rd tuesday at 2:05am in Europe/Berlin", "15 4 * * *"), parsed into a
 * Timespec that prints one canonical form and computes its next runs.
 *
 * Every English form is translated to one croner pattern, except intervals that
 * do not divide the hour or the day ("every 7 hours"), which croner cannot say
 * without resetting at midnight: those run on a fixed grid of real time (see
 * `anchored`). The grammar, the canonical forms and the DST rules are written
 * down in docs/timespec.md; keep the two in step.
 */
import { Cron } from "croner";
import { canonicalZone, daemonZone, instantOf } from "./zone.ts";
import { nearest } from "../edit-distance.ts";

export { daemonZone } from "./zone.ts";

export class TimespecError extends Error {
  /** Character offset (0-based) in the text where the problem is. */
  readonly at: number;
  constructor(message: string, at: number) {
    super(message);
    this.name = "TimespecError";
    this.at = at;
  }
}

export interface Timespec {
  /** The one printed form; parseTimespec(canonical) gives an equal Timespec. */
  readonly canonical: string;
  /** IANA zone from an `in <zone>` suffix, else undefined (the daemon's zone applies). */
  readonly zone: string | undefined;
  /** The first run strictly after `after`; `zone` is the fallback when the spec names none. */
  next(after: Date, zone?: string): Date | undefined;
  nextRuns(after: Date, count: number, zone?: string): Date[];
}

/** Longer than any sensible schedule; bounds the work a parse can do. */
export const MAX_TIMESPEC_LENGTH = 200;

// ---- what a schedule is ------------------------------------------------------

/** Minutes past midnight. */
type TimeOfDay = number;

type Spec =
  /** Every `every` minutes on the clock, `every` dividing 60: at offset, offset+every, ... past each hour. */
  | { kind: "minutes"; every: number; offset: number }
  | { kind: "hourly"; minute: number }
  /** Every `every` hours on the clock, `every` dividing 24 (2..12): at `first` (< every*60), first+every h, ... each day. */
  | { kind: "hours"; every: number; first: TimeOfDay }
  /** Every `minutes` of real time, counted from `from` on 1 January 2000 in the schedule's zone. */
  | { kind: "anchored"; minutes: number; from: TimeOfDay }
  | { kind: "daily"; at: TimeOfDay }
  | { kind: "weekly"; day: number; at: TimeOfDay }
  /** day 1..31, or "last" for the last day of the month. */
  | { kind: "monthly"; day: number | "last"; at: TimeOfDay }
  /** The nth (1..5, or last) `day` of each month. */
  | { kind: "nth"; nth: number | "last"; day: number; at: TimeOfDay }
  | { kind: "cron"; fields: string[] };

const DAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const DAY_WORDS: Record<string, number> = {};
DAY_NAMES.forEach((name, i) => {
  for (const w of [name, name + "s", name.slice(0, 3)]) DAY_WORDS[w] = i;
});
Object.assign(DAY_WORDS, { tues: 2, weds: 3, thur: 4, thurs: 4 });
const ORDINAL_WORDS: Record<string, number> = { first: 1, second: 2, third: 3, fourth: 4, fifth: 5 };
const MAX_INTERVAL_MINUTES = 366 * 24 * 60;
/** 1 January 2000: where intervals that do not divide the day are counted from. */
const ANCHOR_DATE = [2000, 1, 1] as const;

// ---- printing: one canonical form per schedule -------------------------------

const pad = (n: number) => String(n).padStart(2, "0");
const clock = (t: TimeOfDay) => `${pad(Math.floor(t / 60))}:${pad(t % 60)}`;
function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? "th" : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th";
  return `${n}${suffix}`;
}

function print(spec: Spec): string {
  switch (spec.kind) {
    case "minutes":
      if (spec.every === 1) return "every minute";
      return `every ${spec.every} minutes` + (spec.offset ? ` from :${pad(spec.offset)}` : "");
    case "hourly":
      return `hourly at :${pad(spec.minute)}`;
    case "hours":
      return `every ${spec.every} hours` + (spec.first ? ` from ${clock(spec.first)}` : "");
    case "anchored": {
      const hours = spec.minutes % 60 === 0;
      const n = hours ? spec.minutes / 60 : spec.minutes;
      return `every ${n} ${hours ? "hours" : "minutes"}` + (spec.from ? ` from ${clock(spec.from)}` : "");
    }
    case "daily":
      return `daily at ${clock(spec.at)}`;
    case "weekly":
      return `${DAY_NAMES[spec.day]}s at ${clock(spec.at)}`;
    case "monthly":
      return `monthly on the ${spec.day === "last" ? "last day" : ordinal(spec.day)} at ${clock(spec.at)}`;
    case "nth":
      return `${spec.nth === "last" ? "last" : ordinal(spec.nth)} ${DAY_NAMES[spec.day]} of the month at ${clock(spec.at)}`;
    case "cron":
      return spec.fields.join(" ");
  }
}

/**
 * Intervals come in many spellings ("every 60 minutes", "every 4 hours from
 * 12:15", "every 24 hours"); this picks the one kind each schedule is, so that
 * equal schedules print alike.
 */
function interval(minutes: number, from: TimeOfDay): Spec {
  if (minutes === 1440) return { kind: "daily", at: from };
  if (60 % minutes === 0) return minutes === 60 ? { kind: "hourly", minute: from % 60 } : { kind: "minutes", every: minutes, offset: from % minutes };
  if (minutes % 60 === 0 && 24 % (minutes / 60) === 0) return { kind: "hours", every: minutes / 60, first: from % minutes };
  // A grid of real time: froms that differ by whole intervals give the same grid.
  return { kind: "anchored", minutes, from: minutes < 1440 ? from % minutes : from };
}

// ---- croner patterns ---------------------------------------------------------

/** Seconds-first, six fields. Day of week 0 = Sunday, as croner (and cron) count. */
function pattern(spec: Exclude<Spec, { kind: "anchored" }>): string {
  const hm = (t: TimeOfDay) => `0 ${t % 60} ${Math.floor(t / 60)}`;
  switch (spec.kind) {
    case "minutes": {
      if (spec.every === 1) return "0 * * * * *";
      const minutes = [];
      for (let m = spec.offset; m < 60; m += spec.every) minutes.push(m);
      return `0 ${minutes.join(",")} * * * *`;
    }
    case "hourly":
      return `0 ${spec.minute} * * * *`;
    case "hours": {
      // An explicit list of hours, not a step: croner then treats it as fixed times of day (see DST in docs/timespec.md).
      const hours = [];
      for (let h = Math.floor(spec.first / 60); h < 24; h += spec.every) hours.push(h);
      return `0 ${spec.first % 60} ${hours.join(",")} * * *`;
    }
    case "daily":
      return `${hm(spec.at)} * * *`;
    case "weekly":
      return `${hm(spec.at)} * * ${spec.day}`;
    case "monthly":
      return `${hm(spec.at)} ${spec.day === "last" ? "L" : spec.day} * *`;
    case "nth":
      return `${hm(spec.at)} * * ${spec.day}#${spec.nth === "last" ? "L" : spec.nth}`;
    case "cron":
      return spec.fields.length === 5 ? `0 ${spec.fields.join(" ")}` : spec.fields.join(" ");
  }
}

function cronFor(pat: string, zone: string): Cron {
  // fixedTimeRule "no-wildcard": a schedule naming its hours and minutes is a fixed time of day: on a DST
  // change it runs once, and a time that does not exist runs when the clock jumps past it. Anything with a
  // wildcard or step (hourly, every 15 minutes) follows the clock through both passes of a repeated hour.
  return new Cron(pat, { paused: true, timezone: zone, mode: "5-or-6-parts", fixedTimeRule: "no-wildcard" });
}

// ---- the compiled Timespec ---------------------------------------------------

class CompiledTimespec implements Timespec {
  readonly canonical: string;
  private readonly crons = new Map<string, Cron>();
  private readonly anchors = new Map<string, number>();

  constructor(private readonly spec: Spec, readonly zone: string | undefined) {
    this.canonical = print(spec) + (zone ? ` in ${zone}` : "");
  }

  next(after: Date, zone?: string): Date | undefined {
    const z = this.zoneFor(zone);
    const from = after.getTime();
    if (Number.isNaN(from)) throw new TypeError("next(): `after` is not a valid date");
    if (this.spec.kind === "anchored") {
      const step = this.spec.minutes * 60_000;
      let anchor = this.anchors.get(z);
      if (anchor === undefined) {
        anchor = instantOf(...ANCHOR_DATE, Math.floor(this.spec.from / 60), this.spec.from % 60, z);
        this.anchors.set(z, anchor);
      }
      return new Date(anchor + (Math.floor((from - anchor) / step) + 1) * step);
    }
    let cron = this.crons.get(z);
    if (!cron) {
      cron = cronFor(pattern(this.spec), z);
      this.crons.set(z, cron);
    }
    const next = cron.nextRun(after);
    // Croner answers "strictly after" to the second; be strict to the millisecond too.
    if (next && next.getTime() <= from) return cron.nextRun(new Date(Math.floor(from / 1000) * 1000 + 1000)) ?? undefined;
    return next ?? undefined;
  }

  nextRuns(after: Date, count: number, zone?: string): Date[] {
    const runs: Date[] = [];
    let from = after;
    for (let i = 0; i < count; i++) {
      const next = this.next(from, zone);
      if (!next || next.getTime() <= from.getTime()) break;
      runs.push(next);
      from = next;
    }
    return runs;
  }

  private zoneFor(fallback: string | undefined): string {
    if (this.zone) return this.zone;
    if (fallback === undefined) return daemonZone();
    const zone = canonicalZone(fallback);
    if (!zone) throw new TimespecError(`"${fallback}" is not a time zone`, 0);
    return zone;
  }
}

// ---- reading -----------------------------------------------------------------

interface Token {
  /** Lower-cased. */
  text: string;
  raw: string;
  at: number;
}

const where = (at: number) => `(character ${at + 1})`;

function fail(message: string, at: number): never {
  throw new TimespecError(`${message} ${where(at)}`, at);
}

export function parseTimespec(text: string): Timespec {
  if (typeof text !== "string") throw new TimespecError("a schedule must be text", 0);
  if (text.length > MAX_TIMESPEC_LENGTH) fail(`a schedule is at most ${MAX_TIMESPEC_LENGTH} characters; this one is ${text.length}`, MAX_TIMESPEC_LENGTH);
  const words = tokenize(text, /[^\s]+/g);
  if (words.length === 0) fail("a schedule is empty: write one like \"daily at 4am\" or a cron expression", 0);

  // An `in <zone>` suffix, for either language.
  let zone: string | undefined;
  let body = words;
  const inAt = words.length - 2;
  if (inAt >= 1 && words[inAt]!.text === "in") {
    const name = words[inAt + 1]!;
    zone = canonicalZone(name.raw);
    if (!zone) fail(`"${name.raw}" is not a time zone: use an IANA name like Europe/Berlin or America/New_York${zoneHint(name.raw)}`, name.at);
    body = words.slice(0, inAt);
  } else if (words.length >= 1 && words[words.length - 1]!.text === "in") {
    fail("\"in\" must be followed by a time zone, like Europe/Berlin", words[words.length - 1]!.at);
  }

  if (looksLikeCron(body)) return new CompiledTimespec(parseCron(body, text), zone);
  if (body[0]!.raw.startsWith("@")) return new CompiledTimespec(nickname(body), zone);
  // English: commas separate words as spaces do ("weekly, on sundays, at 2am").
  const end = body[body.length - 1]!;
  const english = tokenize(text.slice(0, end.at + end.raw.length), /[^\s,]+/g);
  return new CompiledTimespec(new EnglishParser(english, text).parse(), zone);
}

function tokenize(text: string, re: RegExp): Token[] {
  const out: Token[] = [];
  for (const m of text.matchAll(re)) out.push({ raw: m[0], text: m[0].toLowerCase(), at: m.index! });
  return out;
}

function zoneHint(name: string): string {
  const zones: string[] = (Intl as any).supportedValuesOf?.("timeZone") ?? [];
  const near = nearest(name, zones, 3);
  return near ? `; did you mean ${near}?` : "";
}

// ---- cron --------------------------------------------------------------------

const CRONISH = /^[\d*?/,-]+$/;

/** Cron when the first two fields are made of cron's own characters ("15 4 * * *"), never English ("3rd tuesday"). */
function looksLikeCron(words: Token[]): boolean {
  if (words.length < 2) return CRONISH.test(words[0]!.raw) && words[0]!.raw.includes("*");
  return CRONISH.test(words[0]!.raw) && CRONISH.test(words[1]!.raw) && (words.length >= 5 || words.some((w) => w.raw.includes("*")));
}

const FIELDS_5 = ["minute", "hour", "day-of-month", "month", "day-of-week"];
const FIELDS_6 = ["second", ...FIELDS_5];
const FIELD_RANGE: Record<string, string> = {
  second: "0-59", minute: "0-59", hour: "0-23", "day-of-month": "1-31, L or W", month: "1-12 or JAN-DEC", "day-of-week": "0-7 or SUN-SAT, with # or L",
};

function parseCron(words: Token[], text: string): Spec {
  if (words.length !== 5 && words.length !== 6) {
    fail(`a cron expression has 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first); this one has ${words.length}`, words[0]!.at);
  }
  const names = words.length === 5 ? FIELDS_5 : FIELDS_6;
  words.forEach((w, i) => {
    if (!/^[0-9A-Za-z*?/,#+-]+$/.test(w.raw) || w.raw.length > 100) fail(`cron ${names[i]} field "${w.raw}" has characters cron does not use`, w.at);
  });
  let fields = words.map((w) => w.raw.toUpperCase());
  // "0 15 4 * * *" and "15 4 * * *" are one schedule: print it without the zero seconds.
  if (fields.length === 6 && /^0+$/.test(fields[0]!)) fields = fields.slice(1);
  const pat = fields.length === 5 ? `0 ${fields.join(" ")}` : fields.join(" ");
  let cron: Cron;
  try {
    cron = cronFor(pat, "UTC");
  } catch (err) {
    const i = cronFieldOf(String((err as Error).message), words.length);
    const w = words[i] ?? words[0]!;
    const name = names[i] ?? names[0]!;
    fail(`cron ${name} field "${w.raw}" is not valid: it takes ${FIELD_RANGE[name]}, *, lists, ranges and */steps`, w.at);
  }
  let first: Date | null = null;
  try {
    first = cron.nextRun(new Date(Date.UTC(2000, 0, 1)));
  } catch { /* reported below */ }
  if (!first) fail(`cron expression "${text.trim()}" never runs (a date like 31 February does not exist)`, words[0]!.at);
  return { kind: "cron", fields };
}

/** Which field croner complained of, from its message: an index into the user's fields. */
function cronFieldOf(message: string, count: number): number {
  // Croner always sees six fields (we add zero seconds to five); the user may have written five.
  const shift = count === 5 ? -1 : 0;
  const entry = /configuration entry (\d+)/.exec(message);
  const m = message.toLowerCase();
  const idx =
    entry ? Number(entry[1]) - 1
    : /nearestweekdays|dayofmonth|day:| day /.test(m) ? 3
    : /dayofweek|weekday|day of week/.test(m) ? 5
    : /month/.test(m) ? 4
    : /hour/.test(m) ? 2
    : /minute/.test(m) ? 1
    : /second/.test(m) ? 0
    : 1;
  return Math.max(0, idx + shift);
}

function nickname(words: Token[]): Spec {
  const w = words[0]!;
  if (words.length > 1) fail(`unexpected "${words[1]!.raw}" after ${w.raw}`, words[1]!.at);
  switch (w.text) {
    case "@hourly": return { kind: "hourly", minute: 0 };
    case "@daily": case "@midnight": return { kind: "daily", at: 0 };
    case "@weekly": return { kind: "weekly", day: 0, at: 0 };
    case "@monthly": return { kind: "monthly", day: 1, at: 0 };
    case "@yearly": case "@annually": return { kind: "cron", fields: ["0", "0", "1", "1", "*"] };
  }
  fail(`"${w.raw}" is not a cron nickname: @hourly, @daily, @weekly, @monthly or @yearly`, w.at);
}

// ---- English -----------------------------------------------------------------

/** Every word of the English forms, for "did you mean". */
const VOCABULARY = [
  "every", "hourly", "daily", "weekly", "monthly", "minute", "minutes", "hour", "hours", "day", "at", "on", "the", "of", "from",
  "in", "month", "last", "quarter", "half", "past", "after", "til", "till", "until", "to", "before", "am", "pm", "noon", "midnight",
  ...Object.keys(DAY_WORDS), ...Object.keys(ORDINAL_WORDS),
];

const AFTER_WORDS = new Set(["past", "after"]);
const BEFORE_WORDS = new Set(["til", "till", "until", "to", "before"]);
const MINUTE_UNITS = new Set(["minute", "minutes", "min", "mins"]);
const HOUR_UNITS = new Set(["hour", "hours", "hr", "hrs"]);
const TIME_EXAMPLE = "a time of day like 4am, 5:35pm or 16:30";

class EnglishParser {
  private pos = 0;
  constructor(private readonly tokens: Token[], private readonly text: string) {}

  parse(): Spec {
    const spec = this.schedule();
    const extra = this.peek();
    if (extra) fail(`unexpected "${extra.raw}" after a complete schedule${this.suggestion(extra)}`, extra.at);
    return spec;
  }

  // -- the forms

  private schedule(): Spec {
    const t = this.peek()!;
    const w = t.text;
    if (w === "every") { this.pos++; return this.every(); }
    if (w === "hourly") { this.pos++; return this.hourly(); }
    if (w === "daily") { this.pos++; return { kind: "daily", at: this.atTime("daily") }; }
    if (w === "weekly") { this.pos++; return this.weekly(); }
    if (w === "monthly") { this.pos++; return this.monthly(); }
    if (w === "last" || w in ORDINAL_WORDS || /^\d+(st|nd|rd|th)$/.test(w)) return this.nthWeekday();
    if (w === "on" && this.peek(1) && DAY_WORDS[this.peek(1)!.text] !== undefined) this.pos++;
    if (DAY_WORDS[this.peek()!.text] !== undefined) {
      const day = this.dayName();
      return { kind: "weekly", day, at: this.atTime(DAY_NAMES[day]!) };
    }
    if (/^\d/.test(w)) fail(`"${t.raw}" cannot start a schedule: start with every, hourly, daily, weekly, monthly, a day (sundays) or an ordinal (3rd tuesday), or write a 5-field cron expression`, t.at);
    this.unknown(t, "a schedule like \"daily at 4am\", \"sundays 8am\" or \"every 4 hours\"");
  }

  /** After "every": minute, N minutes, N hours, hour, day, quarter/half hour, a day name. */
  private every(): Spec {
    const t = this.need("minute, hour, day, a number of minutes or hours, or a day of the week");
    const w = t.text;
    if (w === "minute") { this.pos++; return { kind: "minutes", every: 1, offset: 0 }; }
    if (w === "hour") { this.pos++; return this.hourly(); }
    if (w === "day") { this.pos++; return { kind: "daily", at: this.atTime("every day") }; }
    if (w === "quarter" || w === "half") {
      this.pos++;
      this.word(["hour"], `${w} hour`);
      return this.withFrom(w === "quarter" ? 15 : 30);
    }
    if (DAY_WORDS[w] !== undefined) {
      const day = this.dayName();
      return { kind: "weekly", day, at: this.atTime(`every ${DAY_NAMES[day]}`) };
    }
    if (/^\d+$/.test(w)) {
      this.pos++;
      const n = Number(w);
      const unit = this.need("minutes or hours");
      const isMinutes = MINUTE_UNITS.has(unit.text);
      if (!isMinutes && !HOUR_UNITS.has(unit.text)) this.unknown(unit, `"minutes" or "hours" after "every ${t.raw}"`);
      this.pos++;
      const unitName = isMinutes ? "minutes" : "hours";
      if (n === 0) fail(`"every 0 ${unitName}" is not an interval: it must be at least 1`, t.at);
      const minutes = isMinutes ? n : n * 60;
      if (minutes > MAX_INTERVAL_MINUTES) fail(`"every ${t.raw} ${unitName}" is longer than a year: use monthly, or a cron expression`, t.at);
      return this.withFrom(minutes);
    }
    this.unknown(t, "minute, hour, day, a number of minutes or hours, or a day of the week after \"every\"");
  }

  /** An interval, with an optional "from <time>" (or "at <time>") where it starts. */
  private withFrom(minutes: number): Spec {
    let from = 0;
    const t = this.peek();
    if (t && (t.text === "from" || t.text === "at" || t.text === "starting")) {
      this.pos++;
      if (t.text === "starting") this.word(["at", "from"], "starting");
      from = this.peek() && /^[hx*]?:\d/.test(this.peek()!.text) ? this.minuteOfHour(t.text) : this.time(t.text);
    }
    return interval(minutes, from);
  }

  /** After "hourly" or "every hour": [at] minute-of-hour, "from" a time, or nothing (on the hour). */
  private hourly(): Spec {
    const t = this.peek();
    if (!t) return { kind: "hourly", minute: 0 };
    if (t.text === "from" || t.text === "starting") return this.withFrom(60);
    if (t.text === "at") this.pos++;
    return { kind: "hourly", minute: this.minuteOfHour("hourly at") };
  }

  /** weekly [at] TIME [on] DAY | weekly [on] DAY [at] TIME */
  private weekly(): Spec {
    const t = this.need("a day and a time, like \"weekly on sundays at 2am\"");
    if (t.text === "on" || DAY_WORDS[t.text] !== undefined) {
      if (t.text === "on") this.pos++;
      const day = this.dayName();
      return { kind: "weekly", day, at: this.atTime(`weekly on ${DAY_NAMES[day]}s`) };
    }
    const at = this.atTime("weekly");
    if (this.peek()?.text === "on") this.pos++;
    return { kind: "weekly", day: this.dayName(), at };
  }

  /** monthly [at] TIME [on] [the] DAY | monthly [on] [the] DAY [at] TIME */
  private monthly(): Spec {
    const t = this.need("a day of the month and a time, like \"monthly on the 3rd at 2am\"");
    if (t.text === "on" || t.text === "the" || this.isMonthDay(t)) {
      const day = this.monthDay();
      return { kind: "monthly", day, at: this.atTime("monthly on the " + (day === "last" ? "last day" : ordinal(day))) };
    }
    const at = this.atTime("monthly");
    return { kind: "monthly", day: this.monthDay(), at };
  }

  /** 3rd tuesday [of the month] [at] TIME | last friday ... | last day of the month at TIME */
  private nthWeekday(): Spec {
    const t = this.peek()!;
    this.pos++;
    let nth: number | "last";
    if (t.text === "last") {
      nth = "last";
      if (this.peek()?.text === "day") {
        this.pos++;
        this.ofTheMonth();
        return { kind: "monthly", day: "last", at: this.atTime("last day of the month") };
      }
    } else if (t.text in ORDINAL_WORDS) {
      nth = ORDINAL_WORDS[t.text]!;
    } else {
      nth = Number(/^\d+/.exec(t.text)![0]);
      if (nth < 1 || nth > 5) {
        // "monthly 3rd at 2am" reads naturally too; point at the likely intent.
        fail(`"${t.raw}" ${nth > 5 && nth <= 31 ? "weekday does not exist: a month has at most 5 of each weekday (for a day of the month write \"monthly on the " + t.text + "\")" : "is not a week of the month: use 1st to 5th, or last"}`, t.at);
      }
    }
    const day = this.dayName();
    this.ofTheMonth();
    const label = `${nth === "last" ? "last" : ordinal(nth)} ${DAY_NAMES[day]}`;
    return { kind: "nth", nth, day, at: this.atTime(label) };
  }

  // -- pieces

  /** [of the month | of every month | of each month] */
  private ofTheMonth(): void {
    if (this.peek()?.text !== "of") return;
    this.pos++;
    this.word(["the", "every", "each"], "of");
    this.word(["month"], "of the");
  }

  /** Whether `monthly` is followed by its day first: "monthly 19 at 11pm" yes, "monthly 11 pm on 19" no. */
  private isMonthDay(t: Token): boolean {
    if (/^\d+(st|nd|rd|th)$/.test(t.text) || t.text === "last" || t.text in ORDINAL_WORDS) return true;
    const next = this.peek(1)?.text ?? "";
    return /^\d+$/.test(t.text) && !/^(am|pm|a\.m\.|p\.m\.)$/.test(next);
  }

  /** [on] [the] (3rd | 19 | third | last [day]) [day] [of the month] */
  private monthDay(): number | "last" {
    if (this.peek()?.text === "on") this.pos++;
    if (this.peek()?.text === "the") this.pos++;
    const t = this.need("a day of the month, like 3rd or last");
    let day: number | "last";
    if (t.text === "last") day = "last";
    else if (t.text in ORDINAL_WORDS) day = ORDINAL_WORDS[t.text]!;
    else {
      const m = /^(\d+)(st|nd|rd|th)?$/.exec(t.text);
      if (!m) this.unknown(t, "a day of the month, like 3rd, 19 or last");
      day = Number(m[1]);
      if (day < 1 || day > 31) fail(`"${t.raw}" is not a day of the month: days run 1 to 31 (for the month's end write "last day")`, t.at);
    }
    this.pos++;
    if (this.peek()?.text === "day") this.pos++;
    this.ofTheMonth();
    return day;
  }

  private dayName(): number {
    const t = this.need("a day of the week, like sunday or tues");
    const day = DAY_WORDS[t.text];
    if (day === undefined) this.unknown(t, "a day of the week, like sunday or tues");
    this.pos++;
    return day;
  }

  /** [at] TIME */
  private atTime(after: string): TimeOfDay {
    if (this.peek()?.text === "at") {
      this.pos++;
      after += " at";
    }
    return this.time(after);
  }

  /** 4am, 4 am, 5:35pm, 5:35 pm, 16:30, noon, midnight */
  private time(after: string): TimeOfDay {
    const t = this.need(TIME_EXAMPLE, after);
    if (t.text === "noon") { this.pos++; return 720; }
    if (t.text === "midnight") { this.pos++; return 0; }
    const m = /^(\d+)(?::(\d+))?(am|pm|a\.m\.|p\.m\.)?$/.exec(t.text);
    if (!m) {
      if (/^[hx*]?:\d+$/.test(t.text)) fail(`"${t.raw}" is a minute of the hour; after "${after}" write ${TIME_EXAMPLE}`, t.at);
      this.unknown(t, `${TIME_EXAMPLE} after "${after}"`);
    }
    this.pos++;
    let half = m[3]?.[0];
    if (!half && /^(am|pm|a\.m\.|p\.m\.)$/.test(this.peek()?.text ?? "")) {
      half = this.peek()!.text[0];
      this.pos++;
    }
    if (m[1]!.length > 2 || (m[2] !== undefined && m[2].length !== 2)) fail(`"${t.raw}" is not ${TIME_EXAMPLE}`, t.at);
    const hour = Number(m[1]);
    const minute = m[2] === undefined ? 0 : Number(m[2]);
    if (minute > 59) fail(`"${t.raw}" is not a time of day: minutes run 00 to 59`, t.at);
    if (half) {
      if (hour < 1 || hour > 12) fail(`"${t.raw}" is not a time of day: with am or pm the hour runs 1 to 12`, t.at);
      return ((hour % 12) + (half === "p" ? 12 : 0)) * 60 + minute;
    }
    if (m[2] === undefined) fail(`"${t.raw}" after "${after}" needs am or pm, or minutes: write ${hour <= 12 ? `${hour}am, ${hour}pm or ` : ""}${pad(hour)}:00`, t.at);
    if (hour > 23) fail(`"${t.raw}" is not a time of day: hours run 0 to 23`, t.at);
    return hour * 60 + minute;
  }

  /** :15, x:15, h:15, *:15, 15, 15 past, quarter past, half past, 10 til, quarter to */
  private minuteOfHour(after: string): number {
    const t = this.need("a minute of the hour, like :15 or half past", after);
    const colon = /^[hx*]?:(\d+)$/.exec(t.text);
    let minute: number;
    if (colon) {
      this.pos++;
      if (colon[1]!.length !== 2) fail(`"${t.raw}" is not a minute of the hour: write two digits, like :05`, t.at);
      minute = Number(colon[1]);
    } else if (t.text === "quarter" || t.text === "half" || /^\d+$/.test(t.text)) {
      this.pos++;
      const n = t.text === "quarter" ? 15 : t.text === "half" ? 30 : Number(t.text);
      const rel = this.peek();
      if (rel && AFTER_WORDS.has(rel.text)) { this.pos++; minute = n; }
      else if (rel && BEFORE_WORDS.has(rel.text)) {
        this.pos++;
        if (n < 1 || n > 59) fail(`"${t.raw} ${rel.raw}" is not a minute of the hour: use 1 to 59 minutes before the hour`, t.at);
        minute = 60 - n;
      } else if (t.text === "half" || t.text === "quarter") {
        const next = this.peek();
        if (next) this.unknown(next, `"past" or "to" after "${t.raw}"`);
        fail(`"${t.raw}" needs "past" or "to" after it`, t.at + t.raw.length);
      } else minute = n;
    } else {
      this.unknown(t, `a minute of the hour, like :15 or half past, after "${after}"`);
    }
    if (minute > 59) fail(`"${t.raw}" is not a minute of the hour: minutes run 0 to 59`, t.at);
    return minute;
  }

  // -- the cursor

  private peek(ahead = 0): Token | undefined {
    return this.tokens[this.pos + ahead];
  }

  /** The next token, which must be there. */
  private need(what: string, after?: string): Token {
    const t = this.peek();
    if (t) return t;
    const last = this.tokens[this.tokens.length - 1]!;
    const said = after ?? this.text.slice(0, last.at + last.raw.length).trim();
    fail(`"${said}" ends too soon: expected ${what}`, last.at + last.raw.length);
  }

  private word(allowed: string[], after: string): void {
    const t = this.need(allowed.map((a) => `"${a}"`).join(" or "), after);
    if (!allowed.includes(t.text)) this.unknown(t, `${allowed.map((a) => `"${a}"`).join(" or ")} after "${after}"`);
    this.pos++;
  }

  /** A word out of place, or no word of the language at all (with the nearest one, when there is a close one). */
  private unknown(t: Token, expected: string): never {
    if (/^[a-z]+$/.test(t.text) && !VOCABULARY.includes(t.text)) {
      fail(`"${t.raw}" is not a word of the timespec language${this.suggestion(t)}; expected ${expected}`, t.at);
    }
    fail(`expected ${expected}, found "${t.raw}"`, t.at);
  }

  private suggestion(t: Token): string {
    if (!/^[a-z]+$/.test(t.text) || VOCABULARY.includes(t.text)) return "";
    const near = nearest(t.text, VOCABULARY);
    return near ? ` (did you mean "${near}"?)` : "";
  }
}
