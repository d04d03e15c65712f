// The dashboard: what needs attention, what runs now, what was kept lately, and
// how much each store holds.
import type { Archive, Job, Me, Task } from "./types.ts";
import { DataTable, Empty, PostButton, Time } from "./components.tsx";
import { ArchiveTable, TaskTable } from "./tables.tsx";
import { bytes } from "./format.ts";
import { StorageChart, SuccessChart } from "./charts.tsx";
import type { Statistics } from "./types.ts";

export interface Attention { job: Job; reason: string; at?: string | null; task?: string }
export interface StoreUsage { uuid: string; name: string; plugin: string; archives: number; bytes: number; growthPerDay?: number }

/** Tasks running or waiting now; polls itself so progress moves without a reload. */
export function RunningTasks({ tasks, names }: { tasks: Task[]; names: Record<string, string> }) {
  return (
    <div id="running" hx-get="/dashboard/running" hx-trigger="every 2s" hx-swap="outerHTML" aria-live="polite">
      {tasks.length === 0 ? <Empty>Nothing is running.</Empty> : <TaskTable tasks={tasks} names={names} />}
    </div>
  );
}

/** What exists of the parts of a first backup (the getting-started checklist); absent once there is an archive. */
export interface Progress { stores: number; targets: number; schedules: number; policies: number; jobs: number; archives: number; firstJob?: string }

/**
 * The getting-started checklist: the parts of a first backup in the order they
 * are needed, each ticked once one exists, each a link to create it (the job form
 * can also create the others on the way).
 */
export function GettingStarted({ me, p }: { me: Me; p: Progress }) {
  const steps: { done: boolean; what: string; why: string; href: string; action: string }[] = [
    { done: p.stores > 0, what: "A store", why: "where archives go: a directory, S3 or Azure", href: "/stores/new", action: "Add a store" },
    { done: p.targets > 0, what: "A target", why: "what to back up: a database or a directory", href: "/targets/new", action: "Add a target" },
    { done: p.schedules > 0, what: "A schedule (optional)", why: "when backups run, like “daily at 4am”; without one, a job runs when you ask", href: "/schedules/new", action: "Add a schedule" },
    { done: p.policies > 0, what: "A retention policy", why: "how long archives are kept", href: "/retention/new", action: "Add a policy" },
    { done: p.jobs > 0, what: "A job", why: "the target, into the store, on the schedule, kept by the policy", href: "/jobs/new", action: "Create a job" },
    { done: p.archives > 0, what: "A first backup", why: "“Run now” on the job's page makes the first archive", href: p.firstJob ? `/jobs/${p.firstJob}` : "/jobs", action: p.jobs > 1 ? "Open the first job" : "Open the job" },
  ];
  const left = steps.filter((s) => !s.done).length;
  return (
    <section class="card getting-started" aria-labelledby="getting-started">
      <h2 id="getting-started">Getting started</h2>
      <p class="muted">{left === steps.length ? "Shield backs up a target into a store. Six steps to a first backup:" : `${steps.length - left} of ${steps.length} done.`}
        {me.canOperate ? "" : " Creating them needs the operator or admin role."}</p>
      <ol class="checklist">
        {steps.map((s) => (
          <li class={s.done ? "done" : undefined}>
            <span class="tick" aria-hidden="true">{s.done ? "✓" : "○"}</span>
            <span class="what"><strong>{s.what}</strong><span class="skip">{s.done ? " (done)" : " (to do)"}</span>: {s.why}.</span>
            {me.canOperate && !s.done && (s.href !== "/jobs" || p.jobs > 0) ? <a href={s.href}>{s.action}</a> : null}
          </li>
        ))}
      </ol>
    </section>
  );
}

export function Dashboard({ me, attention, running, names, archives, usage, overdueKnown, totals, stats, progress }: {
  me: Me; attention: Attention[]; running: Task[]; names: Record<string, string>; archives: Archive[]; usage: StoreUsage[]; overdueKnown: boolean;
  totals?: { archives: number; bytes: number; jobs: number; failing_jobs: number }; stats?: Statistics; progress?: Progress;
}) {
  return (
    <>
      <h1>Dashboard</h1>
      {progress ? <GettingStarted me={me} p={progress} /> : null}
      {totals ? <p class="muted">{totals.jobs} jobs, {totals.failing_jobs} failing; {totals.archives} archives held, {bytes(totals.bytes)}.</p> : null}
      <h2>Jobs that need attention</h2>
      {attention.length === 0 ? (
        <Empty>No job's last run failed{overdueKnown ? ", and none is overdue" : ""}.</Empty>
      ) : (
        <DataTable columns={["Job", "Why", "When", me.canOperate ? <span class="visually-hidden">Action</span> : null]}>
          {attention.map((a) => (
            <tr>
              <td><a href={`/jobs/${a.job.uuid}`}>{a.job.name}</a></td>
              <td>{a.task ? <a href={`/tasks/${a.task}`}>{a.reason}</a> : a.reason}</td>
              <td><Time at={a.at} /></td>
              {me.canOperate ? <td><PostButton action={`/jobs/${a.job.uuid}/run`} csrf={me.csrf} label="Retry" /></td> : null}
            </tr>
          ))}
        </DataTable>
      )}
      {stats ? <><h2>Backups</h2><SuccessChart stats={stats} /></> : null}
      <h2>Running now</h2>
      <RunningTasks tasks={running} names={names} />
      <h2>Recent archives</h2>
      {archives.length === 0 ? <Empty>No archives yet.{me.canOperate ? " Run a job to make one." : ""}</Empty> : <ArchiveTable archives={archives} />}
      <p><a href="/archives">All archives</a></p>
      <h2>Storage used</h2>
      {stats ? <StorageChart stats={stats} /> : null}
      {usage.length === 0 ? <Empty>No stores yet.</Empty> : (
        <DataTable columns={["Store", "Plugin", "Archives held", "Size", "Growth a day (30 days)"]}>
          {usage.map((u) => (
            <tr><td><a href={`/stores/${u.uuid}`}>{u.name}</a></td><td>{u.plugin}</td><td>{u.archives}</td><td>{bytes(u.bytes)}</td>
              <td>{u.growthPerDay === undefined ? "—" : `${u.growthPerDay < 0 ? "−" : "+"}${bytes(Math.abs(u.growthPerDay))}`}</td></tr>
          ))}
        </DataTable>
      )}
    </>
  );
}
