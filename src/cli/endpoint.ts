// On a terminal, a target's or store's plugin and endpoint are asked for field by
// field, from the `fields` the plugin's `info` declares (GET /v1/plugin/:name):
// title, help, default and example; secrets are read without echo.
import type { Api } from "./client.ts";
import { isSecretField, maskEndpoint } from "./output.ts";
import { ask } from "./prompt.ts";
import { readFileSync } from "node:fs";
import { UsageError } from "./errors.ts";
import { parseEndpoint } from "./values.ts";

/**
 * The text of `--endpoint`: the JSON itself, `-` for stdin, or `@FILE`. An endpoint
 * often holds a password, and whatever is on a command line is visible to every
 * user of the machine (ps, /proc): stdin and files keep it out of argv.
 */
export async function endpointText(value: string): Promise<string> {
  if (value === "-") {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    if (!text.trim()) throw new UsageError("--endpoint -: stdin was empty; give the endpoint's JSON on it");
    return text;
  }
  if (value.startsWith("@")) {
    try {
      return readFileSync(value.slice(1), "utf8");
    } catch (err) {
      throw new UsageError(`--endpoint ${value}: cannot read ${value.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return value;
}

interface PluginField {
  name: string;
  type?: string;
  title?: string;
  help?: string;
  required?: boolean;
  default?: string;
  example?: string;
}

/** Asks which plugin, offering those that can serve as `role`. */
export async function askPlugin(api: Api, role: "target" | "store", current?: string): Promise<string> {
  const plugins = await api.get<any[]>("/v1/plugins");
  const fit = plugins.filter((p) => p.info?.features?.[role] === "yes").map((p) => p.name as string);
  process.stderr.write(`Plugins that can be a ${role}: ${fit.join(", ") || "(none installed)"}\n`);
  return ask("Plugin", {
    required: true, default: current,
    check: (name) => (fit.includes(name) ? undefined : `"${name}" is not one of them`),
  });
}

/** Builds the endpoint JSON from the plugin's fields; `current` gives the defaults when editing. */
export async function askEndpoint(api: Api, plugin: string, current?: string): Promise<string> {
  const info = (await api.get<any>(`/v1/plugin/${encodeURIComponent(plugin)}`)).info ?? {};
  const fields: PluginField[] = Array.isArray(info.fields) ? info.fields : [];
  let old: Record<string, unknown> = {};
  try { old = current ? JSON.parse(current) : {}; } catch { /* start afresh */ }
  if (!fields.length) {
    // Enter keeps the current endpoint, secrets and all; the brackets show it masked,
    // so a password never lands on the screen (or in the terminal's scrollback).
    const text = await ask(`Endpoint of ${plugin} (a JSON object)`, {
      required: true, default: current, shown: current ? maskEndpoint(current) : undefined,
      check: (t) => { try { parseEndpoint(t); return undefined; } catch (e) { return (e as Error).message.replace(/^--endpoint: /, ""); } },
    });
    return parseEndpoint(text);
  }
  process.stderr.write(`The ${plugin} endpoint (Enter accepts the value in brackets; leave optional fields empty to skip):\n`);
  const endpoint: Record<string, unknown> = {};
  for (const f of fields) {
    const secret = isSecretField(f.name, f.type);
    if (f.help) process.stderr.write(`  ${f.help}${f.example && !secret ? ` (e.g. ${f.example})` : ""}\n`);
    const was = old[f.name];
    const fallback = was !== undefined && was !== null ? (Array.isArray(was) ? was.join(",") : String(was)) : f.default;
    const answer = await ask(`${f.title ?? f.name} (${f.name})`, {
      secret, default: fallback, required: !!f.required,
      check: (a) => check(f, a),
    });
    if (answer === "") continue;
    endpoint[f.name] = convert(f, answer);
  }
  return JSON.stringify(endpoint);
}

function check(f: PluginField, a: string): string | undefined {
  if (a === "") return undefined;
  if (f.type === "port" && !/^\d{1,5}$/.test(a.trim())) return "must be a port number";
  if (f.type === "abspath" && !a.startsWith("/")) return "must be an absolute path";
  if (f.type === "bool" && !/^(y|yes|n|no|true|false)$/i.test(a.trim())) return "answer yes or no";
  return undefined;
}

function convert(f: PluginField, a: string): unknown {
  switch (f.type) {
    case "port": return Number(a.trim());
    case "bool": return /^(y|yes|true)$/i.test(a.trim());
    case "list": return a.split(",").map((s) => s.trim()).filter(Boolean);
    default: return a;
  }
}
