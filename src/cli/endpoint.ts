// On a terminal, a target's or store's plugin and endpoint are asked for field by
// field, from the `fields` the plugin's `info` declares (GET /v1/plugin/:name):
// title, help, default and example; secrets are read without echo; an enum is a
// numbered choice. Each answer becomes the endpoint's value as
// src/endpoint-fields.ts says: the text typed, unless the field's type says otherwise.
import type { Api } from "./client.ts";
import { fieldProblem, fieldText, fieldValue, fieldsOf, type EndpointField } from "../endpoint-fields.ts";
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

/** Lists are typed on one line: a "list" comma-separated, a "wslist" space-separated. */
const TYPING = { lines: false };
/** The answer that stores an empty password in place of a stored one (Enter keeps it). */
const CLEAR = "-";

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
  const fields = fieldsOf(info);
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
    const value = f.type === "password" ? await askPassword(f, old[f.name]) : await askField(f, old[f.name], secret);
    if (value !== undefined) endpoint[f.name] = value;
  }
  return JSON.stringify(endpoint);
}

/**
 * A password: never required (empty is a password too, and an original mysql plugin
 * wants the key even then). Editing, Enter keeps the stored one and "-" clears it.
 */
async function askPassword(f: EndpointField, stored: unknown): Promise<string> {
  const has = typeof stored === "string" && stored !== "";
  const answer = await ask(`${f.title} (${f.name})`, { secret: true, default: has ? stored : undefined, shown: `keep; ${CLEAR} clears` });
  return has && answer === CLEAR ? "" : answer;
}

async function askField(f: EndpointField, stored: unknown, secret: boolean): Promise<unknown> {
  if (f.type === "enum") {
    process.stderr.write(`  ${f.enum.map((v, i) => `${i + 1}) ${v}`).join("  ")}\n`);
  }
  // An enum's choice by number, or the value itself.
  const chosen = (a: string) => (f.type === "enum" && /^\d+$/.test(a.trim()) && f.enum[Number(a.trim()) - 1] !== undefined ? f.enum[Number(a.trim()) - 1]! : a);
  const answer = await ask(`${f.title} (${f.name})`, {
    secret, default: fieldText(f, stored, TYPING) ?? f.default, required: f.required,
    // The plugin's own default is never refused (an enum's may be none of its values).
    check: (a) => (a === f.default ? undefined : fieldProblem(f, chosen(a))),
  });
  return fieldValue(f, chosen(answer), TYPING);
}
