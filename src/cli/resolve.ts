// Wherever a UUID is expected the CLI takes a name or a UUID prefix too. A full
// UUID goes straight to the API; anything else is looked up in the kind's list:
// an exact name first (names are unique per kind), then names ignoring case and
// UUID prefixes. More than one candidate is an error that lists them; so is no
// candidate, with the names the text begins or is a typo of.
import type { Api } from "./client.ts";
import { CliError, UsageError } from "./errors.ts";
import { nearest, tolerance } from "../edit-distance.ts";

export interface Kind {
  /** As people say it: "target", "retention policy". */
  name: string;
  plural: string;
  list: string;
  /** GET item/:uuid; undefined for kinds without one (tokens). */
  item?: string;
  named: boolean;
  /** Listed 1000 at a time (archives, tasks). */
  paged?: boolean;
  /** One line about a candidate, for the ambiguity message. */
  describe: (o: any) => string;
}

const named = (o: any) => `${o.name}`;
export const KINDS = {
  target: { name: "target", plural: "targets", list: "/v1/targets", item: "/v1/target", named: true, describe: (o: any) => `${o.name} (${o.plugin})` },
  store: { name: "store", plural: "stores", list: "/v1/stores", item: "/v1/store", named: true, describe: (o: any) => `${o.name} (${o.plugin})` },
  schedule: { name: "schedule", plural: "schedules", list: "/v1/schedules", item: "/v1/schedule", named: true, describe: (o: any) => `${o.name} (${o.when})` },
  retention: { name: "retention policy", plural: "retention policies", list: "/v1/retention", item: "/v1/retention", named: true, describe: named },
  job: { name: "job", plural: "jobs", list: "/v1/jobs", item: "/v1/job", named: true, describe: (o: any) => `${o.name} (${o.target_name} → ${o.store_name})` },
  archive: { name: "archive", plural: "archives", list: "/v1/archives", item: "/v1/archive", named: false, paged: true, describe: (o: any) => `${o.target_name ?? o.target_uuid} taken ${o.taken_at}, ${o.status}` },
  task: { name: "task", plural: "tasks", list: "/v1/tasks", item: "/v1/task", named: false, paged: true, describe: (o: any) => `${o.type} ${o.status}, requested ${o.requested_at}` },
  user: { name: "user", plural: "users", list: "/v1/users", item: "/v1/user", named: true, describe: (o: any) => `${o.name} (${o.role})` },
  token: { name: "token", plural: "tokens", list: "/v1/auth/tokens", named: true, describe: (o: any) => `${o.name} (created ${o.created_at})` },
  // Every user's tokens (admins): token names are unique per user only, so by UUID prefix.
  session: { name: "session", plural: "sessions", list: "/v1/auth/sessions", named: false, describe: (o: any) => `${o.user.name}: ${o.name}` },
} satisfies Record<string, Kind>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE = 1000;

export async function listAll(api: Api, kind: Kind): Promise<any[]> {
  if (!kind.paged) return api.get<any[]>(kind.list);
  const all: any[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await api.get<any[]>(kind.list, { limit: PAGE, offset });
    all.push(...page);
    if (page.length < PAGE) return all;
  }
}

/** The object a name, UUID or UUID prefix refers to, as the API shows it. */
export async function resolve(api: Api, kind: Kind, text: string): Promise<any> {
  const t = text.trim();
  if (!t) throw new UsageError(`give a ${kind.name} by name or UUID`);
  if (UUID.test(t) && kind.item) return api.get(`${kind.item}/${t.toLowerCase()}`);
  const all = await listAll(api, kind);
  if (kind.named) {
    const exact = all.find((o) => o.name === t);
    if (exact) return exact;
  }
  const lower = t.toLowerCase();
  const matches = all.filter((o) => (kind.named && String(o.name).toLowerCase() === lower) || String(o.uuid).startsWith(lower));
  if (matches.length === 1) return matches[0];
  const listCmd = `shield list ${kind.plural}`;
  const lines = (found: any[]) => found.map((o) => `  ${o.uuid}  ${kind.describe(o)}`).join("\n");
  if (matches.length > 1) {
    throw new CliError(`"${t}" is ambiguous: it matches ${matches.length} ${kind.plural}; give ${kind.named ? "the exact name or " : ""}more of the UUID:\n${lines(matches)}`);
  }
  // No name is it: the names it begins (or is part of), else the one it is a typo of.
  // Never taken for the user: a delete must name exactly what it deletes.
  const near = kind.named ? nearNames(all, t) : [];
  if (near.length > 1) {
    throw new CliError(`no ${kind.name} is named "${t}", and ${near.length} ${kind.plural} have names like it; give the exact name:\n${lines(near)}`);
  }
  if (near.length === 1) throw new CliError(`no ${kind.name} is named "${t}"; did you mean "${near[0].name}"?\n${lines(near)}`);
  throw new CliError(`no ${kind.name} ${kind.named ? `named "${t}" or ` : ""}with a UUID starting "${t}" (see ${listCmd})`);
}

/** The objects whose names start with or contain the text (ignoring case), else the one its nearest typo names. */
function nearNames(all: any[], text: string): any[] {
  const lower = text.toLowerCase();
  const starting = all.filter((o) => String(o.name).toLowerCase().startsWith(lower));
  if (starting.length) return starting;
  const containing = lower.length >= 3 ? all.filter((o) => String(o.name).toLowerCase().includes(lower)) : [];
  if (containing.length) return containing;
  const name = nearest(text, all.map((o) => String(o.name)), tolerance(text));
  return name === undefined ? [] : all.filter((o) => o.name === name);
}

export async function resolveUuid(api: Api, kind: Kind, text: string): Promise<string> {
  return (await resolve(api, kind, text)).uuid;
}
