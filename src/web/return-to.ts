// Creating a target, store, schedule or retention policy from the job form: the
// job form posts its values to /jobs/draft, which sends the browser to the
// definition's own "new" page with `return` (the job form's address, holding the
// values typed so far); once created, the definition sends the browser back there
// with the new one chosen. Plain links and forms, so it works without JavaScript,
// and each definition keeps its one form (plugin fields, schedule preview…).

/** The job form fields carried through the detour (never the CSRF token). */
export const JOB_DRAFT_FIELDS = [
  "name", "summary", "target", "store", "schedule", "retention", "priority", "compression", "copy_store", "copy_retention", "window", "paused",
] as const;

/** The definitions the job form can create on the way, by the job field that names them. */
export const DETOURS = { target: "/targets/new", store: "/stores/new", schedule: "/schedules/new", retention: "/retention/new" } as const;
export type DetourKind = keyof typeof DETOURS;

const JOB_FORM = /^\/jobs\/(new|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\/edit)(\?[^#]*)?$/;

/** A `return` value we accept: a job form of this site only (never another host, never a control character). */
export function returnTo(value: string | undefined | null): string | undefined {
  if (!value || /[\\\x00-\x1f\x7f]/.test(value) || !JOB_FORM.test(value)) return undefined;
  return value;
}

/** The job form's address with the new definition chosen (it replaces the draft's choice). */
export function backWith(to: string, field: DetourKind, uuid: string): string {
  const [path, query = ""] = to.split("?", 2) as [string, string?];
  const q = new URLSearchParams(query);
  q.set(field, uuid);
  return `${path}?${q}`;
}

/** The job form's address holding the draft's values. */
export function draftAddress(back: string, form: Record<string, string>): string {
  const q = new URLSearchParams();
  for (const k of JOB_DRAFT_FIELDS) if (form[k]) q.set(k, form[k]!);
  const s = q.toString();
  return s ? `${back}?${s}` : back;
}

/** The draft's values as the job form reads them back from its query. */
export function draftValues(query: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of JOB_DRAFT_FIELDS) if (query[k] !== undefined) out[k] = query[k]!;
  return out;
}
