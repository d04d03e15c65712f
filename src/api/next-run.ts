// A schedule's canonical form and next run, as the schedule JSON shows them. A
// next run costs about 0.1 ms to compute (croner walks the zone's rules), which
// for every row of every GET /v1/schedules made 10,000 schedules hold the event
// loop for a second. A schedule's next run cannot change before it has passed,
// so it is remembered until then, per text and zone, and a list of schedules
// costs a lookup per row; a row is computed again only once its run is past.
import { parseTimespec } from "../scheduler/timespec.ts";

export interface ScheduleRun {
  /** null for a `when` saved before validation that no longer parses. */
  canonical: string | null;
  /** Epoch ms; null when it never runs again (or does not parse). */
  next: number | null;
}

interface Known {
  run: ScheduleRun;
  computedAt: number;
}

// More than any catalog is likely to hold; past it, the oldest entries go first.
const MAX_KNOWN = 50_000;
const known = new Map<string, Known>();

/** `zone` applies when `when` names none; `now` in epoch ms. */
export function scheduleRun(when: string, zone: string, now: number): ScheduleRun {
  const key = `${zone}\n${when}`;
  const hit = known.get(key);
  // Valid from when it was computed until the run it found; a clock set back starts over.
  if (hit && hit.computedAt <= now && (hit.run.next === null || now < hit.run.next)) return hit.run;
  let run: ScheduleRun = { canonical: null, next: null };
  try {
    const spec = parseTimespec(when);
    run = { canonical: spec.canonical, next: spec.next(new Date(now), zone)?.getTime() ?? null };
  } catch { /* left null, as documented */ }
  known.delete(key);
  if (known.size >= MAX_KNOWN) known.delete(known.keys().next().value!);
  known.set(key, { run, computedAt: now });
  return run;
}
