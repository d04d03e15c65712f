// What a plugin's declared field types require of an endpoint's values, checked
// before the plugin's own `validate` runs. Plugins written for the original Shield
// read their text fields as strings and fail on anything else, some only at 4am
// when a backup runs (the mysql plugin's exit 13), and a list given as one string
// is taken by ours as one pattern per line, which is rarely what was meant. So the
// API refuses a value whose JSON type contradicts the declaration, naming the field.
//
// Which JSON shape each field type requires is the field-type vocabulary's own
// rule (src/endpoint-fields.ts, shared with the front doors); here it is applied.
import { jsonShapeProblem } from "../endpoint-fields.ts";
import type { PluginField } from "../plugin-host/index.ts";

/**
 * What is wrong with the first value that contradicts its field's declared type,
 * in words naming the field in quotes (the web UI places a message by that name);
 * undefined when nothing does. A key left out is the plugin's business (required
 * fields are its `validate`'s to enforce).
 */
export function fieldTypeError(plugin: string, fields: unknown, endpoint: Record<string, unknown>): string | undefined {
  if (!Array.isArray(fields)) return undefined;
  for (const f of fields as Partial<PluginField>[]) {
    // `fields` is the plugin's own output: trust only well-formed entries.
    if (!f || typeof f.name !== "string" || typeof f.type !== "string" || !Object.hasOwn(endpoint, f.name)) continue;
    const value = endpoint[f.name];
    const must = jsonShapeProblem(f.type, value);
    if (must) return `"${f.name}" ${must} (plugin ${plugin} declares it ${f.type}), not ${jsonType(value)}`;
  }
  return undefined;
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return value.every((x) => typeof x === "string") ? "a list" : "a list holding non-strings";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return "a string";
  return `a ${typeof value}`;
}
