// Retention policy pages: durations typed and shown in human units, stored in seconds.
import type { Hono } from "hono";
import type { Job, Retention, RetentionPreview as Preview } from "../../views/types.ts";
import { RetentionForm, RetentionList, RetentionPreview, RULE_FIELDS, withinText } from "../../views/retention.tsx";
import { Confirm } from "../../views/confirm.tsx";
import { DURATION_UNITS, duration, splitDuration } from "../../views/format.ts";
import { qs } from "./client.ts";
import { errorsOf, flagQuery, param, readForm, type Form } from "./forms.ts";
import { pageHref, pageOf, slicePage } from "./paging.ts";
import { fragment, me, page, seeOther, type WebContext, type WebEnv } from "./render.tsx";
import { backWith, returnTo } from "./return-to.ts";

/** The rules typed into the form, as the API takes them: an empty field is 0 (no such rule); the API checks the rest. */
function rulesOf(f: Form): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const r of RULE_FIELDS) {
    const text = (f[r.name] ?? "").trim();
    out[r.name] = text === "" ? 0 : /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  }
  const within = (f.keep_within ?? "").trim();
  out.keep_within = within === "" ? 0 : /^-?\d+$/.test(within) ? Number(within) : within;
  return out;
}

/** amount × unit → seconds, or what is wrong with the amount. */
function expiresOf(f: Form): { seconds?: number; error?: string } {
  const amount = Number((f.amount ?? "").trim());
  const unit = DURATION_UNITS.find((u) => u.unit === f.unit);
  if (!unit) return { error: "choose hours, days, weeks or years" };
  if (!(f.amount ?? "").trim() || !Number.isFinite(amount) || amount <= 0) return { error: "must be a number greater than 0" };
  return { seconds: Math.round(amount * unit.seconds) };
}

export function retentionPages(app: Hono<WebEnv>): void {
  app.get("/retention", async (c) => {
    const s = c.get("session");
    const unused = flagQuery(c, "unused");
    const rows = await s.api.get<Retention[]>(`/v1/retention${qs({ unused })}`);
    const p = pageOf(c);
    const paged = slicePage(rows, p);
    return page(c, { title: "Retention policies", section: "retention" },
      <RetentionList me={me(s)} rows={paged.rows} unused={unused} page={p} hasNext={paged.hasNext} pageHref={pageHref(c)} />);
  });

  app.get("/retention/new", (c) => form(c, { values: { amount: "7", unit: "days", return: returnTo(c.req.query("return")) ?? "" }, errors: {} }));

  // The preview box of the form: what the rules typed so far keep and expire among a job's archives.
  app.get("/retention/preview", async (c) => {
    const s = c.get("session");
    const policy = c.req.query("policy") || undefined;
    const job = c.req.query("job") ?? "";
    if (!job) return fragment(c, <RetentionPreview policy={policy} />);
    const f: Form = {};
    for (const k of [...RULE_FIELDS.map((r) => r.name), "keep_within"]) f[k] = c.req.query(k) ?? "";
    const q = qs({ job, ...Object.fromEntries(Object.entries(rulesOf(f)).map(([k, v]) => [k, String(v)])) });
    const r = await s.api.send<Preview>("GET", `/v1/retention/${policy ? `${encodeURIComponent(policy)}/` : ""}preview${q}`);
    if (r.ok) return fragment(c, <RetentionPreview policy={policy} preview={r.data} />);
    const words = Object.entries(r.fields).map(([k, v]) => `${k}: ${v}`).join("; ") || r.error;
    return fragment(c, <RetentionPreview policy={policy} error={`No preview: ${words}`} />);
  });

  const save = async (c: WebContext, row?: Retention) => {
    const s = c.get("session");
    const f = await readForm(c);
    const back = row ? undefined : returnTo(f.return);
    f.return = back ?? "";
    const e = expiresOf(f);
    if (e.error) return form(c, { row, values: f, errors: { amount: e.error } }, 400);
    const body = { name: f.name ?? "", summary: f.summary ?? "", expires: e.seconds, ...rulesOf(f), ...(row && f.force === "t" ? { force: true } : {}) };
    const r = row ? await s.api.send<{ uuid: string }>("PUT", `/v1/retention/${row.uuid}`, body) : await s.api.send<{ uuid: string }>("POST", "/v1/retention", body);
    if (!r.ok) return form(c, { row, values: f, errors: errorsOf(r) }, r.status);
    if (back) return seeOther(c, backWith(back, "retention", r.data.uuid), `Retention policy “${body.name.trim()}” created and chosen for the job.`);
    return seeOther(c, "/retention", `Retention policy “${body.name}” ${row ? "saved" : "created"}: archives kept ${duration(e.seconds!)}.`);
  };

  app.post("/retention", (c) => save(c));

  app.get("/retention/:uuid/edit", async (c) => {
    const row = await c.get("session").api.get<Retention>(`/v1/retention/${param(c, "uuid")}`);
    const { amount, unit } = splitDuration(row.expires);
    const values: Record<string, string> = { name: row.name, summary: row.summary, amount: String(amount), unit, keep_within: withinText(row.keep_within) };
    for (const r of RULE_FIELDS) values[r.name] = row[r.name] ? String(row[r.name]) : "";
    // Previewed on the first job that uses the policy, if any.
    const using = await c.get("session").api.get<Job[]>(`/v1/jobs${qs({ retention: row.uuid })}`);
    if (using[0]) values.job = using[0].uuid;
    return form(c, { row, values, errors: {} });
  });

  app.post("/retention/:uuid", async (c) => save(c, await c.get("session").api.get<Retention>(`/v1/retention/${param(c, "uuid")}`)));

  app.get("/retention/:uuid/delete", async (c) => {
    const s = c.get("session");
    const row = await s.api.get<Retention>(`/v1/retention/${param(c, "uuid")}`);
    return page(c, { title: `Delete retention policy ${row.name}`, section: "retention" },
      <Confirm me={me(s)} title={`Delete retention policy ${row.name}?`} action={`/retention/${row.uuid}/delete`} button="Delete policy" cancel="/retention">
        <p>The policy (keep {duration(row.expires)}) is removed. A policy that a job uses cannot be deleted; archives already taken keep their expiry.</p>
      </Confirm>);
  });

  app.post("/retention/:uuid/delete", async (c) => {
    const r = await c.get("session").api.send("DELETE", `/v1/retention/${param(c, "uuid")}`);
    if (!r.ok) return seeOther(c, "/retention", `Not deleted: ${r.error}`, "error");
    return seeOther(c, "/retention", "Retention policy deleted.");
  });

  async function form(c: WebContext, o: { row?: Retention; values: Record<string, string>; errors: Record<string, string> }, status = 200) {
    const jobs = await c.get("session").api.get<Job[]>("/v1/jobs");
    return page(c, { title: o.row ? `Edit retention policy ${o.row.name}` : "New retention policy", section: "retention", status },
      <RetentionForm me={me(c.get("session"))} row={o.row} values={o.values} errors={o.errors} jobs={jobs.map((j) => ({ uuid: j.uuid, name: j.name }))} />);
  }
}
