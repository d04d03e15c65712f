// Pages for targets and stores: list (unused and plugin filters), show, create and
// edit with a form built from the plugin's fields, delete when unused.
import type { Hono } from "hono";
import type { Job, PluginView } from "../../views/types.ts";
import { DefinitionDetail, DefinitionForm, DefinitionList, EndpointFields, TestResult, type AgentState, type DefKind, type DefRow, type TestResultView } from "../../views/endpoints.tsx";
import { Confirm } from "../../views/confirm.tsx";
import { qs } from "./client.ts";
import { errorsOf, flagQuery, param, readForm } from "./forms.ts";
import { pageHref, pageOf, slicePage } from "./paging.ts";
import { fragment, me, page, seeOther, type WebContext, type WebEnv } from "./render.tsx";
import { backWith, returnTo } from "./return-to.ts";
import {
  endpointFromForm, endpointView, findPlugin, formValues, listPlugins, parseEndpoint, placeErrors, storedSecrets,
} from "./endpoints.ts";

type Row = DefRow & { endpoint: string };

export function targetStorePages(app: Hono<WebEnv>, kind: DefKind): void {
  const many = `${kind}s`;
  const one = `/v1/${kind}`;
  const section = many as "targets" | "stores";

  app.get(`/${many}`, async (c) => {
    const s = c.get("session");
    const unused = flagQuery(c, "unused");
    const plugin = c.req.query("plugin") ?? "";
    const rows = await s.api.get<Row[]>(`/v1/${many}${qs({ unused, plugin })}`);
    const plugins = (await listPlugins(s.api, kind)).map((p) => p.name);
    const p = pageOf(c);
    const paged = slicePage(rows, p);
    // Each agent the shown targets name, asked now: reachable or not, and its version.
    const agents = kind === "target" && paged.rows.some((r) => r.agent) ? await s.api.get<AgentState[]>("/v1/agents") : [];
    return page(c, { title: `${kind === "target" ? "Targets" : "Stores"}`, section },
      <DefinitionList kind={kind} me={me(s)} rows={paged.rows} unused={unused} plugin={plugin} plugins={plugins}
        page={p} hasNext={paged.hasNext} pageHref={pageHref(c)} agents={agents} />);
  });

  // The endpoint fieldset for another plugin (htmx, as the plugin select changes).
  app.get(`/${many}/fields`, async (c) => {
    const s = c.get("session");
    const plugin = await findPlugin(s.api, c.req.query("plugin") ?? "");
    const uuid = c.req.query("uuid");
    // Editing, and back to the stored plugin: show the stored values (never secrets) again.
    const row = uuid ? await s.api.find<Row>(`${one}/${encodeURIComponent(uuid)}`) : undefined;
    const same = row && plugin && row.plugin === plugin.name;
    return fragment(c, <EndpointFields plugin={plugin} values={same ? formValues(plugin, row.endpoint) : {}} errors={{}}
      secrets={same ? storedSecrets(plugin, row.endpoint) : []} editing={!!same} />);
  });

  // "Test connection" of the form as filled in (htmx; registered before POST /:uuid, which
  // would take "test" for a uuid). Editing (?uuid=), stored secrets left empty are the stored ones, as on save.
  app.post(`/${many}/test`, async (c) => {
    const s = c.get("session");
    const f = await readForm(c);
    const plugin = await findPlugin(s.api, f.plugin ?? "");
    const uuid = c.req.query("uuid");
    const row = uuid ? await s.api.find<Row>(`${one}/${encodeURIComponent(uuid)}`) : undefined;
    const built = endpointFromForm(f, plugin, row && row.plugin === f.plugin ? parseEndpoint(row.endpoint) : undefined);
    if (!f.plugin) return fragment(c, <TestResult error="choose a plugin first." />);
    if (!built.endpoint) return fragment(c, <TestResult error={Object.values(built.errors).join("; ")} />);
    const body: Record<string, unknown> = { plugin: f.plugin, endpoint: built.endpoint };
    if (kind === "target") body.agent = (f.agent ?? "").trim();
    const r = await s.api.send<TestResultView>("POST", `/v1/${many}/test`, body);
    return fragment(c, r.ok ? <TestResult result={r.data} /> : <TestResult error={r.error} />);
  });

  // "Test connection" of a saved one: htmx puts the result on the page; without it, back to the page, which shows the last test.
  app.post(`/${many}/:uuid/test`, async (c) => {
    const s = c.get("session");
    const uuid = param(c, "uuid");
    const r = await s.api.send<TestResultView>("POST", `${one}/${uuid}/test`);
    if (c.req.header("hx-request") === "true") return fragment(c, r.ok ? <TestResult result={r.data} /> : <TestResult error={r.error} />);
    if (!r.ok) return seeOther(c, `/${many}/${uuid}`, `Not tested: ${r.error}`, "error");
    return seeOther(c, `/${many}/${uuid}`, r.data.ok ? "Connection ok." : "Connection test failed.", r.data.ok ? undefined : "error");
  });

  app.get(`/${many}/new`, async (c) => {
    const s = c.get("session");
    const plugins = await listPlugins(s.api, kind);
    const chosen = plugins.find((p) => p.name === c.req.query("plugin")) ?? (plugins.length === 1 ? plugins[0] : undefined);
    return form(c, { plugins, plugin: chosen, values: { plugin: chosen?.name ?? "", return: returnTo(c.req.query("return")) ?? "" }, errors: {}, secrets: [] });
  });

  app.post(`/${many}`, async (c) => {
    const s = c.get("session");
    const f = await readForm(c);
    const back = returnTo(f.return);
    f.return = back ?? "";
    const plugins = await listPlugins(s.api, kind);
    const plugin = await findPlugin(s.api, f.plugin ?? "");
    const built = endpointFromForm(f, plugin);
    if (!built.endpoint) return form(c, { plugins, plugin, values: f, errors: built.errors, secrets: [] }, 400);
    const body: Record<string, unknown> = { name: f.name ?? "", summary: f.summary ?? "", plugin: f.plugin ?? "", endpoint: built.endpoint };
    if (kind === "target") body.agent = (f.agent ?? "").trim();
    Object.assign(body, limitsOf(f, kind));
    const r = await s.api.send<{ uuid: string }>("POST", `/v1/${many}`, body);
    if (!r.ok) return form(c, { plugins, plugin, values: f, errors: placeErrors(errorsOf(r), plugin), secrets: [] }, r.status);
    if (back) return seeOther(c, backWith(back, kind, r.data.uuid), `${kind === "target" ? "Target" : "Store"} “${String(body.name).trim()}” created and chosen for the job.`);
    return seeOther(c, `/${many}/${r.data.uuid}`, `${kind === "target" ? "Target" : "Store"} “${body.name}” created.`);
  });

  app.get(`/${many}/:uuid`, async (c) => {
    const s = c.get("session");
    const row = await s.api.get<Row>(`${one}/${param(c, "uuid")}`);
    const plugin = await findPlugin(s.api, row.plugin);
    const jobs = await s.api.get<Job[]>(`/v1/jobs${qs({ [kind]: row.uuid })}`);
    return page(c, { title: `${kind} ${row.name}`, section },
      <DefinitionDetail kind={kind} me={me(s)} row={row} endpoint={endpointView(plugin, row.plugin, row.endpoint)} jobs={jobs} />);
  });

  app.get(`/${many}/:uuid/edit`, async (c) => {
    const s = c.get("session");
    const row = await s.api.get<Row>(`${one}/${param(c, "uuid")}`);
    const plugins = await listPlugins(s.api, kind);
    const plugin = await findPlugin(s.api, row.plugin);
    const values = { name: row.name, summary: row.summary, plugin: row.plugin, agent: row.agent ?? "", bandwidth: String(row.bandwidth ?? 0), max_tasks: String(row.max_tasks ?? 0), ...formValues(plugin, row.endpoint) };
    return form(c, { row, plugins, plugin, values, errors: {}, secrets: storedSecrets(plugin, row.endpoint) });
  });

  app.post(`/${many}/:uuid`, async (c) => {
    const s = c.get("session");
    const row = await s.api.get<Row>(`${one}/${param(c, "uuid")}`);
    const f = await readForm(c);
    const plugins = await listPlugins(s.api, kind);
    const plugin = await findPlugin(s.api, f.plugin ?? "");
    // Secrets carry over only to the same plugin: another plugin's fields mean other things.
    const samePlugin = f.plugin === row.plugin;
    const built = endpointFromForm(f, plugin, samePlugin ? parseEndpoint(row.endpoint) : undefined);
    const secrets = samePlugin ? storedSecrets(plugin, row.endpoint) : [];
    if (!built.endpoint) return form(c, { row, plugins, plugin, values: f, errors: built.errors, secrets }, 400);
    const body: Record<string, unknown> = { name: f.name ?? "", summary: f.summary ?? "", plugin: f.plugin ?? "", endpoint: built.endpoint };
    if (kind === "target") body.agent = (f.agent ?? "").trim();
    Object.assign(body, limitsOf(f, kind));
    const r = await s.api.send("PUT", `${one}/${row.uuid}`, body);
    if (!r.ok) return form(c, { row, plugins, plugin, values: f, errors: placeErrors(errorsOf(r), plugin), secrets }, r.status);
    return seeOther(c, `/${many}/${row.uuid}`, `${kind === "target" ? "Target" : "Store"} “${body.name}” saved.`);
  });

  app.get(`/${many}/:uuid/delete`, async (c) => {
    const s = c.get("session");
    const row = await s.api.get<Row>(`${one}/${param(c, "uuid")}`);
    return page(c, { title: `Delete ${kind} ${row.name}`, section },
      <Confirm me={me(s)} title={`Delete ${kind} ${row.name}?`} action={`/${many}/${row.uuid}/delete`} button={`Delete ${kind}`}
        cancel={`/${many}/${row.uuid}`}>
        <p>The {kind} definition is removed from Shield. {kind === "target" ? "The data system itself is not touched." : "Nothing in the storage itself is touched."}</p>
      </Confirm>);
  });

  app.post(`/${many}/:uuid/delete`, async (c) => {
    const s = c.get("session");
    const uuid = param(c, "uuid");
    const r = await s.api.send("DELETE", `${one}/${uuid}`);
    if (!r.ok) return seeOther(c, `/${many}/${uuid}`, `Not deleted: ${r.error}`, "error");
    return seeOther(c, `/${many}`, `${kind === "target" ? "Target" : "Store"} deleted.`);
  });

  function form(c: WebContext, o: { row?: Row; plugins: PluginView[]; plugin: PluginView | undefined; values: Record<string, string>; errors: Record<string, string>; secrets: string[] }, status = 200) {
    const s = c.get("session");
    return page(c, { title: o.row ? `Edit ${kind} ${o.row.name}` : `New ${kind}`, section, status },
      <DefinitionForm kind={kind} me={me(s)} row={o.row} values={o.values} plugins={o.plugins} plugin={o.plugin} errors={o.errors} secrets={o.secrets} />);
  }
}


/** The limits of the form: a number the API can judge, or the text as given for its 400. */
function limitsOf(f: Record<string, string | undefined>, kind: "target" | "store"): Record<string, unknown> {
  const num = (t: string | undefined) => {
    const v = (t ?? "").trim();
    return v === "" ? 0 : /^\d+$/.test(v) ? Number(v) : v;
  };
  return kind === "store" ? { bandwidth: num(f.bandwidth), max_tasks: num(f.max_tasks) } : { bandwidth: num(f.bandwidth) };
}
