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

export function Dashboard({ me, attention, running, names, archives, usage, overdueKnown, totals, stats }: {
  me: Me; attention: Attention[]; running: Task[]; names: Record<string, string>; archives: Archive[]; usage: StoreUsage[]; overdueKnown: boolean;
  totals?: { archives: number; bytes: number; jobs: number; failing_jobs: number }; stats?: Statistics;
}) {
  return (
    <>
      <h1>Dashboard</h1>
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
