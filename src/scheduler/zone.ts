// Time zones for schedules: which zone the daemon runs in, whether a name is a
// zone, and the few wall-clock conversions croner does not do for us.

/** IANA names only ("Europe/Berlin", "UTC"); Intl also takes "+01:00", which has no DST rules to honour. */
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's canonical spelling as Intl resolves it ("europe/berlin" -> "Europe/Berlin"), or undefined if it is not one. */
export function canonicalZone(name: string): string | undefined {
  if (name.length > 64 || !ZONE_NAME.test(name)) return undefined;
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/**
 * The daemon's zone: schedules without an `in <zone>` suffix run on its clock.
 * TZ when it names a zone, else what the system says (Intl), else UTC.
 */
export function daemonZone(): string {
  // Asked per schedule of every answer that lists them: resolved once per value of TZ.
  const tz = process.env.TZ;
  if (!resolved || resolved.tz !== tz) resolved = { tz, zone: resolveDaemonZone(tz) };
  return resolved.zone;
}

let resolved: { tz: string | undefined; zone: string } | undefined;

function resolveDaemonZone(tz: string | undefined): string {
  if (tz) {
    // TZ=":Europe/Berlin" is the POSIX spelling of the same thing.
    const zone = canonicalZone(tz.startsWith(":") ? tz.slice(1) : tz);
    if (zone) return zone;
  }
  return canonicalZone(Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC") ?? "UTC";
}

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23",
      year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall clock in `zone` at instant `ms`. */
export function wallClock(ms: number, zone: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(ms))) if (p.type !== "literal") parts[p.type] = Number(p.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour! % 24, minute: parts.minute!, second: parts.second! };
}

/** How far `zone` is ahead of UTC at instant `ms`, in milliseconds. */
export function zoneOffset(ms: number, zone: string): number {
  const w = wallClock(ms, zone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant a wall-clock time happens in `zone`. For a time that happens twice
 * (fall back) the first; for one that does not happen (spring forward) the instant
 * the same distance after the gap begins. Only used to anchor intervals, where
 * either answer is a fixed, documented instant.
 */
export function instantOf(year: number, month: number, day: number, hour: number, minute: number, zone: string): number {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  // Zone offsets change at most once within a day here: the offsets half a day either side
  // are the two that can apply. Each gives a candidate; the ones whose wall clock reads the
  // asked time are right (two on a fall-back day: the earlier wins).
  const before = zoneOffset(guess - 12 * 3600_000, zone);
  const after = zoneOffset(guess + 12 * 3600_000, zone);
  const matches = [guess - before, guess - after].filter((t) => {
    const w = wallClock(t, zone);
    return w.year === year && w.month === month && w.day === day && w.hour === hour && w.minute === minute;
  });
  if (matches.length) return Math.min(...matches);
  // In a spring-forward gap: the offset before the gap puts it as far after the gap's start as asked.
  return guess - before;
}
