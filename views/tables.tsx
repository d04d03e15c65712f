// Tables of tasks and archives, shown on several pages.
import type { Archive, Task } from "./types.ts";
import { DataTable, Status, Time } from "./components.tsx";
import { bytes, elapsed, lastProgress, progressText } from "./format.ts";

export function TaskTable({ tasks, names = {} }: { tasks: Task[]; names?: Record<string, string> }) {
  return (
    <DataTable columns={["Task", "Status", "Of", "Owner", "Requested", "Took"]}>
      {tasks.map((t) => {
        const subject = t.job_uuid ? names[t.job_uuid] ?? "a job" : t.target_uuid ? names[t.target_uuid] ?? "a target" : "";
        // The live bar's words when this daemon runs it; else the last progress line of the log.
        const progress = t.status !== "running" ? undefined : t.progress ? progressText(t.progress) : lastProgress(t.log);
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
    </DataTable>
  );
}

export function ArchiveTable({ archives }: { archives: Archive[] }) {
  return (
    <DataTable columns={["Taken", "Target", "Store", "Size", "Status", "Expires", "Notes"]}>
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
    </DataTable>
  );
}
