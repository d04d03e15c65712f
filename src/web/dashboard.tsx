// The dashboard: jobs whose last run failed or that have not succeeded within
// their schedule, tasks running now (live), recent archives, storage per store.
// A handful of requests whatever the number of jobs: each job's last run comes
// with GET /v1/jobs, the storage from GET /v1/statistics.
import type { Hono } from "hono";
import type { Archive, Job, Statistics, Task } from "../../views/types.ts";
import { Dashboard, RunningTasks, type Attention, type Progress, type StoreUsage } from "../../views/dashboard.tsx";
import { isoUtc } from "../../views/format.ts";
import { qs, type ApiClient } from "./client.ts";
import { fragment, me, page, type WebEnv } from "./render.tsx";
import { subjectNames } from "./tasks.tsx";

const HOUR = 3600_000;

async function runningTasks(api: ApiClient): Promise<Task[]> {
  const [running, pending] = await Promise.all([
    api.get<Task[]>(`/v1/tasks${qs({ status: "running", limit: 50 })}`),
    api.get<Task[]>(`/v1/tasks${qs({ status: "pending", limit: 50 })}`),
  ]);
  return [...running, ...pending];
}

/**
 * How often a schedule runs, from its next two runs (GET /v1/timespec); undefined
 * when the daemon cannot say (then "overdue" is not judged, only failures are).
 */
async function period(api: ApiClient, when: string, cache: Map<string, Promise<number | undefined>>): Promise<number | undefined> {
  let known = cache.get(when);
  if (!known) {
    known = api.send<{ next: string[] }>("GET", `/v1/timespec${qs({ when, count: 2 })}`).then((r) => {
      const [a, b] = r.ok ? r.data.next : [];
      return a && b ? Date.parse(isoUtc(b)) - Date.parse(isoUtc(a)) : undefined;
    });
    cache.set(when, known);
  }
  return known;
}

/**
 * The jobs whose last backup failed, or whose last (successful) one is older than
 * their schedule allows: judged from each job's last_run as GET /v1/jobs answers
 * it (backups only, canceled ones aside), one request for every job.
 */
async function attention(api: ApiClient, jobs: Job[]): Promise<{ list: Attention[]; overdueKnown: boolean }> {
  const periods = new Map<string, Promise<number | undefined>>();
  let overdueKnown = false;
  const list = (await Promise.all(jobs.map(async (job): Promise<Attention | undefined> => {
    const last = job.last_run;
    if (last && last.status !== "done") {
      return { job, reason: `last run ${last.status}${last.error ? `: ${last.error}` : ""}`, at: last.stopped_at, task: last.task_uuid };
    }
    if (job.paused || !last || job.schedule === null) return undefined;
    const every = await period(api, job.schedule, periods);
    if (every === undefined) return undefined;
    overdueKnown = true;
    const since = Date.now() - Date.parse(isoUtc(last.stopped_at));
    // One period, and up to an hour's grace for the run due now to finish.
    if (since > every + Math.min(every, HOUR)) {
      return { job, reason: `no successful backup within its schedule (${job.schedule})`, at: last.stopped_at, task: last.task_uuid };
    }
    return undefined;
  }))).filter((a): a is Attention => !!a);
  return { list, overdueKnown: overdueKnown || jobs.length === 0 };
}

/** What each store holds, from GET /v1/statistics (the catalog totals it with one query). */
function usage(stats: Statistics): StoreUsage[] {
  return stats.stores.filter((s) => s.name !== null).map((s) => ({
    uuid: s.uuid, name: s.name!, plugin: s.plugin ?? "", archives: s.archives, bytes: s.bytes, growthPerDay: s.growth_per_day,
  }));
}

/**
 * The getting-started checklist's counts, asked only while there is no archive
 * yet (a new install): afterwards the dashboard does not show it.
 */
async function progress(api: ApiClient, jobs: Job[], archives: Archive[]): Promise<Progress | undefined> {
  if (archives.length > 0) return undefined;
  const count = async (path: string) => (await api.get<unknown[]>(`${path}${qs({ limit: 1 })}`)).length;
  const [stores, targets, schedules, policies] = await Promise.all([
    count("/v1/stores"), count("/v1/targets"), count("/v1/schedules"), count("/v1/retention"),
  ]);
  return { stores, targets, schedules, policies, jobs: jobs.length, archives: 0, firstJob: jobs[0]?.uuid };
}

export function dashboardPages(app: Hono<WebEnv>): void {
  app.get("/", async (c) => {
    const s = c.get("session");
    const [jobs, stats, archives, running, names] = await Promise.all([
      s.api.get<Job[]>("/v1/jobs"), s.api.get<Statistics>("/v1/statistics"),
      s.api.get<Archive[]>(`/v1/archives${qs({ limit: 10 })}`), runningTasks(s.api), subjectNames(s.api),
    ]);
    const [att, started] = await Promise.all([attention(s.api, jobs), progress(s.api, jobs, archives)]);
    return page(c, { title: "Dashboard", section: "dashboard" },
      <Dashboard me={me(s)} attention={att.list} overdueKnown={att.overdueKnown} running={running} names={names} archives={archives}
        usage={usage(stats)} totals={stats.totals} stats={stats} progress={started} />);
  });

  app.get("/dashboard/running", async (c) => {
    const s = c.get("session");
    const [running, names] = await Promise.all([runningTasks(s.api), subjectNames(s.api)]);
    return fragment(c, <RunningTasks tasks={running} names={names} />);
  });
}
