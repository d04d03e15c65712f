// Tasks: what runs, ran and failed; a running task's log follows live.
import type { Me, Task } from "./types.ts";
import { Empty, FilterForm, LogText, Pager, PostButton, SearchField, Status, Time } from "./components.tsx";
import { RestoreSubject, TaskTable, type ArchiveName } from "./tables.tsx";
import { elapsed, progressText } from "./format.ts";

export const TASK_STATUSES = ["pending", "running", "done", "failed", "canceled"] as const;

export function TaskList({ tasks, status, job, q = "", errors = {}, names, archives, page, hasNext, pageHref }: {
  tasks: Task[]; status: string; job: string; q?: string; errors?: Record<string, string>; names: Record<string, string>; archives?: Record<string, ArchiveName>;
  page: number; hasNext: boolean; pageHref: (n: number) => string;
}) {
  const tab = (s: string) => `/tasks${s || job || q ? "?" : ""}${new URLSearchParams({ ...(s ? { status: s } : {}), ...(job ? { job } : {}), ...(q ? { q } : {}) })}`;
  return (
    <>
      <h1>Tasks{job && names[job] ? ` of job ${names[job]}` : ""}</h1>
      <nav aria-label="Task status" class="actions">
        {["", ...TASK_STATUSES].map((s) => (
          <a href={tab(s)} class={`button ${s === status ? "" : "secondary"}`} aria-current={s === status ? "page" : undefined}>{s || "all"}</a>
        ))}
      </nav>
      <FilterForm action="/tasks" label="Search tasks">
        {status ? <input type="hidden" name="status" value={status} /> : null}
        {job ? <input type="hidden" name="job" value={job} /> : null}
        <SearchField action="/tasks" value={q} errors={errors} placeholder="job or target name, error" />
      </FilterForm>
      {errors._ ? <p class="field-error" role="alert">{errors._}</p> : null}
      {tasks.length === 0 ? <Empty>{q ? `No ${status ? `${status} ` : ""}tasks match “${q}”.` : status ? `No ${status} tasks.` : "No tasks yet: they appear when a job runs or an archive is restored."}</Empty>
        : <TaskTable tasks={tasks} names={names} archives={archives} />}
      <Pager page={page} hasNext={hasNext} href={pageHref} />
    </>
  );
}

/** What the archive a task names is to that task. */
const ARCHIVE_LINK: Record<string, string> = { backup: "the archive made", restore: "the archive restored", purge: "the archive purged" };
const TYPE_TITLE: Record<string, string> = { backup: "Backup", restore: "Restore", purge: "Purge" };

const live = (t: Task) => t.status === "pending" || t.status === "running";

/**
 * The line above a task: a failed task's cause, first thing on the page; and,
 * for a task just started from this UI ("Run now", "Restore"), its outcome as it
 * stands, updated by the poll, so the page never says "started" above a failure.
 */
export function TaskOutcome({ me, task, started }: { me: Me; task: Task; started: boolean }) {
  const what = TYPE_TITLE[task.type] ?? "Task";
  if (task.status === "failed") {
    return (
      <div class="flash error task-cause" role="alert">
        <strong>{what} failed:</strong> {task.error ?? "no reason was recorded (see the log below)."}
        {me.canOperate && task.type === "backup" && task.job_uuid ? (
          <div class="actions"><PostButton action={`/jobs/${task.job_uuid}/run`} csrf={me.csrf} label="Retry" kind="primary" /></div>
        ) : null}
      </div>
    );
  }
  if (!started) return null;
  const text: Record<string, string> = {
    pending: `${what} requested: waiting for a worker.`,
    running: `${what} running…`,
    done: task.type === "restore" ? "Restore finished." : `${what} finished.`,
    canceled: `${what} canceled.`,
  };
  return <div class={`flash ${task.status === "done" ? "ok" : task.status === "canceled" ? "note" : "pending"} task-outcome`} role="status">{text[task.status] ?? task.status}</div>;
}

/** The part of the task page that changes while it runs; it polls itself until the task ends. */
export function TaskLive({ me, task, started = false }: { me: Me; task: Task; started?: boolean }) {
  const polling = live(task);
  const url = `/tasks/${task.uuid}/live${started ? "?started=1" : ""}`;
  return (
    <div id="task-live" aria-live="polite"
      hx-get={polling ? url : undefined} hx-trigger={polling ? "every 1s" : undefined} hx-swap={polling ? "outerHTML" : undefined}>
      <TaskOutcome me={me} task={task} started={started} />
      <div class="card">
        <dl class="props">
          <dt>Status</dt><dd><Status status={task.status} /></dd>
          <dt>Requested</dt><dd><Time at={task.requested_at} /></dd>
          {task.due_at ? <><dt>Due</dt><dd><Time at={task.due_at} /> <span class="muted">(the scheduled time it was filed for)</span></dd></> : null}
          <dt>Started</dt><dd><Time at={task.started_at} /></dd>
          <dt>Stopped</dt><dd><Time at={task.stopped_at} /></dd>
          <dt>Took</dt><dd>{task.started_at ? elapsed(task.started_at, task.stopped_at) : "—"}</dd>
          {task.runner ? <><dt>Run by</dt><dd>{task.runner}</dd></> : null}
          {task.error ? <><dt>Error</dt><dd class="field-error">{task.error}</dd></> : null}
          {task.archive_uuid ? <><dt>Archive</dt><dd><a href={`/archives/${task.archive_uuid}`}>{ARCHIVE_LINK[task.type] ?? "the archive"}</a></dd></> : null}
        </dl>
        {task.progress ? <ProgressBar progress={task.progress} /> : null}
      </div>
      {me.canOperate && polling ? (
        // A step that asks first (it works without script): a running backup or restore is not undone by a click.
        <div class="actions"><a class="button danger" href={`/tasks/${task.uuid}/cancel`}>Cancel task…</a></div>
      ) : null}
      <h2>Log</h2>
      {task.log ? <p class="help" data-zone>Times in UTC.</p> : null}
      {task.log ? <pre class="log" tabindex={0} aria-label="Task log"><LogText log={task.log} /></pre> : <p class="muted">{task.status === "pending" ? "Waiting for a worker: the log starts when the task does." : polling ? "Starting…" : "Empty."}</p>}
    </div>
  );
}

/**
 * A running task's bar: a <progress> element (its value is what assistive
 * technology reads) and the same words as `--follow` prints. Without a total
 * (a first backup) the element is indeterminate and the words say the bytes and rate.
 */
export function ProgressBar({ progress }: { progress: NonNullable<Task["progress"]> }) {
  const text = progressText(progress);
  return (
    <div class="task-progress">
      <progress max={100} value={progress.percent ?? undefined} aria-label={`Progress: ${text}`} />
      <p class="progress" data-phase={progress.phase}>{text}{progress.estimate && progress.total !== null ? <span class="muted"> (estimated from the last archive)</span> : null}</p>
    </div>
  );
}

export function TaskDetail({ me, task, subject, started = false, restore }: {
  me: Me; task: Task; subject?: { href: string; label: string }; started?: boolean; restore?: { archive?: ArchiveName; target?: string };
}) {
  return (
    <>
      {/* A restore says what it puts where: the archive, and the target it overwrites. */}
      <h1>{restore ? <>Restore <RestoreSubject task={task} archive={restore.archive} target={restore.target} /></> : `${TYPE_TITLE[task.type] ?? task.type} task`}</h1>
      <p class="muted">Owned by {task.owner}{task.requested_by ? <> · requested by {task.requested_by}</> : null}{subject ? <> · <a href={subject.href}>{subject.label}</a></> : null} · <code>{task.uuid}</code></p>
      <TaskLive me={me} task={task} started={started} />
    </>
  );
}
