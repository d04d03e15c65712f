// Catalog rows → the /v1 JSON shapes of the design (snake_case, times as UTC text).
import { scheduleRun } from "./next-run.ts";
import { daemonZone } from "../scheduler/zone.ts";
import { runnerLabel } from "../supervisor/runner.ts";
import type { Progress } from "../pipeline/progress.ts";
import type { ProviderView } from "../core/providers/index.ts";
import type { SessionView, ArchiveView, CopyView, JobView, RetentionRow, Run, ScheduleRow, StoreRow, TargetRow, TaskRow, TokenRow, UserRow } from "../catalog/index.ts";
import type { JobHealth, Statistics, WindowFigures } from "../core/health.ts";
import { parseCopies } from "../core/copies.ts";

/** "2015-10-25 11:32:00", as the design's examples show times. */
export function formatTime(seconds: number): string;
export function formatTime(seconds: number | null): string | null;
export function formatTime(seconds: number | null): string | null {
  return seconds === null ? null : new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ");
}

/** API time of a Date: formatTime's text, to the second. */
export const formatDate = (d: Date | undefined): string | null => (d ? formatTime(Math.floor(d.getTime() / 1000)) : null);

/**
 * `when` as the user wrote it, its canonical form and when it next runs. A row
 * saved before `when` was validated may not parse: canonical and next_run are null.
 * The two are remembered until the run passes (next-run.ts): a list costs a lookup per row.
 */
export function scheduleJson(r: ScheduleRow) {
  const { canonical, next } = scheduleRun(r.timespec, daemonZone(), Date.now());
  return { uuid: r.uuid, name: r.name, summary: r.summary, when: r.timespec, canonical, next_run: next === null ? null : formatDate(new Date(next)) };
}
export const retentionJson = (r: RetentionRow) => ({
  uuid: r.uuid, name: r.name, summary: r.summary, expires: r.expiry,
  keep_last: r.keepLast, keep_hourly: r.keepHourly, keep_daily: r.keepDaily, keep_weekly: r.keepWeekly,
  keep_monthly: r.keepMonthly, keep_yearly: r.keepYearly, keep_within: r.keepWithin,
});
export const targetJson = (r: TargetRow) => ({ uuid: r.uuid, name: r.name, summary: r.summary, plugin: r.plugin, endpoint: r.endpoint, agent: r.agent, bandwidth: r.bandwidth });
export const storeJson = (r: StoreRow) => ({ uuid: r.uuid, name: r.name, summary: r.summary, plugin: r.plugin, endpoint: r.endpoint, max_tasks: r.maxTasks, bandwidth: r.bandwidth });

export const jobJson = (j: JobView) => ({
  uuid: j.uuid, name: j.name, summary: j.summary, priority: j.priority, paused: j.paused, compression: j.compression,
  retention_name: j.retentionName, retention_uuid: j.retentionUuid, expiry: j.expiry,
  schedule_name: j.scheduleName, schedule_uuid: j.scheduleUuid, schedule: j.timespec,
  store_name: j.storeName, store_uuid: j.storeUuid, store_plugin: j.storePlugin, store_endpoint: j.storeEndpoint,
  target_name: j.targetName, target_uuid: j.targetUuid, target_plugin: j.targetPlugin, target_endpoint: j.targetEndpoint,
  agent: j.targetAgent,
  copies: parseCopies(j.copies), run_window: j.runWindow,
});

export const copyJson = (c: CopyView) => ({
  uuid: c.uuid, store_uuid: c.storeUuid, store_name: c.storeName, store_plugin: c.storePlugin, status: c.status,
  store_key: c.storeKey, size: c.size, sha256: c.sha256, error: c.error, retention_uuid: c.retentionUuid,
  copied_at: formatTime(c.copiedAt), expires_at: formatTime(c.expiresAt), purged_at: formatTime(c.purgedAt),
});

/** A finished backup of a job: its last_run, and each row of its history. */
export const runJson = (r: Run) => ({
  task_uuid: r.task, status: r.status, started_at: formatTime(r.startedAt), stopped_at: formatTime(r.stoppedAt),
  duration: r.startedAt === null ? null : r.stoppedAt - r.startedAt,
  archive_uuid: r.archive, size: r.size, error: r.error,
});

export const windowJson = (w: WindowFigures) => ({
  seconds: w.windowS, runs: w.runs, failures: w.failures, success_rate: w.successRate,
  median_duration: w.medianDurationS, median_size: w.medianSize, size_trend_per_day: w.sizeTrendPerDay,
});

/** The job JSON with its health: last run, next run, and its runs over the window. */
export const jobHealthJson = (j: JobView, h: JobHealth) => ({
  ...jobJson(j),
  last_run: h.lastRun ? runJson(h.lastRun) : null,
  next_run: formatTime(h.nextRun),
  window: windowJson(h.window),
});

export const statisticsJson = (s: Statistics) => ({
  window: s.windowS,
  totals: { archives: s.totals.archives, bytes: s.totals.bytes, jobs: s.totals.jobs, failing_jobs: s.totals.failingJobs },
  stores: s.stores.map((x) => ({
    uuid: x.uuid, name: x.name, plugin: x.plugin, archives: x.archives, bytes: x.bytes,
    added_per_day: x.addedPerDay, growth_per_day: x.growthPerDay, by_status: x.byStatus,
    used_per_day: x.usedPerDay.map((d) => ({ date: isoDay(d.day), bytes: d.bytes })),
  })),
  targets: s.targets.map((x) => ({ uuid: x.uuid, name: x.name, plugin: x.plugin, archives: x.archives, bytes: x.bytes, last_taken_at: formatTime(x.lastTakenAt) })),
  failing_jobs: s.failing.map(({ job, run }) => ({
    uuid: job.uuid, name: job.name, target_name: job.targetName, store_name: job.storeName,
    failed_at: formatTime(run.stoppedAt), task_uuid: run.task, error: run.error,
  })),
  runs: {
    runs: s.runs.runs, failures: s.runs.failures, success_rate: s.runs.successRate,
    per_day: s.runs.perDay.map((d) => ({ date: isoDay(d.day), runs: d.runs, failures: d.failures })),
  },
});

/** A UTC day (days since the epoch) as YYYY-MM-DD. */
const isoDay = (day: number) => new Date(day * 86400_000).toISOString().slice(0, 10);

export const archiveJson = (a: ArchiveView) => ({
  uuid: a.uuid, store_key: a.storeKey, taken_at: formatTime(a.takenAt), expires_at: formatTime(a.expiresAt),
  notes: a.notes, status: a.status, job_uuid: a.jobUuid,
  size: a.size, raw_size: a.rawSize, sha256: a.sha256, compression: a.compression, cipher: a.cipher,
  purged_at: formatTime(a.purgedAt),
  // Retention: a failed purge's error and when the purger tries again (null otherwise).
  purge_attempts: a.purgeAttempts, purge_error: a.purgeError,
  purge_next_at: a.status === "purge_failed" ? formatTime(a.purgeNextAt) : null,
  pinned: a.pinned, pin_reason: a.pinReason,
  store_uuid: a.storeUuid, store_name: a.storeName, store_plugin: a.storePlugin, store_endpoint: a.storeEndpoint,
  target_uuid: a.targetUuid, target_name: a.targetName, target_plugin: a.targetPlugin, target_endpoint: a.targetEndpoint,
});

/** A task; `progress` is its live progress while it runs here (pipeline/progress.ts), else null. */
export const taskJson = (t: TaskRow, progress?: Progress) => ({
  uuid: t.uuid, owner: t.owner, requested_by: t.requestedBy, type: t.op, status: t.status,
  job_uuid: t.jobUuid, archive_uuid: t.archiveUuid, target_uuid: t.targetUuid, store_uuid: t.storeUuid,
  requested_at: formatTime(t.requestedAt), due_at: formatTime(t.dueAt), started_at: formatTime(t.startedAt), stopped_at: formatTime(t.stoppedAt),
  // The daemon that runs (or last ran) the task, "host pid 1234": with several daemons on one catalog, where to look.
  runner: runnerLabel(t),
  // A failed task's reason in one line (the log has the whole story); null otherwise.
  error: t.error,
  progress: t.status === "running" && progress ? progress : null,
  log: t.log,
});

export const userJson = (u: UserRow) => ({ uuid: u.uuid, name: u.name, role: u.role, provider: u.provider, created_at: formatTime(u.createdAt) });
export const tokenJson = (t: TokenRow) => ({
  uuid: t.uuid, name: t.name, created_at: formatTime(t.createdAt), last_used_at: formatTime(t.lastUsedAt),
  role: t.role, expires_at: formatTime(t.expiresAt),
});
export const sessionJson = (s: SessionView) => ({ ...tokenJson(s), user: { uuid: s.userUuid, name: s.userName, provider: s.provider } });
export const providerJson = (p: ProviderView) => ({ name: p.name, type: p.type, builtin: p.builtin, config: p.config, created_at: formatTime(p.createdAt) });
