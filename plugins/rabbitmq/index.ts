// The rabbitmq target: a broker's definitions (users with their password hashes,
// vhosts, permissions, topic permissions, policies, parameters, queues, exchanges
// and bindings) through the management HTTP API, GET /api/definitions to back up
// and POST /api/definitions to restore. The endpoint keys are those of the
// original Shield's rabbitmq-broker plugin, plus rmq_vhost.
//
// Messages are not definitions, and are not backed up: see MESSAGES below.
// The credentials travel in an Authorization header only: no argument of any
// process holds them, and nothing here prints them.
import {
  EndpointInvalid, PluginError, secretLine, str, type ActionContext, type Endpoint, type Plugin,
} from "../protocol.ts";
import { VERSION } from "../../src/version.ts";
import { BrokerRefused, getJSON, request, seg, type Broker } from "./api.ts";
import {
  forImport, forVhost, isWholeBroker, missingFrom, parseDefinitions, summary, type Definitions,
} from "./definitions.ts";

/**
 * Why `rmq_messages: "shovel"` (drain named queues into the archive, republish
 * on restore) is refused rather than offered:
 * - a backup must not change what it backs up, and the only ways to read a
 *   queue's messages take them from its consumers: a shovel or a consumer moves
 *   them (they are gone from the live queue until republished), and the
 *   management API's "get messages" requeues each one, which marks it
 *   redelivered, reorders it behind newer ones and is documented as for
 *   diagnostics only;
 * - on a live broker there is no consistent cut: producers and consumers keep
 *   going while the queues are read, so the archive is neither "before" nor
 *   "after" anything, and republishing duplicates what consumers already had;
 * - republishing loses what makes a message what it is on the broker: its
 *   position, its delivery count (quorum queues' poison-message limit), the time
 *   left of its TTL, and the per-message state of streams;
 * - it needs an AMQP client and the shovel plugin on the broker, neither of
 *   which the management API gives.
 * Messages that must survive a broker's loss belong in its own replication
 * (quorum queues, federation, a second cluster), not in a backup.
 */
const MESSAGES = "Messages are not definitions: the messages in the queues are not backed up (rmq_messages \"shovel\" is refused; README, \"RabbitMQ\").";

interface Config extends Broker {
  /** Absent: every vhost, and the users and permissions with them. */
  vhost?: string;
}

/** The original plugin's BooleanValue took JSON booleans; endpoints written as text say "true"/"false". */
function bool(endpoint: Endpoint, field: string): boolean {
  const v = endpoint[field];
  if (v === undefined || v === null || v === "") return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    if (/^(true|yes|on|1)$/i.test(v.trim())) return true;
    if (/^(false|no|off|0)$/i.test(v.trim())) return false;
  }
  throw new EndpointInvalid(field, `must be true or false, not ${JSON.stringify(v)}`);
}

/** The management API's root: http(s), no credentials in it, no trailing slash. */
function managementURL(endpoint: Endpoint): string {
  const raw = str(endpoint, "rmq_url", { required: true }).trim();
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new EndpointInvalid("rmq_url", "must be the http(s) URL of the management API, like https://rabbit.example.com:15672");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new EndpointInvalid("rmq_url", `must be an http or https URL, not ${u.protocol.replace(/:$/, "")}`);
  // In the URL they would be stored and shown as plain text; the password field is kept secret.
  if (u.username || u.password) throw new EndpointInvalid("rmq_url", "may not hold a user or password: use rmq_username and rmq_password");
  if (u.search || u.hash) throw new EndpointInvalid("rmq_url", "may not hold a query or fragment: it is the management API's root");
  return `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
}

function config(ctx: ActionContext): Config {
  const e = ctx.endpoint;
  const c: Config = {
    url: managementURL(e),
    username: str(e, "rmq_username", { required: true }),
    // RabbitMQ refuses a blank password at login, so an empty one is as good as none.
    password: str(e, "rmq_password", { required: true }),
    insecure: bool(e, "skip_ssl_validation"),
    vhost: str(e, "rmq_vhost"),
  };
  const messages = str(e, "rmq_messages");
  if (messages !== undefined && messages !== "none") {
    throw new EndpointInvalid("rmq_messages", messages === "shovel"
      ? `"shovel" is not offered: reading a live queue's messages takes them from its consumers and no backup may do that (README, "RabbitMQ"); back up definitions only (leave rmq_messages out)`
      : `must be absent or "none" (messages are not backed up), not ${JSON.stringify(messages)}`);
  }
  return c;
}

const definitionsPath = (vhost?: string) => (vhost === undefined ? "/api/definitions" : `/api/definitions/${seg(vhost)}`);
const scope = (c: Config) => (c.vhost === undefined ? "every vhost" : `vhost "${c.vhost}"`);

async function backup(ctx: ActionContext): Promise<void> {
  const c = config(ctx);
  ctx.log(`rabbitmq: exporting the definitions of ${scope(c)} from ${c.url}`);
  const text = await request(c, "GET", definitionsPath(c.vhost), { signal: ctx.signal });
  // Whole and well formed before a byte goes out: the archive is one JSON document or nothing.
  let defs: Definitions;
  try {
    defs = parseDefinitions(text);
  } catch (err) {
    throw new PluginError(`GET ${definitionsPath(c.vhost)} at ${c.url} did not answer definitions (is rmq_url the management API?): ${(err as Error).message}`);
  }
  const w = ctx.stdout.getWriter();
  // As the original plugin wrote it: the broker's JSON and a newline.
  await w.write(new TextEncoder().encode(text.endsWith("\n") ? text : text + "\n"));
  w.releaseLock();
  ctx.log(`rabbitmq: exported ${summary(defs)}; messages are not backed up`);
}

/** Creates the vhost unless it exists, as the postgres target creates its database. */
async function ensureVhost(c: Config, vhost: string, ctx: ActionContext): Promise<void> {
  try {
    await request(c, "GET", `/api/vhosts/${seg(vhost)}`, { signal: ctx.signal });
    return;
  } catch (err) {
    if (!(err instanceof BrokerRefused && err.status === 404)) throw err;
  }
  await request(c, "PUT", `/api/vhosts/${seg(vhost)}`, { body: "{}", signal: ctx.signal });
  ctx.log(`rabbitmq: created vhost "${vhost}"`);
}

async function restore(ctx: ActionContext): Promise<void> {
  const c = config(ctx);
  // Read whole first: definitions are imported in one request, and an input cut
  // short fails here, before the broker is touched.
  const defs = parseDefinitions(await new Response(ctx.stdin).text());
  let payload: Definitions;
  if (c.vhost !== undefined) {
    if (isWholeBroker(defs)) {
      payload = forVhost(defs, c.vhost);
      ctx.log(`rabbitmq: restoring vhost "${c.vhost}" of a whole-broker archive: its users and permissions are not restored with rmq_vhost`);
    } else {
      payload = defs;
    }
    await ensureVhost(c, c.vhost, ctx);
  } else {
    if (!isWholeBroker(defs)) throw new PluginError("this archive holds one vhost's definitions: set rmq_vhost to the vhost to restore it into");
    const imported = forImport(defs, c.username);
    payload = imported.defs;
    if (imported.keptUser) ctx.log(`rabbitmq: user "${c.username}" (this endpoint's) keeps its current password and tags; its permissions are restored`);
  }
  ctx.log(`rabbitmq: importing ${summary(payload)} into ${scope(c)} of ${c.url}`);
  await request(c, "POST", definitionsPath(c.vhost), { body: JSON.stringify(payload), signal: ctx.signal });

  // The broker answers 204 even when it skipped something (a queue that exists
  // with another type): what the archive holds must now be on the broker.
  const after = await getJSON<Definitions>(c, definitionsPath(c.vhost), ctx.signal);
  const problems = missingFrom(payload, after, c.vhost);
  if (problems.length) {
    const shown = problems.slice(0, 10).join("; ");
    throw new PluginError(`the broker took the import but does not hold what the archive does: ${shown}${problems.length > 10 ? `; and ${problems.length - 10} more` : ""}`);
  }
  ctx.log(`rabbitmq: checked: every queue, exchange and binding of the archive is on the broker; messages are not restored`);
}

async function test(ctx: ActionContext): Promise<string[]> {
  const c = config(ctx);
  const overview = await getJSON<{ rabbitmq_version?: string; management_version?: string; cluster_name?: string }>(c, "/api/overview", ctx.signal);
  const me = await getJSON<{ name?: string; tags?: string[] | string }>(c, "/api/whoami", ctx.signal);
  // Before 3.9 tags were one comma-separated string.
  const tags = Array.isArray(me.tags) ? me.tags : String(me.tags ?? "").split(",").map((t) => t.trim()).filter(Boolean);
  const version = overview.rabbitmq_version ?? overview.management_version ?? "(version not reported)";
  const where = `${c.url} as ${me.name ?? c.username}: RabbitMQ ${version}${overview.cluster_name ? `, cluster "${overview.cluster_name}"` : ""}`;
  if (!tags.includes("administrator")) {
    throw new PluginError(`connected to ${where}, but the user lacks the administrator tag that exporting and importing definitions needs (its tags: ${tags.join(", ") || "none"})`);
  }
  const lines = [`ok: connected to ${where}; the user has the administrator tag`];
  if (c.vhost !== undefined) {
    try {
      await request(c, "GET", `/api/vhosts/${seg(c.vhost)}`, { signal: ctx.signal });
      lines.push(`vhost "${c.vhost}" exists`);
    } catch (err) {
      if (!(err instanceof BrokerRefused && err.status === 404)) throw err;
      lines.push(`vhost "${c.vhost}" does not exist yet (a backup fails; a restore creates it)`);
    }
  }
  return lines;
}

export const rabbitmq: Plugin = {
  info: {
    name: "rabbitmq",
    author: "Shield",
    version: VERSION,
    features: { target: "yes", store: "no" },
    endpoint_from: "env",
    fields: [
      { name: "rmq_url", type: "string", title: "Management API URL", required: true, help: `URL of the broker's management API (the rabbitmq_management plugin). Backs up the broker's definitions: users with their password hashes, vhosts, permissions, policies, parameters, queues, exchanges and bindings. ${MESSAGES}`, example: "https://rabbit.example.com:15672" },
      { name: "rmq_username", type: "string", title: "User", required: true, help: "User of the management API, with the administrator tag (exporting and importing definitions needs it). A whole-broker restore leaves this user's password and tags as they are.", example: "admin" },
      { name: "rmq_password", type: "password", title: "Password", required: true, help: "Password of rmq_username; sent in the Authorization header only.", example: "" },
      { name: "skip_ssl_validation", type: "bool", title: "Skip TLS validation", required: false, default: "false", help: "Accept any certificate from an https rmq_url (a self-signed one, say).", example: "false" },
      { name: "rmq_vhost", type: "string", title: "Vhost", required: false, help: "One vhost to back up and restore into (its policies, parameters, queues, exchanges and bindings; created when absent); empty: every vhost, with users and permissions.", example: "/" },
    ],
  },
  validate(ctx) {
    const c = config(ctx);
    return [
      `rmq_url: ${c.url}`,
      `rmq_username: ${c.username}`,
      secretLine("rmq_password", c.password),
      `skip_ssl_validation: ${c.insecure ? "yes, the certificate will NOT be validated" : "no, the certificate will be validated"}`,
      `rmq_vhost: ${c.vhost ?? "(every vhost, with users and permissions)"}`,
      "messages: not backed up (definitions only)",
    ];
  },
  backup,
  restore,
  test,
};
