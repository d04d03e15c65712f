// The pieces every page is made of: times, status badges, form fields with their
// errors, empty states, pagination, small POST forms that carry the CSRF token.
import type { Child } from "hono/jsx";
import type { Errors } from "./types.ts";
import { isoUtc } from "./format.ts";

/** An API time: in the reader's zone once shield.js has run, the absolute UTC time on hover. */
export function Time({ at }: { at: string | null | undefined }) {
  if (!at) return <span class="muted">—</span>;
  return <time datetime={isoUtc(at)} title={`${at} UTC`}>{at} UTC</time>;
}

export function Status({ status }: { status: string }) {
  return <span class={`badge s-${status}`}>{status}</span>;
}

/** A table in its scrolling wrapper; `columns` are the header cells (null: a column not shown), `children` the rows. */
export function DataTable({ columns, children }: { columns: (Child | null)[]; children: Child }) {
  return (
    <div class="table-wrap">
      <table>
        <thead><tr>{columns.filter((c) => c !== null).map((c) => <th scope="col">{c}</th>)}</tr></thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

/** The GET form of a list's filters, with its submit button. */
export function FilterForm({ action, label, children }: { action: string; label: string; children: Child }) {
  return (
    <form class="filters" method="get" action={action} role="search" aria-label={label}>
      {children}
      <button type="submit" class="secondary">Filter</button>
    </form>
  );
}

/** The "in use" filter of the definition lists (targets, stores, schedules, retention). */
export function UnusedSelect({ value }: { value: string }) {
  return (
    <SelectField name="unused" label="In use" value={value} errors={{}} blank="All"
      options={[{ value: "t", label: "Unused (safe to delete)" }, { value: "f", label: "Used by a job" }]} />
  );
}

export function Empty({ children }: { children: Child }) {
  return <p class="empty">{children}</p>;
}

export function FlashBox({ kind, text }: { kind: "ok" | "error"; text: string }) {
  return <div class={`flash ${kind}`} role={kind === "error" ? "alert" : "status"}>{text}</div>;
}

/** Previous/next links; `href(n)` keeps the page's filters. */
export function Pager({ page, hasNext, href }: { page: number; hasNext: boolean; href: (page: number) => string }) {
  if (page <= 1 && !hasNext) return null;
  return (
    <nav class="pager" aria-label="Pages">
      {page > 1 ? <a href={href(page - 1)} rel="prev">← Previous</a> : null}
      <span class="muted">Page {page}</span>
      {hasNext ? <a href={href(page + 1)} rel="next">Next →</a> : null}
    </nav>
  );
}

export function Csrf({ csrf }: { csrf: string }) {
  return <input type="hidden" name="_csrf" value={csrf} />;
}

/** A one-button form: run, pause, cancel. */
export function PostButton({ action, csrf, label, kind = "secondary", fields = {} }: {
  action: string; csrf: string; label: string; kind?: "primary" | "secondary" | "danger"; fields?: Record<string, string>;
}) {
  return (
    <form method="post" action={action}>
      <Csrf csrf={csrf} />
      {Object.entries(fields).map(([k, v]) => <input type="hidden" name={k} value={v} />)}
      <button type="submit" class={kind === "primary" ? "" : kind}>{label}</button>
    </form>
  );
}

/** A form field: label, the control, help and the error the API gave for it, tied together for screen readers. */
export function Field({ id, label, help, error, required, children }: {
  id: string; label: string; help?: string; error?: string; required?: boolean; children: Child;
}) {
  return (
    <div class="field">
      <label for={id}>{label}{required ? <span class="req" aria-hidden="true"> *</span> : null}</label>
      {children}
      {help ? <span class="help" id={`${id}-help`}>{help}</span> : null}
      {error ? <span class="field-error" id={`${id}-error`} role="alert">{error}</span> : null}
    </div>
  );
}

/** The id of a form input's control (its help and error ids derive from it). */
export const fieldId = (name: string) => `f-${name.replace(/[^A-Za-z0-9_-]/g, "-")}`;

/** The attributes that connect a control to its help and error. */
export function described(id: string, help?: string, error?: string) {
  const ids = [help ? `${id}-help` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return { id, "aria-describedby": ids || undefined, "aria-invalid": error ? "true" : undefined };
}

export function TextField({ name, label, value, errors, help, required, type = "text", placeholder, autocomplete, attrs = {} }: {
  name: string; label: string; value?: string; errors: Errors; help?: string; required?: boolean;
  type?: "text" | "password" | "number" | "date"; placeholder?: string; autocomplete?: string; attrs?: Record<string, string | number | undefined>;
}) {
  const id = fieldId(name);
  return (
    <Field id={id} label={label} help={help} error={errors[name]} required={required}>
      <input type={type} name={name} value={type === "password" ? undefined : value} required={required} placeholder={placeholder}
        autocomplete={autocomplete} {...described(id, help, errors[name])} {...attrs} />
    </Field>
  );
}

export function TextArea({ name, label, value, errors, help, required, placeholder }: {
  name: string; label: string; value?: string; errors: Errors; help?: string; required?: boolean; placeholder?: string;
}) {
  const id = fieldId(name);
  return (
    <Field id={id} label={label} help={help} error={errors[name]} required={required}>
      <textarea name={name} required={required} placeholder={placeholder} {...described(id, help, errors[name])}>{value ?? ""}</textarea>
    </Field>
  );
}

export function SelectField({ name, label, value, options, errors, help, required, blank }: {
  name: string; label: string; value?: string; options: { value: string; label: string }[]; errors: Errors;
  help?: string; required?: boolean; blank?: string;
}) {
  const id = fieldId(name);
  return (
    <Field id={id} label={label} help={help} error={errors[name]} required={required}>
      <select name={name} required={required} {...described(id, help, errors[name])}>
        {blank !== undefined ? <option value="">{blank}</option> : null}
        {options.map((o) => <option value={o.value} selected={o.value === value}>{o.label}</option>)}
      </select>
    </Field>
  );
}

/** The error that belongs to no single field (a conflict, a refused action). */
export function FormError({ errors }: { errors: Errors }) {
  return errors._ ? <FlashBox kind="error" text={errors._} /> : null;
}

/**
 * A create form opened from the job form ("New target…"): where to go back to,
 * carried through the form's post (src/web/return-to.ts checks it).
 */
export function ReturnField({ values }: { values: Record<string, string | undefined> }) {
  return values.return ? <input type="hidden" name="return" value={values.return} /> : null;
}

/** The Cancel link of a create form: back to the job form when it came from one. */
export function cancelHref(values: Record<string, string | undefined>, otherwise: string): string {
  return values.return && values.return.startsWith("/jobs/") ? values.return : otherwise;
}
