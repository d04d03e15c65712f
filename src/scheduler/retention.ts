// Where retention is decided: which archives of one job a retention policy keeps
// at a given moment, and why. The purger expires what this says to expire; the
// preview (GET /v1/retention/:uuid/preview) shows the same verdicts, computed by
// the same function, so the two cannot disagree. docs/retention.md has the
// semantics with examples.
//
// The GFS rules follow restic's `forget` (internal/restic/snapshot_policy.go):
// archives newest first; for each count rule, an archive is kept when its period
// (hour, day, ISO week, month, year of its taken_at on the daemon's wall clock)
// differs from the period of the last archive that rule kept, while the rule has
// slots left, so the newest archive of each period counts and periods without
// archives consume nothing; the oldest archive is also kept by a rule that still
// has slots left at the end; keep_within keeps everything taken less than that
// long before the newest archive (not before now: a job that stopped backing up
// does not lose its history to the clock).
import { zoneOffset } from "./zone.ts";

/** The rules of a policy beyond `expires`; 0 means "no such rule". keepWithin is in seconds. */
export interface RetentionRules {
  keepLast: number;
  keepHourly: number;
  keepDaily: number;
  keepWeekly: number;
  keepMonthly: number;
  keepYearly: number;
  keepWithin: number;
}

export const NO_RULES: RetentionRules = { keepLast: 0, keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, keepYearly: 0, keepWithin: 0 };

/** With no rule set, a policy is the design's plain `expires`, exactly as before rules existed. */
export function hasRules(r: RetentionRules): boolean {
  return r.keepLast > 0 || r.keepHourly > 0 || r.keepDaily > 0 || r.keepWeekly > 0 || r.keepMonthly > 0 || r.keepYearly > 0 || r.keepWithin > 0;
}

/** A valid archive of the job, as retention sees it (times in epoch seconds). */
export interface RetainedArchive {
  uuid: string;
  takenAt: number;
  expiresAt: number;
  pinned: boolean;
}

/**
 * Why an archive is kept: `pinned` (an operator said so), `not_expired` (its
 * expires_at is still ahead), `newest` (the newest archive of a job with rules
 * is never expired by them), or the rule that keeps it.
 */
export type KeepReason = "pinned" | "not_expired" | "newest"
  | "keep_last" | "keep_hourly" | "keep_daily" | "keep_weekly" | "keep_monthly" | "keep_yearly" | "keep_within";

export interface Verdict {
  archive: RetainedArchive;
  /** Empty when the archive is to be expired. */
  reasons: KeepReason[];
}

/** Newest first; equal times by uuid, descending, as the catalog lists archives. */
export function newestFirst(a: RetainedArchive, b: RetainedArchive): number {
  return b.takenAt - a.takenAt || (a.uuid < b.uuid ? 1 : a.uuid > b.uuid ? -1 : 0);
}

type Period = (p: WallParts, index: number) => number;

const COUNT_RULES: { rule: KeepReason; count: (r: RetentionRules) => number; period: Period }[] = [
  { rule: "keep_last", count: (r) => r.keepLast, period: (_, i) => i },
  { rule: "keep_hourly", count: (r) => r.keepHourly, period: (p) => ((p.year * 100 + p.month) * 100 + p.day) * 100 + p.hour },
  { rule: "keep_daily", count: (r) => r.keepDaily, period: (p) => (p.year * 100 + p.month) * 100 + p.day },
  { rule: "keep_weekly", count: (r) => r.keepWeekly, period: (p) => isoWeek(p) },
  { rule: "keep_monthly", count: (r) => r.keepMonthly, period: (p) => p.year * 100 + p.month },
  { rule: "keep_yearly", count: (r) => r.keepYearly, period: (p) => p.year },
];

/**
 * The verdict on each valid archive of one job (newest first), at `now` (epoch
 * seconds), periods on the wall clock of `zone`. An archive is kept when any
 * reason keeps it; the rest are due to expire now.
 */
export function decide(archives: readonly RetainedArchive[], rules: RetentionRules, now: number, zone: string): Verdict[] {
  const list = [...archives].sort(newestFirst);
  const verdicts: Verdict[] = list.map((archive) => {
    const reasons: KeepReason[] = [];
    if (archive.pinned) reasons.push("pinned");
    if (archive.expiresAt > now) reasons.push("not_expired");
    return { archive, reasons };
  });
  if (!hasRules(rules) || !list.length) return verdicts;

  // keep_within counts back from the newest archive that is not in the future.
  let latest = -Infinity;
  for (const a of list) if (a.takenAt < now && a.takenAt > latest) latest = a.takenAt;

  const active = COUNT_RULES.map((r) => ({ ...r, left: r.count(rules), last: NaN })).filter((r) => r.left > 0);
  for (let i = 0; i < list.length; i++) {
    const { archive, reasons } = verdicts[i]!;
    const wall = active.length ? wallParts(archive.takenAt * 1000, zone) : undefined;
    for (const r of active) {
      if (r.left <= 0) continue;
      const period = r.period(wall!, i);
      if (period !== r.last || i === list.length - 1) {
        r.last = period;
        r.left--;
        reasons.push(r.rule);
      }
    }
    if (rules.keepWithin > 0 && archive.takenAt > latest - rules.keepWithin) reasons.push("keep_within");
  }
  // Rules with slots keep the newest already; this holds the promise for any rules.
  const newest = verdicts[0]!;
  if (!newest.reasons.some((r) => r !== "not_expired" && r !== "pinned")) newest.reasons.push("newest");
  return verdicts;
}

/** The archives `decide` says to expire now. */
export function toExpire(verdicts: readonly Verdict[]): RetainedArchive[] {
  return verdicts.filter((v) => !v.reasons.length).map((v) => v.archive);
}

// ---- wall-clock periods ------------------------------------------------------

export interface WallParts { year: number; month: number; day: number; hour: number }

/** YYYYWW of the ISO 8601 week (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeek(p: WallParts): number {
  const date = Date.UTC(p.year, p.month - 1, p.day);
  const weekday = (new Date(date).getUTCDay() + 6) % 7; // Monday 0 .. Sunday 6
  const thursday = new Date(date + (3 - weekday) * 86400_000);
  const isoYear = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / (7 * 86400_000)) + 1;
  return isoYear * 100 + week;
}

// Asking Intl for the wall clock of every archive costs ~4 µs each, and a job may
// hold tens of thousands of archives evaluated every minute. A zone's offset is
// constant for months at a time: it is looked up once per 6-hour slot of UTC time
// (at both ends of the slot), and only in a slot holding a transition per instant.
const SLOT_MS = 6 * 3600_000;
const MAX_SLOTS = 200_000;
const slotOffsets = new Map<string, Map<number, number>>();

function offsetAt(ms: number, zone: string): number {
  let slots = slotOffsets.get(zone);
  if (!slots) slotOffsets.set(zone, (slots = new Map()));
  const slot = Math.floor(ms / SLOT_MS);
  let offset = slots.get(slot);
  if (offset === undefined) {
    if (slots.size >= MAX_SLOTS) slots.clear();
    const start = zoneOffset(slot * SLOT_MS, zone);
    offset = start === zoneOffset((slot + 1) * SLOT_MS - 1000, zone) ? start : NaN;
    slots.set(slot, offset);
  }
  return Number.isNaN(offset) ? zoneOffset(ms, zone) : offset;
}

/** The wall-clock year, month, day and hour in `zone` at instant `ms`. */
export function wallParts(ms: number, zone: string): WallParts {
  const d = new Date(ms + offsetAt(ms, zone));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours() };
}
