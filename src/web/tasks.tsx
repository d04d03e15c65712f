// Task pages: list by status, show with the log following live (htmx polling) while
// the task runs, cancel.
import type { Hono } from "hono";
import type { Archive, Job, Task } from "../../views/types.ts";
import type { ArchiveName } from "../../views/tables.tsx";
import { TASK_STATUSES, TaskDetail, TaskList, TaskLive } from "../../views/tasks.tsx";
import { Confirm } from "../../views/confirm.tsx";
import { Time } from "../../views/components.tsx";
import { qs, type ApiClient } from "./client.ts";
import { param } from "./forms.ts";
import { apiWindow, pageHref, pageOf, trimPage } from "./paging.ts";
import { fragment, me, page, refusedFilterStatus, seeOther, type WebEnv } from "./render.tsx";

/** Names of jobs and targets by UUID, so task lists can say what each task was about. */
export async function subjectNames(api: ApiClient): Promise<Record<string, string>> {
  const [jobs, targets] = await Promise.all([api.get<Job[]>("/v1/jobs"), api.get<{ uuid: string; name: string }[]>("/v1/targets")]);
  return Object.fromEntries([...targets.map((t) => [t.uuid, t.name]), ...jobs.map((j) => [j.uuid, j.name])]);
}

/** The archives restore tasks read, by uuid: named in "restore of <archive> into <target>". */
export async function restoredArchives(api: ApiClient, tasks: Task[]): Promise<Record<string, ArchiveName>> {
  const uuids = [...new Set(tasks.filter((t) => t.type === "restore" && t.archive_uuid).map((t) => t.archive_uuid!))];
  const found = await Promise.all(uuids.map((u) => api.find<Archive>(`/v1/archive/${u}`)));
  return Object.fromEntries(found.filter((a): a is Archive => !!a).map((a) => [a.uuid, { target: a.target_name, taken_at: a.taken_at }]));
}

export function taskPages(app: Hono<WebEnv>): void {
  app.get("/tasks", async (c) => {
    const s = c.get("session");
    const status = (TASK_STATUSES as readonly string[]).includes(c.req.query("status") ?? "") ? c.req.query("status")! : "";
    const job = c.req.query("job") ?? "";
    const q = c.req.query("q") ?? "";
    const p = pageOf(c);
    const [r, names] = await Promise.all([
      s.api.send<Task[]>("GET", `/v1/tasks${qs({ status, job, q, ...apiWindow(p) })}`), subjectNames(s.api),
    ]);
    // A bad search (too long) is said next to the box, as a form error would be.
    const errors: Record<string, string> = r.ok ? {} : { ...r.fields };
    if (!r.ok && !Object.keys(errors).length) errors._ = r.error;
    const paged = trimPage(r.ok ? r.data : []);
    const archives = await restoredArchives(s.api, paged.rows);
    return page(c, { title: "Tasks", section: "tasks", status: r.ok ? 200 : refusedFilterStatus(c) },
      <TaskList tasks={paged.rows} status={status} job={job} q={q} errors={errors} names={names} archives={archives} page={p} hasNext={paged.hasNext} pageHref={pageHref(c)} />);
  });

  app.get("/tasks/:uuid", async (c) => {
    const s = c.get("session");
    const task = await s.api.get<Task>(`/v1/task/${param(c, "uuid")}`);
    let subject: { href: string; label: string } | undefined;
    let restore: { archive?: ArchiveName; target?: string } | undefined;
    if (task.type === "restore") {
      const [archives, target] = await Promise.all([
        restoredArchives(s.api, [task]), task.target_uuid ? s.api.find<{ name: string }>(`/v1/target/${task.target_uuid}`) : undefined,
      ]);
      restore = { archive: task.archive_uuid ? archives[task.archive_uuid] : undefined, target: target?.name };
    } else if (task.job_uuid) {
      const job = await s.api.find<Job>(`/v1/job/${task.job_uuid}`);
      if (job) subject = { href: `/jobs/${job.uuid}`, label: `job ${job.name}` };
    } else if (task.target_uuid) {
      const target = await s.api.find<{ uuid: string; name: string }>(`/v1/target/${task.target_uuid}`);
      if (target) subject = { href: `/targets/${target.uuid}`, label: `into target ${target.name}` };
    }
    return page(c, { title: `Task ${task.type}`, section: "tasks" },
      <TaskDetail me={me(s)} task={task} subject={subject} restore={restore} started={c.req.query("started") === "1"} />);
  });

  app.get("/tasks/:uuid/live", async (c) => {
    const s = c.get("session");
    const task = await s.api.get<Task>(`/v1/task/${param(c, "uuid")}`);
    return fragment(c, <TaskLive me={me(s)} task={task} started={c.req.query("started") === "1"} />);
  });

  app.get("/tasks/:uuid/cancel", async (c) => {
    const s = c.get("session");
    const task = await s.api.get<Task>(`/v1/task/${param(c, "uuid")}`);
    const back = `/tasks/${task.uuid}`;
    if (task.status !== "pending" && task.status !== "running") return seeOther(c, back, `This task is ${task.status} already: nothing to cancel.`, "error");
    const job = task.job_uuid ? await s.api.find<Job>(`/v1/job/${task.job_uuid}`) : undefined;
    return page(c, { title: "Cancel task", section: "tasks" },
      <Confirm me={me(s)} title={`Cancel this ${task.type}?`} action={`${back}/cancel`} button="Cancel task" cancel={back} cancelLabel="Keep it running">
        <p>The {task.type}{job ? <> of job {job.name}</> : null}, requested <Time at={task.requested_at} />, is {task.status}. Canceled, it stops
          where it is{task.type === "backup" ? " and leaves no archive" : task.type === "restore" ? ", and the target may be left partly restored" : ""}.</p>
      </Confirm>);
  });

  app.post("/tasks/:uuid/cancel", async (c) => {
    const uuid = param(c, "uuid");
    const r = await c.get("session").api.send("DELETE", `/v1/task/${uuid}`);
    if (!r.ok) return seeOther(c, `/tasks/${uuid}`, `Not canceled: ${r.error}`, "error");
    return seeOther(c, `/tasks/${uuid}`, "Task canceled.");
  });
}
