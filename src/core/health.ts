// Job health and statistics, from the catalog's aggregate reads (catalog/health.ts):
// each job's last run, next run and the figures of its runs over a window, and
// the totals per store and target. A list of jobs costs two queries, whatever its length.
import type { ArchiveTotal, Catalog, JobFilter, JobView, OptionalPage, Run, RunDay, StoreDay, WindowStats } from "../catalog/index.ts";
import { scheduleRun } from "../api/next-run.ts";
import { daemonZone } from "../scheduler/zone.ts";
import { parseTimespec } from "../scheduler/timespec.ts";

export const DEFAULT_WINDOW_S = 30 * 86400;

export interface WindowFigures {
  /** The window, in seconds, ending now. */
  windowS: number;
  /** Backups that ended (done or failed) in the window. */
  runs: number;
  failures: number;
  /** done / runs, from 0 to 1; null without runs. */
  successRate: number | null;
  /** Of the successful runs: seconds, and bytes stored. */
  medianDurationS: number | null;
  medianSize: number | null;
  /** Least-squares slope of the successful runs' sizes: bytes per day (null under two runs). */
  sizeTrendPerDay: number | null;
}

export interface JobHealth {
  lastRun: Run | null;
  /** Epoch seconds; null for a paused job or a schedule that never runs again. */
  nextRun: number | null;
  window: WindowFigures;
}

export function windowFigures(w: WindowStats | undefined, windowS: number): WindowFigures {
  if (!w) return { windowS, runs: 0, failures: 0, successRate: null, medianDurationS: null, medianSize: null, sizeTrendPerDay: null };
  return {
    windowS, runs: w.runs, failures: w.failures,
    successRate: w.runs ? (w.runs - w.failures) / w.runs : null,
    medianDurationS: w.medianDurationS, medianSize: w.medianSize, sizeTrendPerDay: w.sizeTrendPerDay,
  };
}

/** When a job runs next: the same answer as its schedule's next_run (next-run.ts caches it). */
export function nextRun(job: Pick<JobView, "paused" | "timespec">, nowMs: number): number | null {
  // A job without a schedule runs only when asked.
  if (job.paused || job.timespec === null) return null;
  const next = scheduleRun(job.timespec, daemonZone(), nowMs).next;
  return next === null ? null : Math.floor(next / 1000);
}

// A schedule's interval, remembered per text: schedules are few, metrics are scraped often.
const intervals = new Map<string, number | null>();

/**
 * Seconds between a schedule's next two runs (null if it has fewer): what an
 * alert "no successful backup in 1.5 × the interval" multiplies. For an irregular
 * schedule ("mondays and thursdays") it is the coming gap, not the longest.
 */
export function scheduleInterval(timespec: string, nowMs: number): number | null {
  const key = `${daemonZone()}\n${timespec}`;
  if (intervals.has(key)) return intervals.get(key)!;
  let interval: number | null = null;
  try {
    const spec = parseTimespec(timespec);
    const a = spec.next(new Date(nowMs), daemonZone());
    const b = a && spec.next(a, daemonZone());
    if (a && b) interval = Math.round((b.getTime() - a.getTime()) / 1000);
  } catch { /* left null */ }
  if (intervals.size > 10_000) intervals.clear();
  intervals.set(key, interval);
  return interval;
}

/**
 * How many of its schedule's intervals a job may go without a successful backup
 * before it is overdue: the README's alert rule, which the daemon's own check
 * (notify/watch.ts, `job.overdue`) applies too, so that both say the same.
 */
export const OVERDUE_FACTOR = 1.5;

/**
 * When a job is (or was) overdue, in epoch seconds: `from` (its last successful
 * backup's end, or whatever later time its clock started at) plus 1.5 × its
 * schedule's interval. Null for a job that cannot be overdue: paused, without a
 * schedule, or with a schedule that does not run twice more.
 */
export function overdueAt(job: Pick<JobView, "paused" | "timespec">, from: number, nowMs: number): { at: number; intervalS: number } | null {
  if (job.paused || job.timespec === null) return null;
  const intervalS = scheduleInterval(job.timespec, nowMs);
  if (intervalS === null) return null;
  return { at: from + Math.round(OVERDUE_FACTOR * intervalS), intervalS };
}

type HealthOf = Pick<JobView, "uuid" | "paused" | "timespec">;

// The window figures of each job, remembered per catalog, job and window length. A
// job's runs in the window change only when a run of it ends (its last run, read
// fresh at every request, is then another) or when the window's start passes the
// earliest of them; until either, the figures are the same and are not read again.
// That keeps a list of 1,000 jobs from re-aggregating its ~8,000 runs (and reading
// their archives' sizes) at every refresh of a dashboard. MAX_AGE_MS bounds what the
// key cannot see: runs removed by the task pruner, or an archive's size rewritten.
interface KnownWindow { stamp: string; since: number; until: number; at: number; stats: WindowStats | undefined }
const MAX_AGE_MS = 5 * 60_000;
const MAX_KNOWN = 100_000;
const knownWindows = new WeakMap<Catalog, Map<string, KnownWindow>>();

function runStamp(run: Run | undefined): string {
  return run ? `${run.task} ${run.status} ${run.stoppedAt} ${run.size}` : "-";
}

/** Each job's window figures: from the remembered ones where still exact, else one aggregate query for the rest. */
async function windowsOf(
  catalog: Catalog, uuids: string[], last: Map<string, Run>, windowS: number, nowMs: number, whole: boolean,
): Promise<Map<string, WindowStats>> {
  let known = knownWindows.get(catalog);
  if (!known) knownWindows.set(catalog, (known = new Map()));
  const since = Math.floor(nowMs / 1000) - windowS;
  const out = new Map<string, WindowStats>();
  const stale: string[] = [];
  for (const uuid of uuids) {
    const k = known.get(`${uuid} ${windowS}`);
    if (k && k.stamp === runStamp(last.get(uuid)) && k.since <= since && since <= k.until && nowMs - k.at < MAX_AGE_MS && k.at <= nowMs) {
      if (k.stats) out.set(uuid, k.stats);
    } else stale.push(uuid);
  }
  if (!stale.length) return out;
  // Every job of a whole list stale (the first request): one read of all, without an IN list.
  const fresh = await catalog.health.windowStats(since, whole && stale.length === uuids.length ? undefined : stale);
  if (known.size + stale.length > MAX_KNOWN) known.clear();
  for (const uuid of stale) {
    const stats = fresh.get(uuid);
    if (stats) out.set(uuid, stats);
    known.set(`${uuid} ${windowS}`, { stamp: runStamp(last.get(uuid)), since, until: stats ? stats.firstStoppedAt : Infinity, at: nowMs, stats });
  }
  return out;
}

function combine(jobs: HealthOf[], last: Map<string, Run>, stats: Map<string, WindowStats>, windowS: number, nowMs: number): Map<string, JobHealth> {
  return new Map(jobs.map((j) => [j.uuid, {
    lastRun: last.get(j.uuid) ?? null,
    nextRun: nextRun(j, nowMs),
    window: windowFigures(stats.get(j.uuid), windowS),
  }]));
}

/** The health of every job given: two queries, whatever their number (the catalog aggregates). */
export async function jobsHealth(catalog: Catalog, jobs: HealthOf[], windowS: number, nowMs = Date.now()): Promise<Map<string, JobHealth>> {
  const uuids = jobs.map((j) => j.uuid);
  const last = await catalog.health.lastRuns(uuids);
  return combine(jobs, last, await windowsOf(catalog, uuids, last, windowS, nowMs, false), windowS, nowMs);
}

/**
 * A list of jobs with their health. The whole list (no filter, no page), as
 * dashboards ask for it, reads the jobs and their last runs at once, side by side.
 */
export async function listJobsHealth(
  catalog: Catalog, filter: JobFilter, page: OptionalPage, windowS: number, nowMs = Date.now(),
): Promise<{ jobs: JobView[]; health: Map<string, JobHealth> }> {
  const whole = Object.values(filter).every((v) => v === undefined) && page.limit === undefined && !page.offset;
  if (!whole) {
    const jobs = await catalog.jobs.list(filter, page);
    return { jobs, health: await jobsHealth(catalog, jobs, windowS, nowMs) };
  }
  const [jobs, last] = await Promise.all([catalog.jobs.list(), catalog.health.lastRuns()]);
  const stats = await windowsOf(catalog, jobs.map((j) => j.uuid), last, windowS, nowMs, true);
  return { jobs, health: combine(jobs, last, stats, windowS, nowMs) };
}

export interface StoreFigures {
  uuid: string; name: string | null; plugin: string | null;
  /** Archives whose blob is (or may still be) in the store: every status but purged. */
  archives: number; bytes: number;
  byStatus: Record<string, { archives: number; bytes: number }>;
  /** Over the window: bytes stored per day, and that less the bytes purged per day. */
  addedPerDay: number; growthPerDay: number;
  /** Bytes held at the end of each UTC day of the window, oldest first (today: now). */
  usedPerDay: { day: number; bytes: number }[];
}

export interface TargetFigures {
  uuid: string; name: string | null; plugin: string | null;
  archives: number; bytes: number; lastTakenAt: number | null;
}

export interface Statistics {
  windowS: number;
  totals: { archives: number; bytes: number; jobs: number; failingJobs: number };
  stores: StoreFigures[];
  targets: TargetFigures[];
  /** Jobs whose last run failed, most recent failure first. */
  failing: { job: JobView; run: Run }[];
  /** Backups of every job that ended in the window, and per UTC day (every day, oldest first). */
  runs: { runs: number; failures: number; successRate: number | null; perDay: RunDay[] };
}

const DAY_S = 86400;

/** The UTC days a window covers, oldest first: from the one it starts in to today. */
export function windowDays(windowS: number, nowMs: number): number[] {
  const now = Math.floor(nowMs / 1000);
  const first = Math.floor((now - windowS) / DAY_S);
  const last = Math.floor(now / DAY_S);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/**
 * A store's bytes held at the end of each day, rebuilt backwards from what it
 * holds now: at the end of day d it held what it holds now, less what was taken
 * after d, plus what was purged after d (an archive both taken and purged after d
 * counts in neither, as it should).
 */
export function usedPerDay(heldNow: number, changes: StoreDay[], days: number[]): { day: number; bytes: number }[] {
  const out: { day: number; bytes: number }[] = [];
  let used = heldNow;
  const byDay = new Map<number, StoreDay>(changes.map((c) => [c.day, c]));
  for (let i = days.length - 1; i >= 0; i--) {
    const d = days[i]!;
    out.push({ day: d, bytes: Math.max(0, used) });
    const c = byDay.get(d);
    if (c) used = used - c.added + c.purged;
  }
  return out.reverse();
}

/** Totals of archive rows by store and target (held: not purged). */
export function storeAndTargetFigures(
  totals: ArchiveTotal[], taken: Map<string, { bytes: number }>, lastTaken: Map<string, number>, purged: Map<string, number>, windowS: number,
  stores: { uuid: string; name: string; plugin: string }[], targets: { uuid: string; name: string; plugin: string }[],
): { stores: StoreFigures[]; targets: TargetFigures[] } {
  const days = windowS / 86400;
  const storeOut = new Map<string, StoreFigures>();
  const targetOut = new Map<string, TargetFigures>();
  for (const s of stores) storeOut.set(s.uuid, { uuid: s.uuid, name: s.name, plugin: s.plugin, archives: 0, bytes: 0, byStatus: {}, addedPerDay: 0, growthPerDay: 0, usedPerDay: [] });
  for (const x of targets) targetOut.set(x.uuid, { uuid: x.uuid, name: x.name, plugin: x.plugin, archives: 0, bytes: 0, lastTakenAt: null });
  const storeOf = (uuid: string) => {
    // A store or target deleted since: its archives still count, under its uuid.
    let s = storeOut.get(uuid);
    if (!s) storeOut.set(uuid, (s = { uuid, name: null, plugin: null, archives: 0, bytes: 0, byStatus: {}, addedPerDay: 0, growthPerDay: 0, usedPerDay: [] }));
    return s;
  };
  for (const r of totals) {
    const s = storeOf(r.store);
    const st = (s.byStatus[r.status] ??= { archives: 0, bytes: 0 });
    st.archives += r.archives;
    st.bytes += r.bytes;
    if (r.status === "purged") continue;
    s.archives += r.archives;
    s.bytes += r.bytes;
    let x = targetOut.get(r.target);
    if (!x) targetOut.set(r.target, (x = { uuid: r.target, name: null, plugin: null, archives: 0, bytes: 0, lastTakenAt: null }));
    x.archives += r.archives;
    x.bytes += r.bytes;
  }
  for (const [uuid, at] of lastTaken) {
    const x = targetOut.get(uuid);
    if (x) x.lastTakenAt = at;
  }
  // Taken in the window, whatever became of it since: what was stored.
  for (const uuid of taken.keys()) storeOf(uuid);
  for (const s of storeOut.values()) {
    const a = taken.get(s.uuid)?.bytes ?? 0;
    s.addedPerDay = Math.round(a / days);
    s.growthPerDay = Math.round((a - (purged.get(s.uuid) ?? 0)) / days);
  }
  const byName = <T extends { name: string | null; uuid: string }>(a: T, b: T) => (a.name ?? `~${a.uuid}`).localeCompare(b.name ?? `~${b.uuid}`);
  return { stores: [...storeOut.values()].sort(byName), targets: [...targetOut.values()].sort(byName) };
}

export async function statistics(catalog: Catalog, windowS: number, nowMs = Date.now()): Promise<Statistics> {
  const since = Math.floor(nowMs / 1000) - windowS;
  const [totals, lastTaken, stores, targets, jobCount, failed, storeDays, runDays] = await Promise.all([
    catalog.health.archiveTotals(), catalog.health.lastTaken(),
    catalog.stores.list(), catalog.targets.list(), catalog.jobs.count(), catalog.health.failedLastRuns(),
    catalog.health.storeDays(since), catalog.health.runDays(since),
  ]);
  // The window's taken and purged bytes per store are the sums of its days: one pair of scans serves both.
  const taken = new Map<string, { archives: number; bytes: number }>();
  const purged = new Map<string, number>();
  for (const d of storeDays) {
    const t = taken.get(d.store) ?? { archives: 0, bytes: 0 };
    if (d.archives) taken.set(d.store, { archives: t.archives + d.archives, bytes: t.bytes + d.added });
    if (d.purged) purged.set(d.store, (purged.get(d.store) ?? 0) + d.purged);
  }
  const figures = storeAndTargetFigures(totals, taken, lastTaken, purged, windowS, stores, targets);
  const days = windowDays(windowS, nowMs);
  for (const s of figures.stores) s.usedPerDay = usedPerDay(s.bytes, storeDays.filter((d) => d.store === s.uuid), days);
  const ran = new Map(runDays.map((d) => [d.day, d]));
  const perDay = days.map((day) => ran.get(day) ?? { day, runs: 0, failures: 0 });
  const runCount = runDays.reduce((n, d) => n + d.runs, 0);
  const failures = runDays.reduce((n, d) => n + d.failures, 0);
  const runs = { runs: runCount, failures, successRate: runCount ? (runCount - failures) / runCount : null, perDay };
  // Only the failing jobs are read in full (by uuid, in slices that keep the IN list short), not every job.
  const failedRuns = [...failed.values()];
  const jobs: JobView[] = [];
  for (let i = 0; i < failedRuns.length; i += 500) jobs.push(...await catalog.jobs.getMany(failedRuns.slice(i, i + 500).map((r) => r.job)));
  const failing = jobs.flatMap((job) => {
    const run = failed.get(job.uuid);
    return run ? [{ job, run }] : [];
  }).sort((a, b) => b.run.stoppedAt - a.run.stoppedAt || (a.job.name < b.job.name ? -1 : a.job.name > b.job.name ? 1 : 0));
  const held = figures.stores.reduce((a, s) => ({ archives: a.archives + s.archives, bytes: a.bytes + s.bytes }), { archives: 0, bytes: 0 });
  return { windowS, totals: { ...held, jobs: jobCount, failingJobs: failing.length }, ...figures, failing, runs };
}
