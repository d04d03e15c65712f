// Tables of tasks and archives, shown on several pages.
import type { Archive, Task } from "./types.ts";
import { Status, Time } from "./components.tsx";
import { bytes, elapsed, lastProgress } from "./format.ts";

export function TaskTable({ tasks, names = {} }: { tasks: Task[]; names?: Record<string, string> }) {
  return (
    <div class="table-wrap">
      <table>
        <thead><tr><th scope="col">Task</th><th scope="col">Status</th><th scope="col">Of</th><th scope="col">Owner</th><th scope="col">Requested</th><th scope="col">Took</th></tr></thead>
        <tbody>
          {tasks.map((t) => {
            const subject = t.job_uuid ? names[t.job_uuid] ?? "a job" : t.target_uuid ? names[t.target_uuid] ?? "a target" : "";
            const progress = t.status === "running" ? lastProgress(t.log) : undefined;
            return (
              <tr>
                <td><a href={`/tasks/${t.uuid}`}>{t.type}</a></td>
                <td><Status status={t.status} />{progress ? <div class="progress">{progress}</div> : null}</td>
                <td>{t.job_uuid ? <a href={`/jobs/${t.job_uuid}`}>{subject}</a> : t.target_uuid ? <a href={`/targets/${t.target_uuid}`}>{subject}</a> : null}</td>
                <td>{t.owner}</td>
                <td><Time at={t.requested_at} /></td>
                <td>{t.started_at ? elapsed(t.started_at, t.stopped_at) : <span class="muted">not started</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function ArchiveTable({ archives }: { archives: Archive[] }) {
  return (
    <div class="table-wrap">
      <table>
        <thead><tr><th scope="col">Taken</th><th scope="col">Target</th><th scope="col">Store</th><th scope="col">Size</th><th scope="col">Status</th><th scope="col">Expires</th><th scope="col">Notes</th></tr></thead>
        <tbody>
          {archives.map((a) => (
            <tr>
              <td><a href={`/archives/${a.uuid}`} aria-label={`Archive taken ${a.taken_at} UTC`}><Time at={a.taken_at} /></a></td>
              <td>{a.target_name ?? <span class="muted">deleted</span>}</td>
              <td>{a.store_name ?? <span class="muted">deleted</span>}</td>
              <td>{bytes(a.size)}</td>
              <td><Status status={a.status} /></td>
              <td><Time at={a.expires_at} /></td>
              <td>{a.notes}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
