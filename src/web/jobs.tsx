// Job pages: list with the design's filters, show with recent tasks and archives,
// create and edit, run now, pause and unpause, delete.
import type { Hono } from "hono";
import type { Archive, Job, Retention, Schedule, Store, Target, Task } from "../../views/types.ts";
import { JobDetail, JobForm, JobList, type JobChoices, type JobFilter } from "../../views/jobs.tsx";
import { Confirm } from "../../views/confirm.tsx";
import type { HistoryRun } from "../../views/charts.tsx";
import { qs, type ApiClient } from "./client.ts";
import { errorsOf, flagQuery, param, readForm, type Form } from "./forms.ts";
import { pageHref, pageOf, slicePage } from "./paging.ts";
import { me, page, seeOther, type WebContext, type WebEnv } from "./render.tsx";
import { DETOURS, draftAddress, draftValues, returnTo, type DetourKind } from "./return-to.ts";

/** How many of a job's runs its page draws. */
const HISTORY = 60;

export async function jobChoices(api: ApiClient): Promise<JobChoices> {
  const [targets, stores, schedules, retention] = await Promise.all([
    api.get<Target[]>("/v1/targets"), api.get<Store[]>("/v1/stores"),
    api.get<Schedule[]>("/v1/schedules"), api.get<Retention[]>("/v1/retention"),
  ]);
  return {
    targets: targets.map((t) => ({ value: t.uuid, label: `${t.name} (${t.plugin})` })),
    stores: stores.map((s) => ({ value: s.uuid, label: `${s.name} (${s.plugin})` })),
    schedules: schedules.map((s) => ({ value: s.uuid, label: `${s.name}: ${s.when}` })),
    retention: retention.map((r) => ({ value: r.uuid, label: r.name })),
  };
}

/** The request body for create/update from the form; the API validates it. */
function jobBody(f: Form, creating: boolean, current?: Job): Record<string, unknown> {
  const priority = (f.priority ?? "").trim();
  const body: Record<string, unknown> = {
    name: f.name ?? "", summary: f.summary ?? "", target: f.target ?? "", store: f.store ?? "",
    // No schedule chosen: the job runs only when asked.
    schedule: f.schedule ? f.schedule : null, retention: f.retention ?? "",
    // A number the API can judge; text it cannot read is sent as is, for its 400.
    priority: priority === "" ? 50 : /^-?\d+(\.\d+)?$/.test(priority) ? Number(priority) : priority,
    compression: f.compression || "zstd",
  };
  if (creating) body.paused = f.paused === "on";
  // The form offers one copy (the API and CLI take several); a store without a policy is sent for the API to refuse.
  // Copies beyond the first (set through the API or CLI) stay as they are.
  const rest = current?.copies.slice(1) ?? [];
  body.copies = f.copy_store ? [{ store: f.copy_store, retention: f.copy_retention ?? "" }, ...rest] : rest;
  body.run_window = (f.window ?? "").trim();
  return body;
}

export function jobPages(app: Hono<WebEnv>): void {
  app.get("/jobs", async (c) => {
    const s = c.get("session");
    const q = (k: string) => c.req.query(k) ?? "";
    const filter: JobFilter = { target: q("target"), store: q("store"), schedule: q("schedule"), retention: q("retention"), paused: flagQuery(c, "paused") };
    const [jobs, choices] = await Promise.all([s.api.get<Job[]>(`/v1/jobs${qs({ ...filter })}`), jobChoices(s.api)]);
    const p = pageOf(c);
    const paged = slicePage(jobs, p);
    return page(c, { title: "Jobs", section: "jobs" },
      <JobList me={me(s)} jobs={paged.rows} filter={filter} choices={choices} page={p} hasNext={paged.hasNext} pageHref={pageHref(c)} />);
  });

  // Values in the query: the job form coming back from creating a target, store,
  // schedule or policy on the way (return-to.ts), the new one chosen.
  app.get("/jobs/new", async (c) => {
    const s = c.get("session");
    return form(c, { choices: await jobChoices(s.api), values: draftValues(c.req.query()), errors: {} });
  });

  // "New target…" (store, schedule, policy) on the job form: keep what was typed, go create it, come back.
  app.post("/jobs/draft", async (c) => {
    const f = await readForm(c);
    const back = returnTo(f.back);
    const kind = f.add as DetourKind;
    if (!back || !Object.hasOwn(DETOURS, kind)) return seeOther(c, "/jobs/new", "That form could not be carried over: please fill it in again.", "error");
    return c.redirect(`${DETOURS[kind]}?return=${encodeURIComponent(draftAddress(back, f))}`, 303);
  });

  app.post("/jobs", async (c) => {
    const s = c.get("session");
    const f = await readForm(c);
    const body = jobBody(f, true);
    const r = await s.api.send<{ uuid: string }>("POST", "/v1/jobs", body);
    if (!r.ok) return form(c, { choices: await jobChoices(s.api), values: f, errors: errorsOf(r) }, r.status);
    return seeOther(c, `/jobs/${r.data.uuid}`, `Job “${body.name}” created.`);
  });

  app.get("/jobs/:uuid", async (c) => {
    const s = c.get("session");
    const job = await s.api.get<Job>(`/v1/job/${param(c, "uuid")}`);
    const [tasks, archives, history] = await Promise.all([
      s.api.get<Task[]>(`/v1/tasks${qs({ job: job.uuid, limit: 10 })}`),
      s.api.get<Archive[]>(`/v1/archives${qs({ job: job.uuid, limit: 10 })}`),
      // The charts' figures: the last HISTORY runs, newest first.
      s.api.get<HistoryRun[]>(`/v1/job/${job.uuid}/history${qs({ limit: HISTORY })}`),
    ]);
    return page(c, { title: `Job ${job.name}`, section: "jobs" },
      <JobDetail me={me(s)} job={job} tasks={tasks} archives={archives} history={history}
        names={{ [job.uuid]: job.name }} />);
  });

  app.get("/jobs/:uuid/edit", async (c) => {
    const s = c.get("session");
    const job = await s.api.get<Job>(`/v1/job/${param(c, "uuid")}`);
    const values = {
      name: job.name, summary: job.summary, target: job.target_uuid, store: job.store_uuid, schedule: job.schedule_uuid ?? "",
      retention: job.retention_uuid, priority: String(job.priority), compression: job.compression,
      copy_store: job.copies[0]?.store ?? "", copy_retention: job.copies[0]?.retention ?? "", window: job.run_window,
      ...draftValues(c.req.query()),
    };
    return form(c, { job, choices: await jobChoices(s.api), values, errors: {} });
  });

  app.post("/jobs/:uuid", async (c) => {
    const s = c.get("session");
    const job = await s.api.get<Job>(`/v1/job/${param(c, "uuid")}`);
    const f = await readForm(c);
    const r = await s.api.send("PUT", `/v1/job/${job.uuid}`, jobBody(f, false, job));
    if (!r.ok) return form(c, { job, choices: await jobChoices(s.api), values: f, errors: errorsOf(r) }, r.status);
    return seeOther(c, `/jobs/${job.uuid}`, "Job saved.");
  });

  app.post("/jobs/:uuid/run", async (c) => {
    const s = c.get("session");
    const uuid = param(c, "uuid");
    const r = await s.api.send<{ task_uuid: string }>("POST", `/v1/job/${uuid}/run`, { owner: s.user.name });
    if (!r.ok) return seeOther(c, `/jobs/${uuid}`, `Not run: ${r.error}`, "error");
    // No flash: the task page says how the backup stands, and follows it to its outcome.
    return seeOther(c, `/tasks/${r.data.task_uuid}?started=1`);
  });

  for (const action of ["pause", "unpause"] as const) {
    app.post(`/jobs/:uuid/${action}`, async (c) => {
      const s = c.get("session");
      const uuid = param(c, "uuid");
      const r = await s.api.send("POST", `/v1/job/${uuid}/${action}`);
      if (!r.ok) return seeOther(c, `/jobs/${uuid}`, `Not ${action}d: ${r.error}`, "error");
      return seeOther(c, `/jobs/${uuid}`, action === "pause" ? "Job paused: it will not run on its schedule." : "Job unpaused.");
    });
  }

  app.get("/jobs/:uuid/delete", async (c) => {
    const s = c.get("session");
    const job = await s.api.get<Job>(`/v1/job/${param(c, "uuid")}`);
    return page(c, { title: `Delete job ${job.name}`, section: "jobs" },
      <Confirm me={me(s)} title={`Delete job ${job.name}?`} action={`/jobs/${job.uuid}/delete`} button="Delete job" cancel={`/jobs/${job.uuid}`}>
        <p>The job stops running. Its archives stay, and expire by their retention policy as before.</p>
      </Confirm>);
  });

  app.post("/jobs/:uuid/delete", async (c) => {
    const s = c.get("session");
    const uuid = param(c, "uuid");
    const r = await s.api.send("DELETE", `/v1/job/${uuid}`);
    if (!r.ok) return seeOther(c, `/jobs/${uuid}`, `Not deleted: ${r.error}`, "error");
    return seeOther(c, "/jobs", "Job deleted.");
  });

  function form(c: WebContext, o: { job?: Job; choices: JobChoices; values: Record<string, string>; errors: Record<string, string> }, status = 200) {
    return page(c, { title: o.job ? `Edit job ${o.job.name}` : "New job", section: "jobs", status },
      <JobForm me={me(c.get("session"))} job={o.job} values={o.values} choices={o.choices} errors={o.errors} />);
  }
}

