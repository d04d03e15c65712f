// Targets and stores: the same pages, a plugin and its endpoint each; targets
// also name an agent.
import type { EndpointView, Errors, Job, Me, PluginField, PluginView } from "./types.ts";
import { Csrf, ReturnField, cancelHref, DataTable, Time, Empty, Field, FilterForm, FormError, Pager, SelectField, TextArea, TextField, UnusedSelect, described, fieldId } from "./components.tsx";

export type DefKind = "target" | "store";
export interface DefRow { uuid: string; name: string; summary: string; plugin: string; agent?: string; bandwidth?: number; max_tasks?: number; last_test?: TestResultView | null }

/** What "Test connection" said (the API's answer). */
export interface TestResultView { ok: boolean; lines: string[]; tested_at: string }

/** The result of "Test connection", where the button put it. */
export function TestResult({ result, error }: { result?: TestResultView; error?: string }) {
  if (error) return <div class="test-result failed" role="alert"><strong>Not tested:</strong> {error}</div>;
  if (!result) return null;
  return (
    <div class={`test-result ${result.ok ? "ok" : "failed"}`} role={result.ok ? "status" : "alert"}>
      <strong>{result.ok ? "Connection ok" : "Connection test failed"}</strong> <span class="muted">(<Time at={result.tested_at} />)</span>
      {result.lines.length ? <pre class="log">{result.lines.join("\n")}</pre> : null}
    </div>
  );
}

/** The "Test connection" button: the plugin's live test, its lines shown below it (htmx), or on the page it comes back to. */
function TestButton({ action, csrf, include }: { action: string; csrf?: string; include?: boolean }) {
  return (
    <>
      <button type="button" class="secondary" hx-post={action} hx-target="#test-result" hx-swap="innerHTML"
        hx-include={include ? "closest form" : undefined} hx-vals={csrf ? JSON.stringify({ _csrf: csrf }) : undefined}
        hx-indicator="#test-result">Test connection</button>
    </>
  );
}

const plural = (k: DefKind) => `${k}s`;
const Title = (k: DefKind) => (k === "target" ? "Target" : "Store");
/** Form input names of endpoint fields: prefixed, so no field can collide with name, summary, _csrf. */
export const fieldInput = (name: string) => `ep.${name}`;
/** The checkbox that clears a stored password (an empty input keeps it). */
export const clearInput = (name: string) => `clear.${name}`;
/** A plugin in a menu: "postgres — PostgreSQL"; just "fs" where the title only repeats the name. */
export function pluginLabel(p: { name: string; title: string }): string {
  const title = p.title.trim();
  return !title || title.toLowerCase() === p.name.toLowerCase() ? p.name : `${p.name} — ${title}`;
}

/** The form input of a plugin that describes no fields: the endpoint as JSON. */
export const JSON_INPUT = "endpoint_json";

/** An agent's state as /v1/agents gives it, for the targets that name it. */
export interface AgentState { name: string; reachable: boolean; error: string | null; version: string | null; host_key: string | null }

export function DefinitionList({ kind, me, rows, unused, plugin, plugins, page, hasNext, pageHref, agents = [] }: {
  kind: DefKind; me: Me; rows: DefRow[]; unused: string; plugin: string; plugins: string[];
  page: number; hasNext: boolean; pageHref: (n: number) => string; agents?: AgentState[];
}) {
  return (
    <>
      <h1>{Title(kind)}s</h1>
      <p class="muted">{kind === "target"
        ? "A target is a data system Shield backs up: a database, a directory, anything a plugin can reach."
        : "A store is where archives are kept: a directory, an S3 bucket, anything a plugin can reach."}</p>
      {me.canOperate ? <div class="actions"><a class="button" href={`/${plural(kind)}/new`}>New {kind}</a></div> : null}
      <FilterForm action={`/${plural(kind)}`} label={`Filter ${plural(kind)}`}>
        <UnusedSelect value={unused} />
        <SelectField name="plugin" label="Plugin" value={plugin} errors={{}} blank="Any" options={plugins.map((p) => ({ value: p, label: p }))} />
      </FilterForm>
      {rows.length === 0 ? (
        <Empty>{unused || plugin ? `No ${kind} matches these filters.` : `No ${plural(kind)} yet.${me.canOperate ? ` Create one with “New ${kind}”.` : ""}`}</Empty>
      ) : (
        <DataTable columns={["Name", "Plugin", kind === "target" ? "Agent" : null, "Summary"]}>
          {rows.map((r) => (
            <tr>
              <td><a href={`/${plural(kind)}/${r.uuid}`}>{r.name}</a>{r.last_test && !r.last_test.ok
                ? <> <span class="badge s-failed" title={r.last_test.lines.join("\n")}>last test failed</span></> : null}</td>
              <td>{r.plugin}</td>
              {kind === "target" ? <td>{r.agent ? <AgentCell name={r.agent} state={agents.find((a) => a.name === r.agent)} /> : <span class="muted">runs on the core</span>}</td> : null}
              <td>{r.summary}</td>
            </tr>
          ))}
        </DataTable>
      )}
      <Pager page={page} hasNext={hasNext} href={pageHref} />
    </>
  );
}

function AgentCell({ name, state }: { name: string; state: AgentState | undefined }) {
  if (!state) return <>{name}</>;
  return state.reachable
    ? <>{name} <span class="muted" title={`key ${state.host_key ?? ""}`}>reachable, shield {state.version}</span></>
    : <>{name} <span class="error" title={state.error ?? ""}>unreachable</span></>;
}

export function EndpointLines({ view }: { view: EndpointView }) {
  if (view.lines.length === 0) return <p class="muted">The endpoint is empty.</p>;
  return (
    <dl class="props">
      {view.lines.map((l) => (
        <>
          <dt>{l.title}</dt>
          <dd>{l.secret ? (l.value ? <span class="muted">set (hidden)</span> : <span class="muted">not set</span>) : (l.value ?? <span class="muted">not set</span>)}</dd>
        </>
      ))}
    </dl>
  );
}

export function DefinitionDetail({ kind, me, row, endpoint, jobs }: { kind: DefKind; me: Me; row: DefRow; endpoint: EndpointView; jobs: Job[] }) {
  const base = `/${plural(kind)}/${row.uuid}`;
  return (
    <>
      <h1>{Title(kind)} {row.name}</h1>
      {me.canOperate ? (
        <div class="actions">
          <a class="button" href={`${base}/edit`}>Edit</a>
          <TestButton action={`${base}/test`} csrf={me.csrf} />
          {jobs.length === 0 ? <a class="button danger" href={`${base}/delete`}>Delete</a> : null}
        </div>
      ) : null}
      <div id="test-result" aria-live="polite"><TestResult result={row.last_test ?? undefined} /></div>
      <div class="card">
        <dl class="props">
          <dt>Summary</dt><dd>{row.summary || <span class="muted">none</span>}</dd>
          <dt>Plugin</dt><dd>{row.plugin}</dd>
          {kind === "target" ? <><dt>Agent</dt><dd>{row.agent || <span class="muted">none: the core runs the plugin</span>}</dd></> : null}
          <dt>Bandwidth</dt><dd>{row.bandwidth ? `at most ${row.bandwidth} bytes/s` : <span class="muted">no limit</span>}</dd>
          {kind === "store" ? <><dt>Tasks at once</dt><dd>{row.max_tasks ? `at most ${row.max_tasks}` : <span class="muted">no limit (only --workers)</span>}</dd></> : null}
          <dt>UUID</dt><dd><code>{row.uuid}</code></dd>
        </dl>
      </div>
      <h2>Endpoint</h2>
      <div class="card"><EndpointLines view={endpoint} /></div>
      <h2>Jobs using this {kind}</h2>
      {jobs.length === 0 ? <Empty>No job uses this {kind}{me.canOperate ? "; it can be deleted once its archives are gone" : ""}.</Empty> : (
        <ul>{jobs.map((j) => <li><a href={`/jobs/${j.uuid}`}>{j.name}</a>{j.paused ? " (paused)" : ""}</li>)}</ul>
      )}
      <p><a href={`/archives?${kind}=${row.uuid}`}>Archives {kind === "target" ? "of" : "in"} this {kind}</a></p>
    </>
  );
}

function EndpointInput({ f, values, errors, secretStored }: { f: PluginField; values: Record<string, string>; errors: Errors; secretStored: boolean }) {
  const name = fieldInput(f.name);
  const id = fieldId(name);
  const secret = f.type === "password";
  const help = [f.help, f.default !== undefined && f.default !== "" ? `Default: ${f.default}.` : "",
    f.type === "wslist" ? "One item a line (sent as one space-separated list)." : "",
    secret ? (secretStored ? "A value is stored; leave empty to keep it, or tick “clear” to remove it." : "Leave empty for none.") : ""].filter(Boolean).join(" ");
  const err = errors[name];
  const value = values[name] ?? "";
  // A password may be empty (the original Shield's mysql plugin wants the key even so),
  // and a field with a default is filled in by the plugin (the original mysql plugin
  // calls its host and port required, with defaults): the browser must not insist on either.
  const required = f.required && !secret && !f.default;
  if (f.type === "bool") {
    return (
      <Field id={id} label={f.title} help={help} error={err}>
        <input type="checkbox" name={name} checked={value === "true" || (value === "" && f.default === "true")} {...described(id, help, err)} />
      </Field>
    );
  }
  if (f.type === "enum") {
    const blank = required ? "Choose…" : f.default ? `Default (${f.default})` : "Not set";
    return (
      <Field id={id} label={f.title} help={help} error={err} required={required}>
        <select name={name} required={required} {...described(id, help, err)}>
          <option value="">{blank}</option>
          {f.enum.map((v) => <option value={v} selected={v === value}>{v}</option>)}
        </select>
      </Field>
    );
  }
  if (f.type === "list" || f.type === "wslist") {
    return (
      <Field id={id} label={f.title} help={help} error={err} required={required}>
        <textarea name={name} required={required} placeholder={f.example ? `e.g. ${f.example}` : undefined} {...described(id, help, err)}>{value}</textarea>
      </Field>
    );
  }
  const attrs: Record<string, string | number | undefined> =
    f.type === "port" ? { inputmode: "numeric", pattern: "[0-9]{1,5}" }
    : f.type === "abspath" ? { pattern: "/.*", title: "an absolute path, starting with /" }
    : {};
  return (
    <Field id={id} label={f.title} help={help} error={err} required={required}>
      <input type={secret ? "password" : "text"} name={name}
        value={secret ? undefined : value}
        placeholder={secret ? (secretStored ? "unchanged" : undefined) : f.default || (f.example ? `e.g. ${f.example}` : undefined)}
        autocomplete={secret ? "new-password" : "off"} required={required}
        {...attrs} {...described(id, help, err)} />
      {secret && secretStored ? (
        <label class="check"><input type="checkbox" name={clearInput(f.name)} /> Clear: store an empty one</label>
      ) : null}
    </Field>
  );
}

/** The endpoint part of the form; htmx swaps it when another plugin is chosen. */
export function EndpointFields({ plugin, values, errors, secrets, editing }: {
  plugin: PluginView | undefined; values: Record<string, string>; errors: Errors; secrets: string[]; editing: boolean;
}) {
  return (
    <fieldset id="endpoint-fields" aria-live="polite">
      <legend>Endpoint{plugin ? ` (${plugin.title})` : ""}</legend>
      {errors.endpoint ? <span class="field-error" role="alert">{errors.endpoint}</span> : null}
      {!plugin ? <p class="muted">Choose a plugin to see what it needs.</p>
        : plugin.fields.length > 0 ? plugin.fields.map((f) => <EndpointInput f={f} values={values} errors={errors} secretStored={secrets.includes(f.name)} />)
        : (
          <TextArea name={JSON_INPUT} label="Endpoint (JSON)" errors={errors} value=""
            // Never filled in, not even after a refusal: what was typed may hold secrets.
            placeholder={'{"host": "db1"}'}
            help={editing
              ? `This plugin does not describe its fields. Leave empty to keep the current endpoint (its values are not shown here: they may hold secrets), or type the whole endpoint anew.`
              : "This plugin does not describe its fields: give its endpoint as a JSON object."} />
        )}
    </fieldset>
  );
}

export function DefinitionForm({ kind, me, row, values, plugins, plugin, errors, secrets }: {
  kind: DefKind; me: Me; row?: DefRow; values: Record<string, string>; plugins: PluginView[]; plugin: PluginView | undefined;
  errors: Errors; secrets: string[];
}) {
  const action = row ? `/${plural(kind)}/${row.uuid}` : `/${plural(kind)}`;
  return (
    <>
      <h1>{row ? `Edit ${kind} ${row.name}` : `New ${kind}`}</h1>
      <FormError errors={errors} />
      <form class="stack" method="post" action={action}>
        <Csrf csrf={me.csrf} />
        <ReturnField values={values} />
        <TextField name="name" label="Name" value={values.name} errors={errors} required />
        <TextField name="summary" label="Summary" value={values.summary} errors={errors} help="What it is, for whoever reads this list next." />
        {plugins.length === 0 ? <p class="field-error">No plugin can be used as a {kind}: install one in a plugin directory.</p> : null}
        <div class="field">
          <label for="f-plugin">Plugin<span class="req" aria-hidden="true"> *</span></label>
          <select id="f-plugin" name="plugin" required aria-invalid={errors.plugin ? "true" : undefined}
            aria-describedby={errors.plugin ? "f-plugin-error" : undefined}
            hx-get={`/${plural(kind)}/fields`} hx-target="#endpoint-fields" hx-swap="outerHTML" hx-trigger="change"
            hx-vals={row ? JSON.stringify({ uuid: row.uuid }) : undefined}>
            <option value="">Choose a plugin…</option>
            {plugins.map((p) => <option value={p.name} selected={p.name === values.plugin}>{pluginLabel(p)}</option>)}
          </select>
          {errors.plugin ? <span class="field-error" id="f-plugin-error" role="alert">{errors.plugin}</span> : null}
        </div>
        <EndpointFields plugin={plugin} values={values} errors={errors} secrets={secrets} editing={!!row} />
        {kind === "target" ? (
          <TextField name="agent" label="Agent" value={values.agent} errors={errors} placeholder="e.g. 10.17.66.54:5544"
            help="host:port of a Shield agent that runs the plugin on the data host; leave empty to run it here." />
        ) : null}
        <div class="inline">
          <TextField name="bandwidth" label="Bandwidth limit (bytes/s)" type="number" value={values.bandwidth ?? "0"} errors={errors}
            help="Its backups and restores move at most this many bytes per second; 0 for no limit." attrs={{ min: 0, step: 1 }} />
          {kind === "store" ? (
            <TextField name="max_tasks" label="Tasks at once" type="number" value={values.max_tasks ?? "0"} errors={errors}
              help="At most this many tasks (backups, restores, copies, purges) on this store at once; 0 for no limit." attrs={{ min: 0, step: 1 }} />
          ) : null}
        </div>
        <p class="help">Saving checks the endpoint with the plugin first: nothing is saved if it is invalid. “Test connection” also connects (a store: writes and deletes a test blob), without saving.</p>
        <div id="test-result" aria-live="polite" />
        <div class="actions">
          <button type="submit">{row ? "Save" : `Create ${kind}`}</button>
          <TestButton action={row ? `/${plural(kind)}/test?uuid=${row.uuid}` : `/${plural(kind)}/test`} include />
          <a href={row ? `/${plural(kind)}/${row.uuid}` : cancelHref(values, `/${plural(kind)}`)}>Cancel</a>
        </div>
      </form>
    </>
  );
}
