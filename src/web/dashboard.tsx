// The dashboard: jobs whose last run failed or that have not succeeded within
// their schedule, tasks running now (live), recent archives, storage per store.
import type { Hono } from "hono";
import type { Archive, Job, Store, Task } from "../../views/types.ts";
import { Dashboard, RunningTasks, type Attention, type StoreUsage } from "../../views/dashboard.tsx";
import { isoUtc } from "../../views/format.ts";
import { qs, type ApiClient } from "./client.ts";
import { fragment, me, page, type WebEnv } from "./render.tsx";
import { subjectNames } from "./tasks.tsx";

// A canceled run was someone's choice: it says nothing of the job's health.
const FINISHED = new Set(["done", "failed"]);
const HOUR = 3600_000;
/** How many of a job's latest tasks are looked through for its latest backups. */
const JUDGED = 100;

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
async function period(api: ApiClient, when: string, cache: Map<string, number | undefined>): Promise<number | undefined> {
  if (cache.has(when)) return cache.get(when);
  const r = await api.send<{ next: string[] }>("GET", `/v1/timespec${qs({ when, count: 2 })}`);
  const [a, b] = r.ok ? r.data.next : [];
  const ms = a && b ? Date.parse(isoUtc(b)) - Date.parse(isoUtc(a)) : undefined;
  cache.set(when, ms);
  return ms;
}

async function attention(api: ApiClient, jobs: Job[]): Promise<{ list: Attention[]; overdueKnown: boolean }> {
  const periods = new Map<string, number | undefined>();
  let overdueKnown = false;
  const list = (await Promise.all(jobs.map(async (job): Promise<Attention | undefined> => {
    // A job's tasks include the purges of its archives (filed as the job's too), which
    // say nothing of whether its backups work: only backups are judged. The API cannot
    // filter by type; purges come about one per backup, so a window this wide holds backups.
    const [recent, successes] = await Promise.all([
      api.get<Task[]>(`/v1/tasks${qs({ job: job.uuid, limit: JUDGED })}`),
      api.get<Task[]>(`/v1/tasks${qs({ job: job.uuid, status: "done", limit: JUDGED })}`),
    ]);
    const last = recent.find((t) => t.type === "backup" && FINISHED.has(t.status));
    if (last && last.status !== "done") {
      return { job, reason: `last run ${last.status}`, at: last.stopped_at ?? last.requested_at, task: last.uuid };
    }
    if (job.paused || !last) return undefined;
    const every = await period(api, job.schedule, periods);
    if (every === undefined) return undefined;
    overdueKnown = true;
    const success = successes.find((t) => t.type === "backup");
    const since = success?.stopped_at ? Date.now() - Date.parse(isoUtc(success.stopped_at)) : Infinity;
    // One period, and up to an hour's grace for the run due now to finish.
    if (since > every + Math.min(every, HOUR)) {
      return { job, reason: `no successful backup within its schedule (${job.schedule})`, at: success?.stopped_at ?? null, task: success?.uuid };
    }
    return undefined;
  }))).filter((a): a is Attention => !!a);
  return { list, overdueKnown: overdueKnown || jobs.length === 0 };
}

/** Bytes of the archives a store still holds (valid, expired not yet purged, failed purges). */
async function usage(api: ApiClient, stores: Store[]): Promise<StoreUsage[]> {
  return Promise.all(stores.map(async (store) => {
    let archives = 0;
    let total = 0;
    for (const status of ["valid", "expired", "purge_failed"]) {
      for (let offset = 0; ; offset += 1000) {
        const rows = await api.get<Archive[]>(`/v1/archives${qs({ store: store.uuid, status, limit: 1000, offset })}`);
        archives += rows.length;
        for (const a of rows) total += a.size ?? 0;
        if (rows.length < 1000) break;
      }
    }
    return { uuid: store.uuid, name: store.name, plugin: store.plugin, archives, bytes: total };
  }));
}

export function dashboardPages(app: Hono<WebEnv>): void {
  app.get("/", async (c) => {
    const s = c.get("session");
    const [jobs, stores, archives, running, names] = await Promise.all([
      s.api.get<Job[]>("/v1/jobs"), s.api.get<Store[]>("/v1/stores"),
      s.api.get<Archive[]>(`/v1/archives${qs({ limit: 10 })}`), runningTasks(s.api), subjectNames(s.api),
    ]);
    const [att, used] = await Promise.all([attention(s.api, jobs), usage(s.api, stores)]);
    return page(c, { title: "Dashboard", section: "dashboard" },
      <Dashboard me={me(s)} attention={att.list} overdueKnown={att.overdueKnown} running={running} names={names} archives={archives} usage={used} />);
  });

  app.get("/dashboard/running", async (c) => {
    const s = c.get("session");
    const [running, names] = await Promise.all([runningTasks(s.api), subjectNames(s.api)]);
    return fragment(c, <RunningTasks tasks={running} names={names} />);
  });
}
