// Reading submitted forms: strings only (a file upload is not a field of any form here).
import type { Context } from "hono";

export type Form = Record<string, string>;

export async function readForm(c: Context): Promise<Form> {
  const body = await c.req.parseBody();
  const form: Form = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === "string") form[k] = v;
  return form;
}

/** A UUID from a route parameter; anything else is left for the API to refuse with its 400. */
export function param(c: Context, name: string): string {
  return encodeURIComponent(c.req.param(name) ?? "");
}

/** A yes/no filter from the query ("t" or "f"); anything else is "" (no filter). */
export function flagQuery(c: Context, name: string): string {
  const v = c.req.query(name) ?? "";
  return v === "t" || v === "f" ? v : "";
}

/** A refusal as form errors: per field when the API says which, else one message for the whole form (`_`). */
export function errorsOf(r: { error: string; fields: Record<string, string> }): Record<string, string> {
  return Object.keys(r.fields).length ? r.fields : { _: r.error };
}
