// Jobs: a target backed up into a store on a schedule, kept by a retention policy.
import type { Archive, Errors, Job, Me, Task } from "./types.ts";
import { Csrf, DataTable, Empty, Field, FilterForm, FormError, Pager, PostButton, SelectField, Status, TextField, Time, described } from "./components.tsx";
import { ArchiveTable, TaskTable } from "./tables.tsx";
import { bytes, duration, percent } from "./format.ts";
import { JobCharts, OutcomeStrip, seconds, type HistoryRun } from "./charts.tsx";

export interface Choice { value: string; label: string }
export interface JobChoices { targets: Choice[]; stores: Choice[]; schedules: Choice[]; retention: Choice[] }
export interface JobFilter { target: string; store: string; schedule: string; retention: string; paused: string }

export function JobList({ me, jobs, filter, choices, page, hasNext, pageHref }: {
  me: Me; jobs: Job[]; filter: JobFilter; choices: JobChoices; page: number; hasNext: boolean; pageHref: (n: number) => string;
}) {
  const filtered = Object.values(filter).some(Boolean);
  return (
    <>
      <h1>Jobs</h1>
      {me.canOperate ? <div class="actions"><a class="button" href="/jobs/new">New job</a></div> : null}
      <FilterForm action="/jobs" label="Filter jobs">
        <SelectField name="target" label="Target" value={filter.target} options={choices.targets} errors={{}} blank="Any" />
        <SelectField name="store" label="Store" value={filter.store} options={choices.stores} errors={{}} blank="Any" />
        <SelectField name="schedule" label="Schedule" value={filter.schedule} options={choices.schedules} errors={{}} blank="Any" />
        <SelectField name="retention" label="Retention" value={filter.retention} options={choices.retention} errors={{}} blank="Any" />
        <SelectField name="paused" label="Paused" value={filter.paused} errors={{}} blank="Either"
          options={[{ value: "t", label: "Paused" }, { value: "f", label: "Running on schedule" }]} />
      </FilterForm>
      {jobs.length === 0 ? (
        <Empty>{filtered ? "No job matches these filters." : `No jobs yet.${me.canOperate ? " A job backs up a target into a store on a schedule: create one with “New job”." : ""}`}</Empty>
      ) : (
        <DataTable columns={["Name", "Target", "Store", "Schedule", "Keep", "State", "Last run", "Next run", "Success (30 days)"]}>
          {jobs.map((j) => (
            <tr>
              <td><a href={`/jobs/${j.uuid}`}>{j.name}</a></td>
              <td>{j.target_name}</td>
              <td>{j.store_name}</td>
              <td>{j.schedule ?? <span class="muted">none (by hand)</span>}</td>
              <td>{duration(j.expiry)}</td>
              <td>{j.paused ? <span class="badge s-paused">paused</span> : <span class="badge s-valid">active</span>}</td>
              <td class="last-run"><LastRun run={j.last_run} details />
                {j.last_run?.status === "failed" ? <>
                  {j.last_run.error ? <div class="error-line">{j.last_run.error}</div> : null}
                  {me.canOperate ? <PostButton action={`/jobs/${j.uuid}/run`} csrf={me.csrf} label="Retry" kind="secondary" /> : null}
                </> : null}
              </td>
              <td>{j.next_run ? <Time at={j.next_run} /> : <span class="muted">{j.paused ? "none (paused)" : j.schedule === null ? "by hand" : "—"}</span>}</td>
              <td>{percent(j.window.success_rate)}{j.window.runs ? <span class="muted"> of {j.window.runs}</span> : null}</td>
            </tr>
          ))}
        </DataTable>
      )}
      <Pager page={page} hasNext={hasNext} href={pageHref} />
    </>
  );
}

/** The job's restore drill in one line: its last outcome and measured restore time (RTO). */
function drillLine(job: Job) {
  if (!job.drill) return "none";
  const l = job.last_drill;
  if (!l) return "set; never ran yet";
  const at = <Time at={new Date(l.finished_at * 1000).toISOString().slice(0, 19).replace("T", " ")} />;
  return l.ok ? <>last {at}: ok, restored in {((l.rto_ms ?? 0) / 1000).toFixed(1)} s (RTO); {l.verify}</> : <>last {at}: FAILED: {l.error}</>;
}

/** A job's last run: its status (linked to its task) and when it ended; with `details`, how long it took and what it stored. */
function LastRun({ run, details = false }: { run: Job["last_run"]; details?: boolean }) {
  if (!run) return <span class="muted">never</span>;
  const figures = [run.duration !== null ? `ran ${seconds(run.duration)}` : "", run.size !== null ? bytes(run.size) : ""].filter(Boolean).join(", ");
  return <><a href={`/tasks/${run.task_uuid}`}><Status status={run.status} /></a> <Time at={run.stopped_at} />
    {details && figures ? <span class="muted"> ({figures})</span> : null}</>;
}

export function JobDetail({ me, job, tasks, archives, names, history }: {
  me: Me; job: Job; tasks: Task[]; archives: Archive[]; names: Record<string, string>; history: HistoryRun[];
}) {
  const base = `/jobs/${job.uuid}`;
  return (
    <>
      <h1>Job {job.name}</h1>
      {me.canOperate ? (
        <div class="actions">
          <PostButton action={`${base}/run`} csrf={me.csrf} label="Run now" kind="primary" />
          <PostButton action={`${base}/${job.paused ? "unpause" : "pause"}`} csrf={me.csrf} label={job.paused ? "Unpause" : "Pause"} />
          <a class="button secondary" href={`${base}/edit`}>Edit</a>
          <a class="button danger" href={`${base}/delete`}>Delete</a>
        </div>
      ) : null}
      <div class="card">
        <dl class="props">
          <dt>Summary</dt><dd>{job.summary || <span class="muted">none</span>}</dd>
          <dt>State</dt><dd>{job.paused ? "paused: not run on its schedule" : "active"}</dd>
          <dt>Target</dt><dd><a href={`/targets/${job.target_uuid}`}>{job.target_name}</a> ({job.target_plugin})</dd>
          <dt>Store</dt><dd><a href={`/stores/${job.store_uuid}`}>{job.store_name}</a> ({job.store_plugin})</dd>
          <dt>Schedule</dt><dd>{job.schedule_name === null ? <span class="muted">none: runs only when asked</span> : <>{job.schedule_name}: {job.schedule}</>}</dd>
          <dt>Retention</dt><dd>{job.retention_name}: archives kept {duration(job.expiry)}</dd>
          <dt>Priority</dt><dd>{job.priority} <span class="muted">(0 runs first)</span></dd>
          <dt>Compression</dt><dd>{job.compression}</dd>
          <dt>Restore drill</dt><dd>{drillLine(job)}</dd>
          <dt>Last run</dt><dd><LastRun run={job.last_run} />{job.last_run?.duration != null ? <span class="muted"> (ran {seconds(job.last_run.duration)}{job.last_run.size != null ? `, ${bytes(job.last_run.size)}` : ""})</span> : null}</dd>
          {job.last_run?.error ? <><dt>Error</dt><dd class="field-error">{job.last_run.error}</dd></> : null}
          <dt>Next run</dt><dd>{job.next_run ? <Time at={job.next_run} /> : <span class="muted">{job.paused ? "none while paused" : job.schedule === null ? "when someone runs it" : "never"}</span>}</dd>
          <dt>Last {duration(job.window.seconds)}</dt><dd>{job.window.runs
            ? `${job.window.runs} runs, ${job.window.failures} failed (${percent(job.window.success_rate)} succeeded)` +
              (job.window.median_duration !== null ? `; median ${seconds(Math.round(job.window.median_duration))}, ${bytes(job.window.median_size)}` : "") +
              (job.window.size_trend_per_day !== null ? `; size ${job.window.size_trend_per_day < 0 ? "−" : "+"}${bytes(Math.abs(job.window.size_trend_per_day))} a day` : "")
            : <span class="muted">no runs</span>}</dd>
          <dt>Copies</dt><dd>{job.copies.length ? job.copies.map((c, i) => (
            <>{i ? "; " : ""}<a href={`/stores/${c.store}`}>store {c.store.slice(0, 8)}</a>, kept by <a href={`/retention/${c.retention}`}>policy {c.retention.slice(0, 8)}</a></>
          )) : <span class="muted">none: archives are in the job's store only</span>}</dd>
          <dt>Run window</dt><dd>{job.run_window || <span class="muted">any time</span>}</dd>
        </dl>
      </div>
      <h2>How its runs went</h2>
      {history.length === 0 ? <Empty>No finished run yet.</Empty> : <><OutcomeStrip runs={history} /><JobCharts runs={history} /></>}
      <h2>Recent tasks</h2>
      {tasks.length === 0 ? <Empty>This job has not run yet.</Empty> : <TaskTable tasks={tasks} names={names} />}
      <p><a href={`/tasks?job=${job.uuid}`}>All tasks of this job</a></p>
      <h2>Recent archives</h2>
      {archives.length === 0 ? <Empty>No archive from this job yet.</Empty> : <ArchiveTable archives={archives} />}
      <p><a href={`/archives?job=${job.uuid}`}>All archives of this job</a></p>
    </>
  );
}

/**
 * "New target…" beside a choice: submits the form as it is to /jobs/draft, which
 * keeps the values while the target is created and comes back with it chosen.
 */
function NewChoice({ kind, label }: { kind: "target" | "store" | "schedule" | "retention"; label: string }) {
  return <button type="submit" class="link" formaction="/jobs/draft" formnovalidate name="add" value={kind}>{label}</button>;
}

export function JobForm({ me, job, values, choices, errors }: { me: Me; job?: Job; values: Record<string, string>; choices: JobChoices; errors: Errors }) {
  const missing = (["targets", "stores", "retention"] as const).filter((k) => choices[k].length === 0);
  const pid = "f-paused";
  return (
    <>
      <h1>{job ? `Edit job ${job.name}` : "New job"}</h1>
      {missing.length ? (
        <div class="flash error" role="alert">
          A job needs {missing.map((m, i) => (
            <>{i ? (i === missing.length - 1 ? " and " : ", ") : ""}{m === "retention" ? "a retention policy" : `a ${m.slice(0, -1)}`}</>
          ))}: create {missing.length > 1 ? "them" : "it"} with the “New …” buttons below; the form keeps what you typed.
        </div>
      ) : null}
      <FormError errors={errors} />
      <form class="stack" method="post" action={job ? `/jobs/${job.uuid}` : "/jobs"}>
        <Csrf csrf={me.csrf} />
        <input type="hidden" name="back" value={job ? `/jobs/${job.uuid}/edit` : "/jobs/new"} />
        <TextField name="name" label="Name" value={values.name} errors={errors} required />
        <TextField name="summary" label="Summary" value={values.summary} errors={errors} help="Why this job exists: a ticket, an owner." />
        <div class="with-new">
          <SelectField name="target" label="Target (what to back up)" value={values.target} options={choices.targets} errors={errors} required blank="Choose…" />
          <NewChoice kind="target" label="New target…" />
        </div>
        <div class="with-new">
          <SelectField name="store" label="Store (where archives go)" value={values.store} options={choices.stores} errors={errors} required blank="Choose…" />
          <NewChoice kind="store" label="New store…" />
        </div>
        <div class="with-new">
          <SelectField name="schedule" label="Schedule" value={values.schedule} options={choices.schedules} errors={errors} blank="None: run by hand only"
            help="When it runs by itself. Without one, the job runs only when someone runs it (Run now, the CLI or the API)." />
          <NewChoice kind="schedule" label="New schedule…" />
        </div>
        <div class="with-new">
          <SelectField name="retention" label="Retention policy" value={values.retention} options={choices.retention} errors={errors} required blank="Choose…" />
          <NewChoice kind="retention" label="New policy…" />
        </div>
        <div class="inline">
          <TextField name="priority" label="Priority" type="number" value={values.priority ?? "50"} errors={errors}
            help="0 (runs first) to 100." attrs={{ min: 0, max: 100, step: 1 }} />
          <SelectField name="compression" label="Compression" value={values.compression || "zstd"} errors={errors}
            options={[{ value: "zstd", label: "zstd (default)" }, { value: "gzip", label: "gzip" }, { value: "none", label: "none" }]} />
        </div>
        <div class="inline">
          <SelectField name="copy_store" label="Copy each archive to (optional)" value={values.copy_store} options={choices.stores} errors={errors} blank="No copy" />
          <SelectField name="copy_retention" label="The copy kept by" value={values.copy_retention} options={choices.retention} errors={errors} blank="Choose…" />
        </div>
        <TextField name="window" label="Run window" value={values.window} errors={errors}
          help="HH:MM-HH:MM in the daemon's zone, e.g. 01:00-05:00: scheduled runs due outside it wait for its start. Empty: any time." />
        {job ? null : (
          <Field id={pid} label="Start paused" help="A paused job runs only when you run it by hand." error={errors.paused}>
            <input type="checkbox" name="paused" checked={values.paused === "on"} {...described(pid, "x", errors.paused)} />
          </Field>
        )}
        <div class="actions">
          <button type="submit">{job ? "Save" : "Create job"}</button>
          <a href={job ? `/jobs/${job.uuid}` : "/jobs"}>Cancel</a>
        </div>
      </form>
    </>
  );
}
