// Broker definitions as the management API exports them (GET /api/definitions):
// what an archive of the rabbitmq target holds, byte for byte the broker's JSON,
// so an archive made by the original Shield's rabbitmq-broker plugin restores too.
//
// Two shapes: a whole broker's (users, vhosts, permissions, topic_permissions,
// parameters, global_parameters, policies, queues, exchanges, bindings, each of
// the last five naming its vhost), and one vhost's (GET /api/definitions/VHOST:
// parameters, policies, queues, exchanges, bindings, with no vhost in them).
import { PluginError } from "../protocol.ts";

type Entry = Record<string, unknown>;

export interface Definitions {
  users?: Entry[];
  vhosts?: Entry[];
  permissions?: Entry[];
  topic_permissions?: Entry[];
  parameters?: Entry[];
  global_parameters?: Entry[];
  policies?: Entry[];
  queues?: Entry[];
  exchanges?: Entry[];
  bindings?: Entry[];
  [other: string]: unknown;
}

/** The per-vhost kinds: what GET /api/definitions/VHOST holds. */
const VHOST_KINDS = ["parameters", "policies", "queues", "exchanges", "bindings"] as const;
const ALL_KINDS = ["users", "vhosts", "permissions", "topic_permissions", "global_parameters", ...VHOST_KINDS] as const;

/** A whole broker's export names its vhosts; one vhost's does not. */
export function isWholeBroker(d: Definitions): boolean {
  return Array.isArray(d.vhosts);
}

/** The archive's text as definitions; anything else is refused before the broker is touched. */
export function parseDefinitions(text: string): Definitions {
  if (text.trim() === "") throw new PluginError("nothing to restore: the input is empty");
  let d: unknown;
  try {
    d = JSON.parse(text);
  } catch (err) {
    throw new PluginError(`the input is not RabbitMQ definitions: not JSON (${(err as Error).message})`);
  }
  if (d === null || typeof d !== "object" || Array.isArray(d)) throw new PluginError("the input is not RabbitMQ definitions: not a JSON object");
  const defs = d as Definitions;
  if (!ALL_KINDS.some((k) => k in defs)) throw new PluginError(`the input is not RabbitMQ definitions: it has none of ${ALL_KINDS.join(", ")}`);
  for (const k of ALL_KINDS) {
    const v = defs[k];
    if (v !== undefined && !(Array.isArray(v) && v.every((e) => e !== null && typeof e === "object" && !Array.isArray(e)))) {
      throw new PluginError(`the input is not RabbitMQ definitions: "${k}" is not a list of objects`);
    }
  }
  return defs;
}

export function vhostNames(d: Definitions): string[] {
  return (d.vhosts ?? []).map((v) => String(v.name));
}

/** One vhost of a whole broker's export, in the per-vhost shape (POST /api/definitions/VHOST takes it). */
export function forVhost(d: Definitions, vhost: string): Definitions {
  const names = vhostNames(d);
  if (!names.includes(vhost)) {
    throw new PluginError(`the archive holds no vhost "${vhost}" (it holds ${names.map((n) => `"${n}"`).join(", ") || "none"})`);
  }
  const out: Definitions = {};
  for (const k of ["rabbit_version", "rabbitmq_version"]) if (k in d) out[k] = d[k];
  for (const k of VHOST_KINDS) {
    out[k] = (d[k] ?? []).filter((e) => e.vhost === vhost).map(({ vhost: _, ...rest }) => rest);
  }
  return out;
}

/**
 * What a whole-broker restore imports: the archive, less what would change who
 * the broker is or lock this restore out.
 * - The endpoint's own user keeps its password and tags: importing the archive's
 *   hash would replace the password this restore (and the next backup) logs in
 *   with, and restoring into a new broker would lock Shield out of it. Its
 *   permissions are still imported.
 * - internal_cluster_id stays the broker's own: a restored copy is a different
 *   cluster, and federation and shovels tell clusters apart by it.
 */
export function forImport(d: Definitions, ownUser: string): { defs: Definitions; keptUser: boolean } {
  const users = d.users ?? [];
  const keptUser = users.some((u) => u.name === ownUser);
  const defs: Definitions = { ...d };
  if (d.users) defs.users = users.filter((u) => u.name !== ownUser);
  if (d.global_parameters) defs.global_parameters = d.global_parameters.filter((p) => p.name !== "internal_cluster_id");
  return { defs, keptUser };
}

/** Object keys sorted at every level: two argument tables compare equal whatever their order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Entry)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}

// Checking one vhost, its name is the endpoint's: a vhost's export may still name
// the vhost it came from (policies do), and it may be restored into another.
const vhostOf = (e: Entry, vhost: string | undefined) => vhost ?? e.vhost;
const inVhost = (e: Entry, vhost: string | undefined) => ` in vhost "${String(vhostOf(e, vhost) ?? "")}"`;
const queueType = (q: Entry) => String((q.arguments as Entry | undefined)?.["x-queue-type"] ?? "classic");

interface Checked { key: string; label: string; traits: string }

function queues(d: Definitions, vhost?: string): Checked[] {
  return (d.queues ?? []).map((q) => ({
    key: canonical([vhostOf(q, vhost), q.name]),
    label: `queue "${String(q.name)}"${inVhost(q, vhost)}`,
    traits: `${queueType(q)}, ${q.durable === false ? "transient" : "durable"}`,
  }));
}

function exchanges(d: Definitions, vhost?: string): Checked[] {
  return (d.exchanges ?? []).map((x) => ({
    key: canonical([vhostOf(x, vhost), x.name]),
    label: `exchange "${String(x.name)}"${inVhost(x, vhost)}`,
    traits: `${String(x.type)}, ${x.durable === false ? "transient" : "durable"}`,
  }));
}

function bindings(d: Definitions, vhost?: string): Checked[] {
  return (d.bindings ?? []).map((b) => ({
    key: canonical([vhostOf(b, vhost), b.source, b.destination, b.destination_type, b.routing_key ?? "", b.arguments ?? {}]),
    label: `binding of ${String(b.destination_type)} "${String(b.destination)}" to exchange "${String(b.source)}" with key "${String(b.routing_key ?? "")}"${inVhost(b, vhost)}`,
    traits: "",
  }));
}

/**
 * What the broker lacks of the archive after an import, one line each: every
 * queue, exchange and binding of `archive` must be on `broker`, queues and
 * exchanges of the same type and durability (an import skips a queue that
 * exists with another type, and says nothing). Both are read the same way:
 * one vhost's definitions with `vhost` set, a whole broker's without.
 */
export function missingFrom(archive: Definitions, broker: Definitions, vhost?: string): string[] {
  const problems: string[] = [];
  for (const get of [queues, exchanges, bindings]) {
    const have = new Map(get(broker, vhost).map((c) => [c.key, c]));
    for (const want of get(archive, vhost)) {
      const got = have.get(want.key);
      if (!got) problems.push(`${want.label} is missing`);
      else if (got.traits !== want.traits) problems.push(`${want.label} is ${got.traits} on the broker, ${want.traits} in the archive`);
    }
  }
  return problems;
}

/** "3 vhosts, 4 users, 7 queues, ..." for the log. */
export function summary(d: Definitions): string {
  return ALL_KINDS.filter((k) => Array.isArray(d[k]) && k !== "global_parameters")
    .map((k) => `${d[k]!.length} ${k.replace("_", " ")}`).join(", ");
}
