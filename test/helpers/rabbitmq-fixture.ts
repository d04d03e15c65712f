// What the rabbitmq tests put on a broker and how they compare two brokers: vhosts
// (one with a slash in its name), users with tags and limits, permissions, topic
// permissions, policies, operator policies and vhost limits (parameters), classic
// and quorum queues, exchanges of every type, and bindings to queues and exchanges,
// all made through the management API; and a few messages, which are not definitions.
import { startRabbit, type RabbitNode } from "./rabbitmq.ts";

export const VHOSTS = ["shield-app", "team/b"] as const;
const v = encodeURIComponent;

let seeded: Promise<RabbitNode> | undefined;

/** The run's shared node, seeded once whichever test file asks first. */
export function seededRabbit(): Promise<RabbitNode> {
  return (seeded ??= startRabbit().then(async (n) => { await seedBroker(n); return n; }));
}

export async function seedBroker(n: RabbitNode): Promise<void> {
  for (const vh of VHOSTS) {
    await n.api("PUT", `/api/vhosts/${v(vh)}`, {});
    await n.api("PUT", `/api/permissions/${v(vh)}/${v(n.username)}`, { configure: ".*", write: ".*", read: ".*" });
  }
  await n.api("PUT", "/api/users/app-writer", { password: "writer-pass", tags: "monitoring" });
  await n.api("PUT", "/api/users/app-reader", { password: "reader-pass", tags: "" });
  await n.api("PUT", "/api/user-limits/app-reader/max-channels", { value: 10 });
  await n.api("PUT", `/api/permissions/shield-app/app-writer`, { configure: "^orders", write: ".*", read: ".*" });
  await n.api("PUT", `/api/permissions/shield-app/app-reader`, { configure: "", write: "", read: ".*" });
  await n.api("PUT", `/api/permissions/${v("team/b")}/app-reader`, { configure: "", write: "", read: "^events" });
  await n.api("PUT", `/api/topic-permissions/shield-app/app-writer`, { exchange: "amq.topic", write: "^orders\\.", read: ".*" });
  await n.api("PUT", "/api/policies/shield-app/ttl", { pattern: "^ttl\\.", definition: { "message-ttl": 60000 }, "apply-to": "queues", priority: 1 });
  await n.api("PUT", "/api/policies/shield-app/limit-payments", { pattern: "^payments$", definition: { "delivery-limit": 5 }, "apply-to": "queues" });
  await n.api("PUT", `/api/policies/${v("team/b")}/ha-ish`, { pattern: ".*", definition: { "max-length": 100000 }, "apply-to": "queues" });
  await n.api("PUT", "/api/operator-policies/shield-app/cap", { pattern: ".*", definition: { "max-length-bytes": 100000000 }, "apply-to": "queues" });
  await n.api("PUT", "/api/vhost-limits/shield-app/max-connections", { value: 500 });

  const queue = (vh: string, name: string, args: Record<string, unknown> = {}) =>
    n.api("PUT", `/api/queues/${v(vh)}/${v(name)}`, { durable: true, auto_delete: false, arguments: args });
  await queue("shield-app", "orders");
  await queue("shield-app", "payments", { "x-queue-type": "quorum" });
  await queue("shield-app", "ttl.jobs", { "x-max-length": 1000 });
  await queue(VHOSTS[1], "events", { "x-queue-type": "quorum" });
  await queue(VHOSTS[1], "audit", { "x-queue-mode": "lazy" });

  const exchange = (vh: string, name: string, type: string, args: Record<string, unknown> = {}) =>
    n.api("PUT", `/api/exchanges/${v(vh)}/${v(name)}`, { type, durable: true, auto_delete: false, internal: false, arguments: args });
  await exchange("shield-app", "broadcast", "fanout");
  await exchange("shield-app", "orders.topic", "topic", { "alternate-exchange": "broadcast" });
  await exchange("shield-app", "orders.direct", "direct");
  await exchange("shield-app", "by-headers", "headers");
  await exchange(VHOSTS[1], "events.x", "topic");

  const bind = (vh: string, source: string, kind: "q" | "e", dest: string, routing_key: string, args: Record<string, unknown> = {}) =>
    n.api("POST", `/api/bindings/${v(vh)}/e/${v(source)}/${kind}/${v(dest)}`, { routing_key, arguments: args });
  await bind("shield-app", "orders.topic", "q", "orders", "orders.#");
  await bind("shield-app", "orders.topic", "q", "payments", "orders.paid");
  await bind("shield-app", "orders.topic", "e", "orders.direct", "orders.direct.#");
  await bind("shield-app", "orders.direct", "q", "orders", "new");
  await bind("shield-app", "broadcast", "q", "ttl.jobs", "");
  await bind("shield-app", "by-headers", "q", "orders", "", { "x-match": "all", kind: "order" });
  await bind(VHOSTS[1], "events.x", "q", "events", "#");
  await bind(VHOSTS[1], "events.x", "q", "audit", "audit.*");

  for (let i = 0; i < 3; i++) {
    await n.api("POST", "/api/exchanges/shield-app/amq.default/publish", { properties: {}, routing_key: "orders", payload: `order ${i}`, payload_encoding: "string" });
  }
}

/** Object keys sorted at every level, so that two exports compare whatever their order. */
function canonical(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonical).join(",")}]`;
  if (x !== null && typeof x === "object") return `{${Object.keys(x).sort().map((k) => `${JSON.stringify(k)}:${canonical((x as any)[k])}`).join(",")}}`;
  return JSON.stringify(x);
}

const sorted = (list: unknown[] | undefined) => (list ?? []).map(canonical).sort();
/** One vhost's export names its vhost in some entries (policies, parameters): compare without it. */
const unnamed = (list: any[] | undefined) => (list ?? []).map(({ vhost: _, ...rest }) => rest);

/**
 * A broker's definitions as sorted canonical lines, for equality between two
 * brokers. The node's own administrator is left out of `users` (each node has its
 * own password, and a restore keeps the endpoint user's), and so is everything
 * that names the node (versions, internal_cluster_id); one vhost's entries are
 * compared without their vhost, so that a copy in another vhost compares equal.
 */
export async function definitionsOf(n: RabbitNode, vhost?: string) {
  const d = await n.api("GET", vhost === undefined ? "/api/definitions" : `/api/definitions/${v(vhost)}`);
  if (vhost !== undefined) for (const k of ["parameters", "policies", "queues", "exchanges", "bindings"]) d[k] = unnamed(d[k]);
  return {
    users: sorted((d.users ?? []).filter((u: any) => u.name !== n.username)),
    vhosts: sorted(d.vhosts),
    permissions: sorted(d.permissions),
    topic_permissions: sorted(d.topic_permissions),
    parameters: sorted(d.parameters),
    policies: sorted(d.policies),
    queues: sorted(d.queues),
    exchanges: sorted(d.exchanges),
    bindings: sorted(d.bindings),
  };
}

/** The number of messages a queue holds now (the management API's stats lag by up to 5 s: poll). */
export async function messagesIn(n: RabbitNode, vhost: string, queue: string, expect: number): Promise<number> {
  let last = -1;
  for (let i = 0; i < 60; i++) {
    const q = await n.api("GET", `/api/queues/${v(vhost)}/${v(queue)}`);
    last = q.messages ?? -1;
    if (last === expect) return last;
    await Bun.sleep(250);
  }
  return last;
}
