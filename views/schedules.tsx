// Schedules, with a preview of the next runs as the timespec is typed.
import type { Errors, Me, Schedule } from "./types.ts";
import { Csrf, ReturnField, cancelHref, DataTable, Empty, FilterForm, FormError, Pager, TextField, Time, UnusedSelect, described } from "./components.tsx";

export function ScheduleList({ me, rows, unused, page, hasNext, pageHref }: {
  me: Me; rows: Schedule[]; unused: string; page: number; hasNext: boolean; pageHref: (n: number) => string;
}) {
  return (
    <>
      <h1>Schedules</h1>
      <p class="muted">When jobs run, in words (“daily at 4am”, “sundays 8am”, “every 4 hours from 12:15”) or as a cron expression.</p>
      {me.canOperate ? <div class="actions"><a class="button" href="/schedules/new">New schedule</a></div> : null}
      <FilterForm action="/schedules" label="Filter schedules"><UnusedSelect value={unused} /></FilterForm>
      {rows.length === 0 ? <Empty>{unused ? "No schedule matches this filter." : `No schedules yet.${me.canOperate ? " Create one with “New schedule”." : ""}`}</Empty> : (
        <DataTable columns={["Name", "When", "Next run", "Summary", me.canOperate ? <span class="skip">Actions</span> : null]}>
          {rows.map((r) => (
            <tr id={`schedule-${r.uuid}`}>
              <td>{r.name}</td>
              <td>{r.when}{r.canonical && r.canonical !== r.when ? <div class="muted">{r.canonical}</div> : null}</td>
              <td>{r.next_run ? <Time at={r.next_run} /> : <span class="muted">{r.canonical ? "never again" : "cannot be read"}</span>}</td>
              <td>{r.summary}</td>
              {me.canOperate ? <td><a href={`/schedules/${r.uuid}/edit`}>Edit</a> · <a href={`/schedules/${r.uuid}/delete`}>Delete</a></td> : null}
            </tr>
          ))}
        </DataTable>
      )}
      <Pager page={page} hasNext={hasNext} href={pageHref} />
    </>
  );
}

/** The next runs of what is typed, or why it cannot be read; htmx swaps it in as the user types. */
export function TimespecPreview({ canonical, zone, next, error }: { canonical?: string; zone?: string; next?: string[]; error?: string }) {
  return (
    <div id="when-preview" class="preview" aria-live="polite">
      {error ? <span class="field-error" id="f-when-error">{error}</span>
        : next ? (
          <>
            <span class="help">Reads as “{canonical}”{zone ? ` (${zone})` : ""}. Next runs:</span>
            <ol>{next.map((t) => <li><Time at={t} /></li>)}</ol>
          </>
        ) : <span class="help">Type a schedule to see when it runs next.</span>}
    </div>
  );
}

export function ScheduleForm({ me, row, values, errors }: { me: Me; row?: Schedule; values: Record<string, string>; errors: Errors }) {
  const id = "f-when";
  const help = "Like “daily at 4am”, “weekly on sundays at 2am”, “hourly at :15”, “3rd tuesday at 2:05am”, or cron (“0 4 * * *”); add “in Europe/Berlin” for a zone.";
  return (
    <>
      <h1>{row ? `Edit schedule ${row.name}` : "New schedule"}</h1>
      <FormError errors={errors} />
      <form class="stack" method="post" action={row ? `/schedules/${row.uuid}` : "/schedules"}>
        <Csrf csrf={me.csrf} />
        <ReturnField values={values} />
        <TextField name="name" label="Name" value={values.name} errors={errors} required />
        <TextField name="summary" label="Summary" value={values.summary} errors={errors} />
        <div class="field">
          <label for={id}>When<span class="req" aria-hidden="true"> *</span></label>
          <input type="text" name="when" value={values.when} required autocomplete="off"
            hx-get="/schedules/preview" hx-trigger="input changed delay:300ms, load" hx-target="#when-preview" hx-swap="outerHTML" hx-sync="this:replace"
            {...described(id, help, errors.when)} aria-describedby={`${id}-help when-preview`} />
          <span class="help" id={`${id}-help`}>{help}</span>
          {errors.when ? <span class="field-error" id={`${id}-error`} role="alert">{errors.when}</span> : null}
          <TimespecPreview />
        </div>
        <div class="actions">
          <button type="submit">{row ? "Save" : "Create schedule"}</button>
          <a href={cancelHref(values, "/schedules")}>Cancel</a>
        </div>
      </form>
    </>
  );
}
