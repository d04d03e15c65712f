// GET /metrics: the Prometheus text format, from prom-client. What the catalog
// knows (each job's last run, tasks by status, archives by store) is read at
// each scrape with the aggregate queries of catalog/health.ts, so that every
// daemon sharing a catalog answers the same; what only happens (a task's
// duration, a failed purge) is counted from the task events (core/task-events.ts)
// of this daemon. Labels are names of jobs, targets and stores: a bounded set,
// never a task's or an archive's UUID. The job's label is `job_name`, since
// Prometheus keeps `job` for the scrape job itself.
import type { Context, Hono } from "hono";
import client from "prom-client";
import { Unauthenticated, type Core, type TaskEvent } from "../core/index.ts";
import { scheduleInterval } from "../core/health.ts";

/** The agents' reachability: name → up. The daemon gives what its watch (notify/watch.ts) last found, so a scrape never waits on an agent. No series without agents. */
export type AgentsUp = () => Promise<{ name: string; up: boolean }[]>;

export interface MetricsOptions {
  /** `shield daemon --metrics-public`: /metrics without a token. */
  public?: boolean;
  agents?: AgentsUp;
}

const JOB_LABELS = ["job_name", "target", "store"] as const;

// From a second to half a day: a backup's duration spans all of these.
const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200];

/** How often the event loop's lag is sampled (nodejs_eventloop_lag_*). */
const EVENT_LOOP_SAMPLE_MS = 1000;

export class ShieldMetrics {
  readonly registry = new client.Registry();
  private readonly g;
  private readonly taskDuration;
  private readonly purgeFailures;

  constructor(private readonly core: Core, private readonly opts: MetricsOptions = {}) {
    const r = [this.registry];
    const gauge = (name: string, help: string, labelNames: readonly string[] = []) =>
      new client.Gauge({ name, help, labelNames: [...labelNames], registers: r });
    this.g = {
      lastSuccess: gauge("shield_job_last_success_timestamp_seconds", "When the job's last successful backup ended (Unix time); absent until one succeeds", JOB_LABELS),
      lastStatus: gauge("shield_job_last_run_status", "1 if the job's last backup succeeded, 0 if it failed; absent until one ends", JOB_LABELS),
      lastDuration: gauge("shield_job_last_duration_seconds", "How long the job's last backup ran", JOB_LABELS),
      lastBytes: gauge("shield_job_last_archive_bytes", "Bytes stored by the job's last successful backup", JOB_LABELS),
      interval: gauge("shield_job_schedule_interval_seconds", "Seconds between the next two runs of an unpaused job's schedule (for overdue alerts)", JOB_LABELS),
      tasks: gauge("shield_tasks", "Tasks in the catalog, by status", ["status"]),
      archives: gauge("shield_archives", "Archive rows, by store and status", ["store", "status"]),
      archiveBytes: gauge("shield_archive_bytes", "Bytes of the archives, by store and status", ["store", "status"]),
      agentUp: gauge("shield_agent_up", "1 if the agent answers, 0 if not", ["agent"]),
      schedulerLag: gauge("shield_scheduler_lag_seconds", "How far the earliest due run of an unpaused job is in the past (0 when the scheduler keeps up)"),
    };
    this.taskDuration = new client.Histogram({
      name: "shield_task_duration_seconds", help: "How long tasks ran, by operation and outcome (tasks this daemon ran)",
      labelNames: ["op", "outcome"], buckets: DURATION_BUCKETS, registers: r,
    });
    this.purgeFailures = new client.Counter({
      name: "shield_purge_failures_total", help: "Failed purge attempts (tasks this daemon ran), by store", labelNames: ["store"], registers: r,
    });
    // process_* and nodejs_* under their usual names, as every dashboard expects them.
    // The event loop's lag is sampled once a second, not every 10 ms (prom-client's
    // default): that timer woke the daemon 100 times a second, idle or not, ~1 % of a
    // core taken from every backup's pipeline (bench/DATAPATH.md, "Tenth session").
    // The cost: nodejs_eventloop_lag_* see only the stalls that overlap a tick, so a stall
    // shorter than a second may go unrecorded; they show a loop that is often slow, not every stall.
    client.collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    core.outcomes.on((e) => this.observe(e));
  }

  /** A task's end, heard on the task event bus (a backup's start counts for nothing here). */
  private observe(e: TaskEvent): void {
    if (e.outcome === "running") return;
    if (e.durationS !== null) this.taskDuration.observe({ op: e.op, outcome: e.outcome }, e.durationS);
    if (e.name === "purge_failed") this.purgeFailures.inc({ store: e.store?.name ?? e.store?.uuid ?? "" });
  }

  /** Reads the catalog's figures into the gauges: a handful of aggregate queries, whatever the number of jobs. */
  private async refresh(nowMs = Date.now()): Promise<void> {
    const { catalog } = this.core;
    const [jobs, { last, succeeded: lastOk }, tasks, totals, stores, earliest, agents] = await Promise.all([
      catalog.jobs.list(), catalog.health.lastAndSucceeded(), catalog.health.taskCounts(),
      catalog.health.archiveTotals(), catalog.stores.list(), catalog.health.earliestDue(), this.opts.agents?.() ?? [],
    ]);
    // Reset first: a deleted job or store must not linger with its last value.
    for (const m of Object.values(this.g)) m.reset();
    for (const j of jobs) {
      const labels = { job_name: j.name, target: j.targetName, store: j.storeName };
      const run = last.get(j.uuid);
      const ok = lastOk.get(j.uuid);
      if (run) {
        this.g.lastStatus.set(labels, run.status === "done" ? 1 : 0);
        if (run.startedAt !== null) this.g.lastDuration.set(labels, run.stoppedAt - run.startedAt);
      }
      if (ok) {
        this.g.lastSuccess.set(labels, ok.stoppedAt);
        if (ok.size !== null) this.g.lastBytes.set(labels, ok.size);
      }
      const interval = j.paused || j.timespec === null ? null : scheduleInterval(j.timespec, nowMs);
      if (interval !== null) this.g.interval.set(labels, interval);
    }
    for (const status of ["pending", "running", "done", "failed", "canceled"] as const) this.g.tasks.set({ status }, tasks.get(status) ?? 0);
    const storeName = new Map(stores.map((s) => [s.uuid, s.name]));
    const byStore = new Map<string, { n: number; bytes: number }>();
    for (const t of totals) {
      const key = `${storeName.get(t.store) ?? t.store}\n${t.status}`;
      const s = byStore.get(key) ?? { n: 0, bytes: 0 };
      s.n += t.archives;
      s.bytes += t.bytes;
      byStore.set(key, s);
    }
    for (const [key, s] of byStore) {
      const [store, status] = key.split("\n") as [string, string];
      this.g.archives.set({ store, status }, s.n);
      this.g.archiveBytes.set({ store, status }, s.bytes);
    }
    for (const a of agents) this.g.agentUp.set({ agent: a.name }, a.up ? 1 : 0);
    this.g.schedulerLag.set(earliest === null ? 0 : Math.max(0, nowMs / 1000 - earliest));
  }

  async text(): Promise<string> {
    await this.refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export const METRICS_PATH = "/metrics";

/**
 * Mounts GET /metrics. Unless public, it takes an API token (Bearer, any role):
 * a scraper's configuration holds a token that can be revoked alone, never a password.
 */
export function metricsRoute(app: Hono, core: Core, opts: MetricsOptions, clientAddress: (c: Context) => string): ShieldMetrics {
  const metrics = new ShieldMetrics(core, opts);
  app.get(METRICS_PATH, async (c) => {
    if (!opts.public) {
      const header = c.req.header("authorization");
      if (!header || !/^Bearer\s/i.test(header)) {
        throw new Unauthenticated("GET /metrics needs an API token: Authorization: Bearer TOKEN (or start the daemon with --metrics-public)");
      }
      await core.users.authenticate(header, clientAddress(c));
    }
    return c.body(await metrics.text(), 200, { "content-type": metrics.contentType });
  });
  return metrics;
}
