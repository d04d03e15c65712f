// Flag values → API values, checked here so that a typo gets an answer naming the
// flag before anything is sent. What the API checks (names taken, plugin validation,
// the timespec grammar) is left to the API: its words are passed through.
import { UsageError } from "./errors.ts";

const UNITS: Record<string, number> = {
  s: 1, sec: 1, secs: 1, second: 1, seconds: 1,
  m: 60, min: 60, mins: 60, minute: 60, minutes: 60,
  h: 3600, hr: 3600, hrs: 3600, hour: 3600, hours: 3600,
  d: 86400, day: 86400, days: 86400,
  w: 7 * 86400, week: 7 * 86400, weeks: 7 * 86400,
  y: 365 * 86400, year: 365 * 86400, years: 365 * 86400,
};

/** "3600", "1h", "30d", "2w", "1d12h", "90 days" → seconds. */
export function parseDuration(text: string, flag = "--expires"): number {
  const s = text.trim().toLowerCase();
  if (/^\d+$/.test(s)) return Number(s);
  const part = /(\d+)\s*([a-z]+)\s*/y;
  let total = 0;
  let at = 0;
  while (at < s.length) {
    part.lastIndex = at;
    const m = part.exec(s);
    const unit = m && UNITS[m[2]!];
    if (!m || unit === undefined || unit === null) {
      throw new UsageError(`${flag}: "${text}" is not a duration; give seconds (86400) or a number with a unit: 1h, 30d, 2w, 1y`);
    }
    total += Number(m[1]) * unit;
    at = part.lastIndex;
  }
  if (!s) throw new UsageError(`${flag}: give a duration, like 30d`);
  return total;
}

/** --endpoint takes a JSON object; it is sent as the string the design specifies. */
export function parseEndpoint(text: string, flag = "--endpoint"): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${flag}: not JSON (${(err as Error).message}); give an object like '{"base_dir":"/backups"}'`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError(`${flag}: must be a JSON object, like '{"base_dir":"/backups"}'`);
  return JSON.stringify(parsed);
}

export function parseInteger(text: string, flag: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) throw new UsageError(`${flag}: must be a whole number from ${min} to ${max}, not "${text}"`);
  return Number(text);
}

/** YYYYMMDD as the API takes it; YYYY-MM-DD is accepted too. */
export function parseDay(text: string, flag: string): string {
  const s = text.replace(/-/g, "");
  if (!/^\d{8}$/.test(s)) throw new UsageError(`${flag}: must be a date as YYYYMMDD (or YYYY-MM-DD), not "${text}"`);
  return s;
}

export function oneOf<T extends string>(text: string, flag: string, allowed: readonly T[]): T {
  if (!allowed.includes(text as T)) throw new UsageError(`${flag}: must be ${allowed.join(", ")}; not "${text}"`);
  return text as T;
}

const RATE_UNITS: Record<string, number> = { "": 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };
/** A bandwidth limit: bytes per second, or with a unit ("50MiB", "512k"); 0 for none. */
export function parseRate(text: string, flag: string): number {
  const m = /^\s*(\d+)\s*([a-z]*)(\/s)?\s*$/i.exec(text);
  const unit = m ? RATE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`${flag}: must be bytes per second, optionally with K, M or G (KiB, MiB, GiB): e.g. 50M; 0 for no limit; not "${text}"`);
  return Number(m[1]) * unit;
}
