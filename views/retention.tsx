// Retention policies: how long archives are kept, in human units.
import type { Errors, Me, Retention } from "./types.ts";
import { Csrf, Empty, Field, FormError, Pager, SelectField, TextField, described } from "./components.tsx";
import { DURATION_UNITS, duration } from "./format.ts";

export function RetentionList({ me, rows, unused, page, hasNext, pageHref }: {
  me: Me; rows: Retention[]; unused: string; page: number; hasNext: boolean; pageHref: (n: number) => string;
}) {
  return (
    <>
      <h1>Retention policies</h1>
      <p class="muted">How long a job's archives are kept before they are purged from their store.</p>
      {me.canOperate ? <div class="actions"><a class="button" href="/retention/new">New policy</a></div> : null}
      <form class="filters" method="get" action="/retention" role="search" aria-label="Filter retention policies">
        <SelectField name="unused" label="In use" value={unused} errors={{}} blank="All"
          options={[{ value: "t", label: "Unused (safe to delete)" }, { value: "f", label: "Used by a job" }]} />
        <button type="submit" class="secondary">Filter</button>
      </form>
      {rows.length === 0 ? <Empty>{unused ? "No policy matches this filter." : `No retention policies yet.${me.canOperate ? " Create one with “New policy”." : ""}`}</Empty> : (
        <div class="table-wrap">
          <table>
            <thead><tr><th scope="col">Name</th><th scope="col">Keeps archives for</th><th scope="col">Summary</th>{me.canOperate ? <th scope="col"><span class="skip">Actions</span></th> : null}</tr></thead>
            <tbody>
              {rows.map((r) => (
                <tr>
                  <td>{r.name}</td>
                  <td>{duration(r.expires)}</td>
                  <td>{r.summary}</td>
                  {me.canOperate ? <td><a href={`/retention/${r.uuid}/edit`}>Edit</a> · <a href={`/retention/${r.uuid}/delete`}>Delete</a></td> : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
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
