// Create and edit share one description of a request's fields: the flag that sets
// each, how its text becomes the API value, and how to ask for it on a terminal.
// Without a terminal, a missing required field is an error naming its flag.
import type { Ctx } from "./command.ts";
import { UsageError } from "./errors.ts";
import { ask } from "./prompt.ts";

export type Body = Record<string, unknown>;

export interface Field {
  /** The API request field. */
  key: string;
  /** The flag, without dashes. */
  flag: string;
  question: string;
  /** Required on create (edit sends every field, taken from the current object). */
  required: boolean;
  /** Flag or answer text → API value (names are resolved to UUIDs here). */
  parse?: (text: string, ctx: Ctx) => unknown;
  /** A custom question (plugin and endpoint); `current` is the API value when editing. */
  ask?: (ctx: Ctx, body: Body, current: unknown) => Promise<unknown>;
  /** The current object's value, in the request's terms (job: target_uuid → target). */
  from?: (obj: any) => unknown;
  /** The current value as the prompt's default (a UUID shown as its name). */
  show?: (obj: any) => string;
  /** A boolean flag (--paused). */
  boolean?: boolean;
  /** Only on create (a job's paused). */
  createOnly?: boolean;
  /** Never asked for: the API's default serves (priority, compression). */
  noPrompt?: boolean;
  /** Its parse asks the core (a name to resolve): done after the local checks, so a typo in another flag is reported first. */
  remote?: boolean;
  /** Sent on create when neither a flag nor an answer gave a value (a target's agent: ""). */
  fallback?: unknown;
}

async function value(ctx: Ctx, f: Field, text: string): Promise<unknown> {
  return f.parse ? await f.parse(text, ctx) : text;
}

async function askFor(ctx: Ctx, f: Field, body: Body, current: any, editing: boolean): Promise<unknown> {
  const was = editing ? (f.from ? f.from(current) : current?.[f.key]) : undefined;
  if (f.ask) return f.ask(ctx, body, was);
  const fallback = editing ? (f.show ? f.show(current) : was === undefined || was === null ? undefined : String(was)) : undefined;
  const answer = await ask(f.question, { required: f.required, default: fallback });
  if (answer === "" && !f.required) return editing ? was : undefined;
  return value(ctx, f, answer);
}

/** The values of the flags given, local checks first. */
async function fromFlags(ctx: Ctx, fields: Field[]): Promise<Body> {
  const given = fields.filter((f) => !f.boolean && ctx.has(f.flag));
  const out: Body = {};
  for (const f of [...given.filter((f) => !f.remote), ...given.filter((f) => f.remote)]) out[f.key] = await value(ctx, f, ctx.str(f.flag)!);
  return out;
}

/** The body of a create request, from flags and, on a terminal, questions. */
export async function createBody(ctx: Ctx, fields: Field[]): Promise<Body> {
  const missing = fields.filter((f) => f.required && !ctx.has(f.flag)).map((f) => `--${f.flag}`);
  if (missing.length && !ctx.interactive) {
    throw new UsageError(`missing ${missing.join(", ")} (there is no terminal to ask on); see shield ${ctx.command.verb} ${ctx.command.noun} --help`);
  }
  const body: Body = {};
  const given = await fromFlags(ctx, fields);
  for (const f of fields) {
    if (f.boolean) {
      // A switch left off is its fallback (a job starts unpaused), never a missing field.
      if (ctx.flag(f.flag)) body[f.key] = true;
      else if (f.fallback !== undefined) body[f.key] = f.fallback;
      continue;
    }
    if (f.key in given) body[f.key] = given[f.key];
    else if (ctx.interactive && !f.noPrompt) {
      const v = await askFor(ctx, f, body, undefined, false);
      if (v !== undefined) body[f.key] = v;
    }
    if (body[f.key] === undefined && f.fallback !== undefined) body[f.key] = f.fallback;
  }
  return body;
}

/** The body of an update: the current object, with what the flags (or, with none on a terminal, the answers) change. */
export async function editBody(ctx: Ctx, fields: Field[], current: any): Promise<Body> {
  const editable = fields.filter((f) => !f.createOnly);
  const body: Body = {};
  for (const f of editable) {
    const v = f.from ? f.from(current) : current[f.key];
    if (v !== undefined && v !== null) body[f.key] = v;
  }
  const given = editable.filter((f) => ctx.has(f.flag));
  if (given.length) return Object.assign(body, await fromFlags(ctx, given));
  if (!ctx.interactive) {
    throw new UsageError(`nothing to change: give one or more of ${editable.map((f) => `--${f.flag}`).join(", ")}`);
  }
  process.stderr.write("Enter keeps the value in brackets.\n");
  for (const f of editable) {
    if (f.noPrompt) continue;
    const v = await askFor(ctx, f, body, current, true);
    if (v !== undefined) body[f.key] = v;
  }
  return body;
}

/** The flags of a form, for a command's spec list. */
export function formSpecs(fields: Field[]) {
  return fields.map((f) => ({ name: f.flag, flag: !!f.boolean }));
}
