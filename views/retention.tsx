// Retention policies: how long archives are kept, in human units.
import type { Errors, Me, Retention, RetentionPreview as Preview } from "./types.ts";
import { Csrf, ReturnField, cancelHref, DataTable, Empty, Field, FilterForm, FormError, Pager, TextField, Time, UnusedSelect, described } from "./components.tsx";
import { DURATION_UNITS, duration } from "./format.ts";

export function RetentionList({ me, rows, unused, page, hasNext, pageHref }: {
  me: Me; rows: Retention[]; unused: string; page: number; hasNext: boolean; pageHref: (n: number) => string;
}) {
  return (
    <>
      <h1>Retention policies</h1>
      <p class="muted">How long a job's archives are kept before they are purged from their store.</p>
      {me.canOperate ? <div class="actions"><a class="button" href="/retention/new">New policy</a></div> : null}
      <FilterForm action="/retention" label="Filter retention policies"><UnusedSelect value={unused} /></FilterForm>
      {rows.length === 0 ? <Empty>{unused ? "No policy matches this filter." : `No retention policies yet.${me.canOperate ? " Create one with “New policy”." : ""}`}</Empty> : (
        <DataTable columns={["Name", "Keeps archives for", "And beyond, by rule", "Summary", me.canOperate ? <span class="skip">Actions</span> : null]}>
          {rows.map((r) => (
            <tr>
              <td>{r.name}</td>
              <td>{duration(r.expires)}</td>
              <td>{rulesText(r)}</td>
              <td>{r.summary}</td>
              {me.canOperate ? <td><a href={`/retention/${r.uuid}/edit`}>Edit</a> · <a href={`/retention/${r.uuid}/delete`}>Delete</a></td> : null}
            </tr>
          ))}
        </DataTable>
      )}
      <Pager page={page} hasNext={hasNext} href={pageHref} />
    </>
  );
}

/** The GFS rules of the policy form: field, label, and what a count means. */
export const RULE_FIELDS = [
  { name: "keep_last", label: "Last", help: "the newest N archives" },
  { name: "keep_hourly", label: "Hourly", help: "the newest archive of each of the last N hours that have one" },
  { name: "keep_daily", label: "Daily", help: "… of the last N days" },
  { name: "keep_weekly", label: "Weekly", help: "… of the last N weeks (Monday to Sunday)" },
  { name: "keep_monthly", label: "Monthly", help: "… of the last N months" },
  { name: "keep_yearly", label: "Yearly", help: "… of the last N years" },
] as const;

/** "last 3, daily 7, within 30d", or "—" for a policy of expiry alone. */
export function rulesText(r: Retention): string {
  const parts = RULE_FIELDS.filter((f) => r[f.name] > 0).map((f) => `${f.label.toLowerCase()} ${r[f.name]}`);
  if (r.keep_within > 0) parts.push(`within ${withinText(r.keep_within)}`);
  return parts.length ? parts.join(", ") : "—";
}

/** keep_within seconds as the form shows them: 30d, 12h, or seconds. */
export function withinText(seconds: number): string {
  if (!seconds) return "";
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  return String(seconds);
}

const REASONS: Record<string, string> = {
  pinned: "pinned", not_expired: "not expired yet", newest: "newest", keep_last: "last", keep_hourly: "hourly", keep_daily: "daily",
  keep_weekly: "weekly", keep_monthly: "monthly", keep_yearly: "yearly", keep_within: "within",
};
const SHOWN = 200;

/**
 * What the rules typed so far keep and expire among the chosen job's archives;
 * htmx asks it again whenever the form changes, and swaps the whole box.
 */
export function RetentionPreview({ policy, preview, error, initial }: { policy?: string; preview?: Preview; error?: string; initial?: boolean }) {
  return (
    <div id="retention-preview" class="preview" aria-live="polite"
      hx-get={`/retention/preview${policy ? `?policy=${policy}` : ""}`} hx-include="closest form"
      // Only the form's first box asks on load: a box swapped in must not ask again by itself.
      hx-trigger={`${initial ? "load, " : ""}input changed delay:400ms from:closest form, change from:closest form`} hx-target="this" hx-swap="outerHTML" hx-sync="this:replace">
      {error ? <span class="field-error">{error}</span>
        : !preview ? <span class="help">Choose a job to see which of its archives these rules keep.</span>
        : (
          <>
            <p class={preview.force_needed ? "field-error" : "help"}>
              Keeps {preview.keep}, expires {preview.expire} of {preview.keep + preview.expire} archives of {preview.job_name} now
              {preview.newly_expired ? ` (${preview.newly_expired} of them kept by the job’s policy today)` : ""}; periods in {preview.zone}.
              {preview.force_needed ? ` That is more than ${Math.round(preview.max_purge_share * 100)}% at once: saving needs “Confirm”.` : ""}
            </p>
            {preview.archives.length ? (
              <DataTable columns={["Taken", "Action", "Kept by"]}>
                {preview.archives.slice(0, SHOWN).map((a) => (
                  <tr class={a.action}>
                    <td><Time at={a.taken_at} /></td>
                    <td>{a.action}</td>
                    <td>{a.kept_by.map((k) => REASONS[k] ?? k).join(", ")}</td>
                  </tr>
                ))}
              </DataTable>
            ) : null}
            {preview.archives.length > SHOWN ? <p class="help">… and {preview.archives.length - SHOWN} older archives.</p> : null}
          </>
        )}
    </div>
  );
}

export function RetentionForm({ me, row, values, errors, jobs }: {
  me: Me; row?: Retention; values: Record<string, string>; errors: Errors; jobs: { uuid: string; name: string }[];
}) {
  const id = "f-amount";
  const help = "At least 1 hour.";
  const err = errors.expires ?? errors.amount;
  return (
    <>
      <h1>{row ? `Edit retention policy ${row.name}` : "New retention policy"}</h1>
      <FormError errors={errors} />
      <form class="stack" method="post" action={row ? `/retention/${row.uuid}` : "/retention"}>
        <Csrf csrf={me.csrf} />
        <ReturnField values={values} />
        <TextField name="name" label="Name" value={values.name} errors={errors} required />
        <TextField name="summary" label="Summary" value={values.summary} errors={errors} />
        <Field id={id} label="Keep archives for" help={help} error={err} required>
          <div class="inline">
            <input type="number" name="amount" value={values.amount} min="1" step="1" required {...described(id, help, err)} />
            <select name="unit" aria-label="Unit">
              {[...DURATION_UNITS].reverse().map((u) => <option value={u.unit} selected={u.unit === (values.unit || "days")}>{u.unit}</option>)}
            </select>
          </div>
        </Field>
        <fieldset>
          <legend>Keep longer, by rule (optional)</legend>
          <p class="help">Past its expiry an archive is still kept while any rule keeps it: the newest archive of each period counts, and periods without archives take no slot (see docs/retention.md). 0 or empty: no such rule.</p>
          {RULE_FIELDS.map((f) => (
            <TextField name={f.name} label={f.label} value={values[f.name]} errors={errors} help={f.help} type="number" attrs={{ min: 0, step: 1, max: 100000 }} />
          ))}
          <TextField name="keep_within" label="Within" value={values.keep_within} errors={errors} placeholder="30d"
            help="every archive taken this long before the newest one: 12h, 30d, 8w, or seconds" />
        </fieldset>
        <fieldset>
          <legend>Preview</legend>
          <div class="field">
            <label for="f-preview-job">On the archives of job</label>
            <select name="job" id="f-preview-job">
              <option value="">—</option>
              {jobs.map((j) => <option value={j.uuid} selected={j.uuid === values.job}>{j.name}</option>)}
            </select>
          </div>
          <RetentionPreview policy={row?.uuid} initial />
          {row ? (
            <label class="check"><input type="checkbox" name="force" value="t" checked={values.force === "t"} /> Confirm: purge more than the safe share of a job's archives at once</label>
          ) : null}
        </fieldset>
        <div class="actions">
          <button type="submit">{row ? "Save" : "Create policy"}</button>
          <a href={cancelHref(values, "/retention")}>Cancel</a>
        </div>
      </form>
    </>
  );
}
