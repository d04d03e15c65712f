// A plugin's endpoint fields (the `fields` of its `info`) as every front door
// uses them: the web UI's forms and the CLI's prompts read them here, and here
// the text a person typed becomes the endpoint's JSON value.
//
// Plugins written for the original Shield read almost every value with
// StringValue, which refuses anything but a JSON string (exit 13): a port sent
// as the number 5432 makes the original postgres plugin refuse to save and the
// original mysql plugin fail every backup. So a value is sent as the string the
// person typed, unless the field's type says otherwise:
//
//   string, abspath, port, password   the text (a port is checked, still sent as text)
//   enum                              one of the field's `enum` values, as text
//   wslist                            a whitespace-separated list, in one string
//                                     (the original reads it with StringValue)
//   bool                              true or false (the original's BooleanValue
//                                     takes JSON booleans, and so do the built-ins)
//   list                              this Shield's own: a JSON array of strings
//
// An unknown type is treated as "string". A plain module with no imports, so the
// CLI (which may reach nothing of the daemon's) can share it.

export const FIELD_TYPES = ["string", "port", "abspath", "password", "enum", "wslist", "list", "bool"] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export interface EndpointField {
  name: string;
  type: FieldType;
  title: string;
  help: string;
  required: boolean;
  default?: string;
  example?: string;
  /** The values an "enum" field allows (empty for other types). */
  enum: string[];
}

/** Field types whose value is text: the original Shield's plugins read them as strings. */
const TEXT_TYPES: ReadonlySet<string> = new Set<FieldType>(["string", "password", "abspath", "enum"]);

/**
 * What an endpoint's JSON value must be for a field of this type, in words, when
 * the value is not that (the API refuses it before the plugin's `validate` runs);
 * undefined when it is. Only types whose JSON shape is unambiguous are judged;
 * others (bool, wslist, types a plugin invents) are left to the plugin's `validate`.
 */
export function jsonShapeProblem(type: string, value: unknown): string | undefined {
  if (TEXT_TYPES.has(type) && typeof value !== "string") return "must be a string";
  // A port as the user typed it ("5432") or as a number: both are read alike by our
  // plugins; the web UI and CLI send what was typed, so original plugins get strings.
  if (type === "port" && typeof value !== "string" && !Number.isInteger(value)) return "must be a port number, as a string or a whole number";
  if (type === "list" && !(Array.isArray(value) && value.every((x) => typeof x === "string"))) return `must be a list of strings, like ["a", "b"]`;
  return undefined;
}

const text = (x: unknown) => (typeof x === "string" ? x : typeof x === "number" ? String(x) : undefined);

/**
 * The well-formed fields of a plugin's `info` (its own output, possibly from a
 * plugin written for the original Shield, whose `required` may be "yes" and whose
 * fields also carry a "mode"). An enum without values is offered as a string.
 */
export function fieldsOf(info: unknown): EndpointField[] {
  const raw = (info as { fields?: unknown } | null)?.fields;
  if (!Array.isArray(raw)) return [];
  const out: EndpointField[] = [];
  for (const f of raw) {
    if (!f || typeof f !== "object" || typeof f.name !== "string" || !f.name) continue;
    const values = Array.isArray(f.enum) ? f.enum.map(text).filter((v: string | undefined): v is string => v !== undefined && v !== "") : [];
    let type: FieldType = (FIELD_TYPES as readonly string[]).includes(f.type) ? f.type : "string";
    if (type === "enum" && values.length === 0) type = "string";
    out.push({
      name: f.name, type,
      title: text(f.title) || f.name,
      help: text(f.help) ?? "",
      required: f.required === true || f.required === "yes",
      default: text(f.default),
      example: text(f.example),
      enum: type === "enum" ? values : [],
    });
  }
  return out;
}

function items(typed: string, separator: RegExp): string[] {
  return typed.split(separator).map((s) => s.trim()).filter(Boolean);
}

/**
 * How a list is typed: one item a line (the web UI's text area), or on one line
 * (the CLI's prompt: a "list" comma-separated, a "wslist" space-separated).
 */
export interface Typing { lines: boolean }

/** Why the typed text is not a value of the field, or undefined when it is (an empty text always is). */
export function fieldProblem(f: EndpointField, typed: string): string | undefined {
  const t = typed.trim();
  if (t === "" || f.type === "password") return undefined;
  switch (f.type) {
    case "port": {
      const n = /^\d{1,5}$/.test(t) ? Number(t) : NaN;
      return n >= 1 && n <= 65535 ? undefined : "must be a port number (1-65535)";
    }
    case "abspath": return t.startsWith("/") ? undefined : "must be an absolute path, starting with /";
    case "enum": return f.enum.includes(t) ? undefined : `must be one of ${f.enum.join(", ")}`;
    case "bool": return /^(y|yes|n|no|true|false|on|off)$/i.test(t) ? undefined : "answer yes or no";
    default: return undefined;
  }
}

/**
 * The endpoint value of a typed text; undefined leaves the key out, so that the
 * plugin's default applies. A password is never left out, nor trimmed: an empty
 * one is sent as "" (the original mysql plugin requires the key, empty or not).
 */
export function fieldValue(f: EndpointField, typed: string, how: Typing): unknown {
  if (f.type === "password") return typed;
  const t = typed.trim();
  if (t === "") return undefined;
  switch (f.type) {
    case "bool": return /^(y|yes|true|on)$/i.test(t);
    case "list": return items(t, how.lines ? /\n/ : /,/);
    case "wslist": return items(t, /\s+/).join(" ");
    default: return t;
  }
}

/** A stored value as the text to edit it by, typed as `how` says. */
export function fieldText(f: EndpointField, stored: unknown, how: Typing): string | undefined {
  if (stored === undefined || stored === null) return undefined;
  const join = how.lines ? "\n" : f.type === "wslist" ? " " : ", ";
  if (f.type === "bool") return String(stored === true || (typeof stored === "string" && /^(1|y|yes|t|true|on)$/i.test(stored)));
  if (Array.isArray(stored)) return stored.map(String).join(join);
  if (f.type === "wslist" && typeof stored === "string") return items(stored, /\s+/).join(join);
  return typeof stored === "object" ? JSON.stringify(stored) : String(stored);
}
