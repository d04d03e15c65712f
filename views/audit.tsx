// The Audit page (admins): who changed what, when and from where, newest first.
import type { Errors } from "./types.ts";
import { DataTable, Empty, FilterForm, FormError, Pager, SelectField, TextField, Time } from "./components.tsx";

/** An entry as GET /v1/audit answers it. */
export interface AuditEntry {
  uuid: string; at: string; user: string; user_uuid: string | null; provider: string | null; token: string | null;
  address: string; action: string; object_type: string; object_uuid: string | null; object_name: string | null;
  changes: Record<string, { from?: unknown; to?: unknown }>;
}

export interface AuditFilter { user: string; type: string; object: string; action: string; from: string; to: string }

export const AUDIT_TYPES = [
  "target", "store", "schedule", "retention policy", "job", "archive", "task", "drill", "notification channel",
  "auth provider", "user", "token", "session", "agent",
];
export const AUDIT_ACTIONS = [
  "create", "update", "delete", "run", "restore", "cancel", "pause", "unpause", "sign-in", "sign-in-failed", "forget-key",
];

/** Where an entry's object is shown in the UI, when it has a page. */
const OBJECT_PAGE: Record<string, string> = {
  target: "/targets", store: "/stores", schedule: "/schedules", "retention policy": "/retention", job: "/jobs",
  archive: "/archives", task: "/tasks",
};

const text = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

/** A value as the cell shows it: an empty one says so, rather than nothing at all. */
function Value({ v }: { v: unknown }) {
  return v === "" || v === null ? <span class="muted">(empty)</span> : <>{text(v)}</>;
}

function Changes({ changes }: { changes: AuditEntry["changes"] }) {
  const entries = Object.entries(changes);
  if (!entries.length) return <span class="muted">—</span>;
  return (
    <ul class="changes">
      {entries.map(([k, c]) => (
        <li>
          <code>{k}</code>{": "}
          {"from" in c ? <del><Value v={c.from} /></del> : null}
          {"from" in c && "to" in c ? " → " : null}
          {"to" in c ? <ins><Value v={c.to} /></ins> : null}
        </li>
      ))}
    </ul>
  );
}

function ObjectCell({ e }: { e: AuditEntry }) {
  const base = OBJECT_PAGE[e.object_type];
  const label = e.object_name ?? e.object_uuid ?? "";
  return (
    <>
      <span class="muted">{e.object_type}</span>{label ? " " : null}
      {/* Deleted objects have no page any more; a link would answer 404. */}
      {base && e.object_uuid && e.action !== "delete" ? <a href={`${base}/${e.object_uuid}`}>{label}</a> : label}
    </>
  );
}

export function AuditPage({ entries, filter, errors, page, hasNext, pageHref }: {
  entries: AuditEntry[]; filter: AuditFilter; errors: Errors; page: number; hasNext: boolean; pageHref: (n: number) => string;
}) {
  const filtered = Object.values(filter).some(Boolean);
  return (
    <>
      <h1>Audit</h1>
      <p class="muted">Every change made through the API, this UI or the CLI, every sign-in and failed sign-in, newest first. Secret values show as ********.</p>
      <FilterForm action="/audit" label="Filter the audit trail">
        <TextField name="user" label="User" value={filter.user} errors={errors} placeholder="name or UUID" />
        <SelectField name="action" label="Action" value={filter.action} errors={errors} blank="Any"
          options={AUDIT_ACTIONS.map((a) => ({ value: a, label: a }))} />
        <SelectField name="type" label="Object type" value={filter.type} errors={errors} blank="Any"
          options={AUDIT_TYPES.map((t) => ({ value: t, label: t }))} />
        <TextField name="object" label="Object UUID" value={filter.object} errors={errors} />
        <TextField name="from" label="From (UTC)" type="date" value={filter.from} errors={errors} />
        <TextField name="to" label="To (UTC, inclusive)" type="date" value={filter.to} errors={errors} />
      </FilterForm>
      <FormError errors={errors} />
      {entries.length === 0 ? <Empty>{filtered ? "No entry matches these filters." : "No entries yet."}</Empty> : (
        // On a phone each entry is a card (shield.css): the cells say what they are.
        <div class="audit-list"><DataTable columns={["When", "Who", "From", "Action", "Object", "Changes"]}>
          {entries.map((e) => (
            <tr>
              <td data-label="When"><Time at={e.at} /></td>
              <td data-label="Who">{e.user}{e.provider && e.provider !== "local" ? <span class="muted"> ({e.provider})</span> : null}
                {e.token ? <div class="muted">token {e.token}</div> : null}</td>
              <td data-label="From"><code>{e.address}</code></td>
              <td data-label="Action"><span class={`badge a-${e.action}`}>{e.action}</span></td>
              <td data-label="Object"><ObjectCell e={e} /></td>
              <td data-label="Changes"><Changes changes={e.changes} /></td>
            </tr>
          ))}
        </DataTable></div>
      )}
      <Pager page={page} hasNext={hasNext} href={pageHref} />
    </>
  );
}
