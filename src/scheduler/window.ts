// A job's run window: "HH:MM-HH:MM" in the daemon's zone (a window may wrap past
// midnight: "22:00-02:00"). A scheduled run due outside it is deferred to the
// window's next start; runs by hand ignore it.
import { wallClock, zoneOffset } from "./zone.ts";

export interface RunWindow { start: number; end: number } // minutes after midnight

const RE = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/;

/** null for "" (any time); throws with the reason for a malformed window. */
export function parseWindow(s: string): RunWindow | null {
  if (s === "") return null;
  const m = RE.exec(s);
  if (!m) throw new Error(`"${s}" is not a window: HH:MM-HH:MM (24-hour, the daemon's zone), e.g. 01:00-05:00`);
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  if (start === end) throw new Error(`"${s}" is an empty window: start and end are the same`);
  return { start, end };
}

function inside(w: RunWindow, minute: number): boolean {
  return w.start < w.end ? minute >= w.start && minute < w.end : minute >= w.start || minute < w.end;
}

/**
 * When a run due at `at` (epoch seconds) may start: `at` itself inside the window,
 * else the window's next start in `zone` (on a DST change, the first instant at or
 * after that wall time).
 */
export function deferToWindow(w: RunWindow | null, at: number, zone: string): number {
  if (!w) return at;
  const t = wallClock(at * 1000, zone);
  if (inside(w, t.hour * 60 + t.minute)) return at;
  // The window's start today, else tomorrow (a day ahead at most: a window starts every day).
  for (let d = 0; d < 3; d++) {
    const day = new Date(Date.UTC(t.year, t.month - 1, t.day + d));
    const s = Math.floor(wallInstant(day, w.start, zone) / 1000);
    if (s > at) return s;
  }
  return at;
}

/**
 * The instant (ms) of `minute` after midnight on `day` (a UTC date standing for the
 * wall date) in `zone`: of the two offsets around it, one whose wall clock shows
 * that time, the earlier if both do (fall back); in a spring-forward gap, the later
 * candidate: as far past the gap as the time was into it.
 */
function wallInstant(day: Date, minute: number, zone: string): number {
  const guess = day.getTime() + minute * 60_000;
  const candidates = [guess - zoneOffset(guess, zone), guess - zoneOffset(guess - 86_400_000, zone), guess - zoneOffset(guess + 86_400_000, zone)];
  const shows = candidates.filter((ms) => {
    const w = wallClock(ms, zone);
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) === guess;
  });
  return shows.length ? Math.min(...shows) : Math.max(...candidates);
}
