// The watch: what no task tells. Every minute (--watch-every) it looks at every
// job and every agent, and tells the channels whose rules name them:
// - `job.overdue`: an unpaused job with a schedule has had no successful backup in
//   1.5 × its schedule's interval (core/health.ts `overdueAt`: the README's alert
//   rule on shield_job_last_success_timestamp_seconds and
//   shield_job_schedule_interval_seconds, from the same catalog reads);
// - `agent.unreachable`: an agent (pinned, named by a target, or dialing in) does
//   not answer the hello that GET /v1/agents asks (AgentDirectory.status); the
//   answers are kept for shield_agent_up, so a scrape never waits on an agent.
// Once per episode: a job or an agent is told of when it goes bad, and again only
// after it came back (a successful backup; the agent answering; a job paused or
// its schedule removed ends its episode too) and went bad again. What was told is
// kept in memory: a daemon restarted tells once more of what is still bad, and
// each daemon sharing a catalog tells of it (deliveries without a task are not
// made unique by the catalog's index, unlike a task's).
// The deliveries go the notifier's way (notify/index.ts `tell`): the channels'
// rules, retries, GET /v1/notifications/deliveries. A check never throws: a
// catalog or probe error is logged and the next check tries again; the watch runs
// in its own loop, beside the scheduler and the API, and waits on neither.
import type { Catalog, JobView } from "../catalog/index.ts";
import type { AgentStatus } from "../agent/directory.ts";
import { overdueAt, OVERDUE_FACTOR } from "../core/health.ts";
import { formatDuration } from "../cli/output.ts";
import { describeError, log } from "../log.ts";
import { systemClock, type Clock } from "../scheduler/clock.ts";
import type { Alert } from "./index.ts";
import { titleOf } from "./message.ts";

export const DEFAULT_WATCH_EVERY_MS = 60_000;

/** Asks every agent now whether it answers (the daemon's AgentDirectory.status, as GET /v1/agents). */
export type AgentProbe = () => Promise<Pick<AgentStatus, "name" | "reachable" | "error" | "targets" | "last_seen">[]>;

export interface WatchOptions {
  catalog: Pick<Catalog, "jobs" | "health">;
  /** Files an alert's deliveries (the Notifier); a throw means "not filed": it is tried again at the next check. */
  tell: (a: Alert) => Promise<unknown>;
  /** A page of the web UI as people reach it, for the link to the job. */
  page: (path: string) => string;
  /** Left out: no agents are watched (and none is reported up or down). */
  agents?: AgentProbe;
  clock?: Clock;
  /** How often to look (ms). */
  everyMs?: number;
}

export interface WatchCheck { overdue: string[]; unreachable: string[] }

export class Watch {
  private readonly clock: Clock;
  private stopped = false;
  private wake = new AbortController();
  private loop: Promise<void> | undefined;
  /** Jobs told of as overdue, and agents as unreachable, in their current episode. */
  private readonly toldJobs = new Set<string>();
  private readonly toldAgents = new Set<string>();
  /**
   * When this daemon saw a job unpaused (or given a schedule) after it was paused
   * (or had none): its clock starts there, so a job unpaused after a month is not
   * overdue before it had 1.5 intervals to run.
   */
  private readonly resumedAt = new Map<string, number>();
  /** Jobs the last check found paused or without a schedule: seen active again, their clock restarts (resumedAt). */
  private readonly idle = new Set<string>();
  /** What the last agent probe found, kept for /metrics (agentsUp), so that a scrape never waits on an agent. */
  private agentsSeen: { name: string; up: boolean }[] = [];

  constructor(private readonly opts: WatchOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.abort();
    await this.loop;
  }

  /** The agents as the last check found them, for shield_agent_up (none before the first check ends). */
  agentsUp(): { name: string; up: boolean }[] {
    return this.agentsSeen;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await this.check();
      if (this.stopped) break;
      await this.clock.sleep(this.opts.everyMs ?? DEFAULT_WATCH_EVERY_MS, this.wake.signal);
    }
  }

  /** One look at the jobs and the agents, side by side (a slow agent delays no job); never throws. */
  async check(): Promise<WatchCheck> {
    // One listing of the jobs for both looks (the agents' messages name the jobs they serve).
    const jobs = this.opts.catalog.jobs.list();
    jobs.catch(() => {}); // each look below reports its own failure
    const [overdue, unreachable] = await Promise.all([
      this.checkJobs(jobs).catch((err) => { log.error("cannot check jobs for overdue backups", describeError(err)); return [] as string[]; }),
      this.checkAgents(jobs).catch((err) => { log.error("cannot check whether agents answer", describeError(err)); return [] as string[]; }),
    ]);
    return { overdue, unreachable };
  }

  /** The uuids of the jobs overdue now. */
  private async checkJobs(listing: Promise<JobView[]>): Promise<string[]> {
    const [jobs, succeeded] = await Promise.all([listing, this.opts.catalog.health.lastRuns(undefined, true)]);
    const nowMs = this.clock.now();
    const now = Math.floor(nowMs / 1000);
    const overdue: string[] = [];
    const present = new Set<string>();
    for (const job of jobs) {
      present.add(job.uuid);
      if (job.paused || job.timespec === null) {
        this.idle.add(job.uuid);
        this.resumedAt.delete(job.uuid);
        this.toldJobs.delete(job.uuid);
        continue;
      }
      if (this.idle.delete(job.uuid)) this.resumedAt.set(job.uuid, now);
      const ok = succeeded.get(job.uuid);
      const from = Math.max(ok?.stoppedAt ?? job.createdAt, job.createdAt, this.resumedAt.get(job.uuid) ?? -Infinity);
      const due = overdueAt(job, from, nowMs);
      if (!due || now <= due.at) {
        this.toldJobs.delete(job.uuid);
        continue;
      }
      overdue.push(job.uuid);
      if (this.toldJobs.has(job.uuid)) continue;
      try {
        await this.opts.tell(this.overdueAlert(job, ok?.stoppedAt ?? null, due, nowMs));
        this.toldJobs.add(job.uuid);
        log.warn("job overdue: no successful backup in 1.5 × its schedule's interval", { job: job.name, lastSuccess: ok?.stoppedAt ?? null });
      } catch (err) {
        log.error("cannot tell that a job is overdue; will try at the next check", { job: job.name, ...describeError(err) });
      }
    }
    // A job deleted: forgotten.
    for (const set of [this.toldJobs, this.idle]) for (const uuid of set) if (!present.has(uuid)) set.delete(uuid);
    for (const uuid of this.resumedAt.keys()) if (!present.has(uuid)) this.resumedAt.delete(uuid);
    return overdue;
  }

  private overdueAlert(job: JobView, lastSuccess: number | null, due: { at: number; intervalS: number }, nowMs: number): Alert {
    const iso = (s: number) => new Date(s * 1000).toISOString();
    const allowed = formatDuration(Math.round(OVERDUE_FACTOR * due.intervalS));
    return {
      kind: "job.overdue", jobs: [job.uuid], job: job.uuid,
      message: {
        event: "job.overdue", title: titleOf("job.overdue", job.name), job: job.name, target: job.targetName, store: job.storeName,
        error: lastSuccess === null
          ? `no successful backup yet, and ${allowed} (1.5 × the schedule's interval) have passed`
          : `no successful backup in ${allowed} (1.5 × the schedule's interval)`,
        details: {
          "Last success": lastSuccess === null ? "never" : iso(lastSuccess),
          Schedule: `${job.scheduleName ?? ""} (${job.timespec})`.trim(),
          "Overdue since": iso(due.at),
        },
        link: this.opts.page(`/jobs/${job.uuid}`), at: new Date(nowMs).toISOString(),
      },
    };
  }

  /** The names of the agents that do not answer now. */
  private async checkAgents(listing: Promise<JobView[]>): Promise<string[]> {
    if (!this.opts.agents) return [];
    const [agents, jobs] = await Promise.all([this.opts.agents(), listing]);
    this.agentsSeen = agents.map((a) => ({ name: a.name, up: a.reachable }));
    const nowMs = this.clock.now();
    const down: string[] = [];
    const present = new Set(agents.map((a) => a.name));
    for (const a of agents) {
      if (a.reachable) {
        this.toldAgents.delete(a.name);
        continue;
      }
      down.push(a.name);
      if (this.toldAgents.has(a.name)) continue;
      // The jobs whose target runs on it: channels whose rules name one of them hear of it.
      const served = jobs.filter((j) => j.targetAgent === a.name);
      try {
        await this.opts.tell({
          kind: "agent.unreachable", jobs: served.map((j) => j.uuid), job: null,
          message: {
            event: "agent.unreachable", title: titleOf("agent.unreachable", undefined, undefined, a.name), agent: a.name,
            error: a.error ?? "it did not answer",
            details: {
              Targets: a.targets.length ? a.targets.join(", ") : "none",
              Jobs: served.length ? served.map((j) => j.name).join(", ") : "none",
              "Last seen": a.last_seen ? new Date(a.last_seen * 1000).toISOString() : "never",
            },
            at: new Date(nowMs).toISOString(),
          },
        });
        this.toldAgents.add(a.name);
        log.warn("agent unreachable", { agent: a.name, error: a.error });
      } catch (err) {
        log.error("cannot tell that an agent is unreachable; will try at the next check", { agent: a.name, ...describeError(err) });
      }
    }
    for (const name of this.toldAgents) if (!present.has(name)) this.toldAgents.delete(name);
    return down;
  }
}
