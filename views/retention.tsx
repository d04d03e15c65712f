// Retention policies: how long archives are kept, in human units.
import type { Errors, Me, Retention } from "./types.ts";
import { Csrf, DataTable, Empty, Field, FilterForm, FormError, Pager, TextField, UnusedSelect, described } from "./components.tsx";
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
        <DataTable columns={["Name", "Keeps archives for", "Summary", me.canOperate ? <span class="skip">Actions</span> : null]}>
          {rows.map((r) => (
            <tr>
              <td>{r.name}</td>
              <td>{duration(r.expires)}</td>
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

export function RetentionForm({ me, row, values, errors }: { me: Me; row?: Retention; values: Record<string, string>; errors: Errors }) {
  const id = "f-amount";
  const help = "At least 1 hour.";
  const err = errors.expires ?? errors.amount;
  return (
    <>
      <h1>{row ? `Edit retention policy ${row.name}` : "New retention policy"}</h1>
      <FormError errors={errors} />
      <form class="stack" method="post" action={row ? `/retention/${row.uuid}` : "/retention"}>
        <Csrf csrf={me.csrf} />
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
        <div class="actions">
          <button type="submit">{row ? "Save" : "Create policy"}</button>
          <a href="/retention">Cancel</a>
        </div>
      </form>
    </>
  );
}
