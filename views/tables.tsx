// Tables of tasks and archives, shown on several pages.
import type { Archive, Task } from "./types.ts";
import { DataTable, Status, Time } from "./components.tsx";
import { bytes, elapsed, lastProgress, progressText } from "./format.ts";

/** The archive a restore reads, as its task names it: the target it was taken from and when. */
export interface ArchiveName { target: string | null; taken_at: string }

/** "restore of <archive> into <target>": what a restore task is, in the list and on its page. */
export function RestoreSubject({ task, archive, target }: { task: Task; archive?: ArchiveName; target?: string }) {
  return (
    <>
      of {task.archive_uuid
        ? <a href={`/archives/${task.archive_uuid}`}>{archive ? <>{archive.target ?? "a deleted target"}, taken <Time at={archive.taken_at} /></> : "an archive"}</a>
        : "an archive"}
      {" "}into {task.target_uuid ? <a href={`/targets/${task.target_uuid}`}>{target ?? "a deleted target"}</a> : "its target"}
    </>
  );
}

export function TaskTable({ tasks, names = {}, archives = {} }: { tasks: Task[]; names?: Record<string, string>; archives?: Record<string, ArchiveName> }) {
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
            <td>{t.type === "restore"
              ? <RestoreSubject task={t} archive={t.archive_uuid ? archives[t.archive_uuid] : undefined} target={t.target_uuid ? names[t.target_uuid] : undefined} />
              : t.job_uuid ? <a href={`/jobs/${t.job_uuid}`}>{subject}</a> : t.target_uuid ? <a href={`/targets/${t.target_uuid}`}>{subject}</a> : null}</td>
            <td>{t.owner}</td>
            <td><Time at={t.requested_at} /></td>
            <td>{t.started_at ? elapsed(t.started_at, t.stopped_at) : <span class="muted">not started</span>}</td>
          </tr>
        );
      })}
    </DataTable>
  );
}

/** `restore`: each valid archive's row links to its restore (operators; not gpbackup's, which are restored by gpbackup). */
export function ArchiveTable({ archives, restore = false }: { archives: Archive[]; restore?: boolean }) {
  return (
    <DataTable columns={["Taken", "Target", "Store", "Size", "Status", "Expires", "Notes", restore ? <span class="skip">Actions</span> : null]}>
      {archives.map((a) => (
        <tr>
          <td><a href={`/archives/${a.uuid}`} aria-label={`Archive taken ${a.taken_at} UTC`}><Time at={a.taken_at} /></a></td>
          <td>{a.target_name ?? <span class="muted">deleted</span>}</td>
          <td>{a.store_name ?? <span class="muted">deleted</span>}</td>
          <td>{bytes(a.size)}</td>
          <td><Status status={a.status} /></td>
          <td><Time at={a.expires_at} /></td>
          <td>{a.notes}</td>
          {restore ? (
            <td class="row-actions">{a.status === "valid" && a.target_plugin !== "gpbackup"
              ? <a class="button secondary small" href={`/archives/${a.uuid}/restore`} aria-label={`Restore the archive of ${a.target_name ?? "a deleted target"} taken ${a.taken_at} UTC`}>Restore…</a>
              : null}</td>
          ) : null}
        </tr>
      ))}
    </DataTable>
  );
}
