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

/**
 * A task log, each line's time (the log writes "YYYY-MM-DD HH:MM:SS text", UTC)
 * as a <time>: shield.js shows it as the time of day in the reader's zone, the
 * UTC time on hover, as everywhere else. Lines without a time stay as they are.
 */
export function LogText({ log }: { log: string }) {
  const lines = log.split("\n");
  return (
    <>
      {lines.map((line, i) => {
        const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)( .*)?$/.exec(line);
        const end = i < lines.length - 1 ? "\n" : "";
        if (!m) return line + end;
        return <><time datetime={isoUtc(m[1]!)} title={`${m[1]} UTC`} data-format="time">{m[1]}</time>{(m[2] ?? "") + end}</>;
      })}
    </>
  );
}

export function Status({ status }: { status: string }) {
  return <span class={`badge s-${status}`}>{status}</span>;
}

/** A table in its scrolling wrapper; `columns` are the header cells (null: a column not shown), `children` the rows. */
export function DataTable({ columns, children }: { columns: (Child | null)[]; children: Child }) {
  const shown = columns.filter((c) => c !== null);
  labelCells(children, shown.map((c) => (typeof c === "string" ? c : undefined)));
  return (
    <div class="table-wrap">
      <table>
        <thead><tr>{shown.map((c) => <th scope="col">{c}</th>)}</tr></thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

interface Node { tag?: unknown; props?: Record<string, unknown>; children?: unknown[] }

/**
 * Gives each body cell the text of its column header as data-label, which the
 * phone-width stylesheet shows in front of the cell when a row becomes a card.
 * Done here, on the rows as built, so no table has to repeat its headers.
 */
function labelCells(rows: unknown, labels: (string | undefined)[]): void {
  const each = (n: unknown, f: (n: Node) => void) => {
    if (Array.isArray(n)) for (const x of n) each(x, f);
    else if (n && typeof n === "object" && "tag" in n) {
      const node = n as Node;
      // A fragment (<>…</>) of rows or cells: look inside.
      if (typeof node.tag === "function") each(node.children, f);
      else f(node);
    }
  };
  each(rows, (tr) => {
    if (tr.tag !== "tr") return;
    let i = 0;
    each(tr.children, (cell) => {
      if (cell.tag !== "td" && cell.tag !== "th") return;
      const label = labels[i];
      const span = Number(cell.props?.colspan ?? 1) || 1;
      if (label && cell.props && cell.props["data-label"] === undefined && span === 1) cell.props["data-label"] = label;
      i += span;
    });
  });
}

/**
 * The GET form of a list's filters, with its submit button (for a browser
 * without script). With htmx the list follows each change at once: the page
 * comes back and its <main> replaces this one, the URL following along.
 */
export function FilterForm({ action, label, children }: { action: string; label: string; children: Child }) {
  return (
    <form class="filters" method="get" action={action} role="search" aria-label={label}
      hx-get={action} hx-trigger="change" hx-target="main" hx-select="main" hx-swap="outerHTML" hx-push-url="true">
      {children}
      <button type="submit" class="secondary">Filter</button>
    </form>
  );
}

/**
 * The text search of a list: inside a FilterForm, it asks for the list as the
 * reader types (after a pause), not only on leaving the box. htmx keeps the
 * focus and caret in it across the swap (it has an id).
 */
export function SearchField({ value, errors, placeholder, action }: { value: string; errors: Errors; placeholder: string; action: string }) {
  const id = fieldId("q");
  return (
    <Field id={id} label="Search" error={errors.q}>
      <input type="search" name="q" value={value} placeholder={placeholder} {...described(id, undefined, errors.q)}
        hx-get={action} hx-trigger="input changed delay:400ms, search" hx-include="closest form"
        hx-target="main" hx-select="main" hx-swap="outerHTML" hx-push-url="true" />
    </Field>
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
