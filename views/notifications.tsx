// Notification channels (admins only): where Shield tells of failed backups,
// drills and the rest, with a "send a test" button and the deliveries owed.
import type { Errors, Me } from "./types.ts";
import { Csrf, DataTable, Empty, Field, FormError, PostButton, SelectField, TextArea, TextField, Time } from "./components.tsx";

export interface Channel { uuid: string; name: string; kind: string; settings: Record<string, unknown>; events: string[]; jobs: string[] }
export interface Delivery {
  uuid: string; channel_uuid: string; event: string; task_uuid: string | null; status: string; attempts: number;
  next_at: number | null; last_error: string | null; created_at: number; message: { title?: string };
}

export const KINDS = [
  { value: "email", label: "Email (SMTP)" }, { value: "webhook", label: "Webhook (signed JSON)" }, { value: "slack", label: "Slack" },
  { value: "discord", label: "Discord" }, { value: "mattermost", label: "Mattermost" }, { value: "teams", label: "Microsoft Teams" },
  { value: "ping", label: "Ping URL (Healthchecks-style)" },
];

export const EVENTS: { value: string; label: string }[] = [
  { value: "backup.failed", label: "Backup failed" }, { value: "backup.succeeded", label: "Backup succeeded" },
  { value: "backup.started", label: "Backup started (ping channels)" }, { value: "restore.finished", label: "Restore finished" },
  { value: "purge.failed", label: "Purge failed" }, { value: "drill.failed", label: "Restore drill failed" },
  { value: "drill.succeeded", label: "Restore drill succeeded" }, { value: "job.overdue", label: "Job overdue for its schedule" },
  { value: "agent.unreachable", label: "Agent unreachable" }, { value: "store.nearly_full", label: "Store nearly full" },
];

const SETTINGS_HELP = "A JSON object. email: host, port, tls (tls, starttls or none), user, password, from, to (a list); " +
  "webhook: url, secret (signs the body: X-Shield-Signature: sha256=…); slack, discord, mattermost, teams, ping: url. " +
  "Secrets show as ******** and are kept when left so.";

/** Epoch seconds as a <Time> (the reader's zone, UTC on hover). */
const when = (s: number | null) => (s === null ? null : <Time at={new Date(s * 1000).toISOString().slice(0, 19).replace("T", " ")} />);

export function ChannelList({ me, rows, deliveries, names }: { me: Me; rows: Channel[]; deliveries: Delivery[]; names: Record<string, string> }) {
  return (
    <>
      <h1>Notifications</h1>
      <p class="muted">Channels that tell of task outcomes. Delivery never holds a task up; what a receiver did not take is tried again.</p>
      <div class="actions"><a class="button" href="/notifications/new">New channel</a></div>
      {rows.length === 0 ? <Empty>No notification channels yet. Create one with “New channel”.</Empty> : (
        <DataTable columns={["Name", "Kind", "Events", "Jobs", <span class="skip">Actions</span>]}>
          {rows.map((r) => (
            <tr>
              <td>{r.name}</td>
              <td>{KINDS.find((k) => k.value === r.kind)?.label ?? r.kind}</td>
              <td>{r.events.join(", ")}</td>
              <td>{r.jobs.length ? r.jobs.map((j) => names[j] ?? j).join(", ") : "every job"}</td>
              <td>
                <PostButton action={`/notifications/${r.uuid}/test`} csrf={me.csrf} label="Send a test" />
                {" "}<a href={`/notifications/${r.uuid}/edit`}>Edit</a> · <a href={`/notifications/${r.uuid}/delete`}>Delete</a>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <h2>Recent deliveries</h2>
      {deliveries.length === 0 ? <Empty>Nothing sent yet.</Empty> : (
        <DataTable columns={["Created", "Channel", "Message", "Status", "Attempts", "Last error"]}>
          {deliveries.map((d) => (
            <tr>
              <td>{when(d.created_at)}</td>
              <td>{rows.find((r) => r.uuid === d.channel_uuid)?.name ?? d.channel_uuid}</td>
              <td>{d.task_uuid ? <a href={`/tasks/${d.task_uuid}`}>{d.message.title ?? d.event}</a> : (d.message.title ?? d.event)}</td>
              <td>{d.status}{d.status === "pending" && d.next_at ? <> (next {when(d.next_at)})</> : ""}</td>
              <td>{d.attempts}</td>
              <td>{d.last_error ?? ""}</td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  );
}

export function ChannelForm({ me, row, values, events, jobs, allJobs, errors }: {
  me: Me; row?: Channel; values: Record<string, string>; events: string[]; jobs: string[];
  allJobs: { uuid: string; name: string }[]; errors: Errors;
}) {
  return (
    <>
      <h1>{row ? `Edit notification channel ${row.name}` : "New notification channel"}</h1>
      <FormError errors={errors} />
      <form class="stack" method="post" action={row ? `/notifications/${row.uuid}` : "/notifications"}>
        <Csrf csrf={me.csrf} />
        <TextField name="name" label="Name" value={values.name} errors={errors} required />
        {row ? <p>Kind: {KINDS.find((k) => k.value === row.kind)?.label ?? row.kind}</p>
          : <SelectField name="kind" label="Kind" value={values.kind} options={KINDS} errors={errors} required />}
        <TextArea name="settings" label="Settings" value={values.settings} errors={errors} help={SETTINGS_HELP} required />
        <Field id="f-events" label="Tell of" help="Failures only by default." error={errors.events}>
          <div id="f-events">
            {EVENTS.map((e) => (
              <label class="check"><input type="checkbox" name={`event:${e.value}`} checked={events.includes(e.value)} /> {e.label}</label>
            ))}
          </div>
        </Field>
        <Field id="f-jobs" label="Jobs" help="None ticked: every job." error={errors.jobs}>
          <div id="f-jobs">
            {allJobs.length === 0 ? <span class="muted">No jobs yet.</span> : allJobs.map((j) => (
              <label class="check"><input type="checkbox" name={`job:${j.uuid}`} checked={jobs.includes(j.uuid)} /> {j.name}</label>
            ))}
          </div>
        </Field>
        <div class="actions">
          <button type="submit">{row ? "Save" : "Create channel"}</button>
          <a href="/notifications">Cancel</a>
        </div>
      </form>
    </>
  );
}
