// The audit trail at the API: every route that changes something declares what
// it changes (its `audit` in the RouteSpec; route() refuses a non-GET route that
// declares nothing), and route() records one entry after it succeeded. The entry's
// diff comes from the object's state read here before and after the change, from
// the catalog, with endpoint and setting secrets opened for comparing and
// redacted for writing (src/core/audit.ts). Failed sign-ins are recorded by
// route() too, where credentials are checked; a public sign-in route (SSO) names
// its actor from its answer and its refusals by `refused`. GET /v1/audit reads the trail.
import * as v from "valibot";
import { Unauthenticated } from "../core/errors.ts";
import { diff, flatten, type Actor, type Change, type Fields } from "../core/audit.ts";
import type { Core, Principal } from "../core/index.ts";
import { secretSettings } from "../notify/channels.ts";
import { describeError, log } from "../log.ts";
import { looksSecret } from "../secret-names.ts";
import { formatTime, scheduleJson, retentionJson } from "./json.ts";
import { mapRows } from "./rows.ts";
import { DEFAULT_LIMIT, type AuditQuery } from "./schemas.ts";
import type { AuditRow } from "../catalog/index.ts";

/** The kinds of object an entry is about: the values of ?type=. */
export const AUDIT_TYPES = [
  "target", "store", "schedule", "retention policy", "job", "archive", "task", "drill", "notification channel",
  "auth provider", "user", "token", "session", "agent", "gpbackup object",
] as const;
export type AuditType = (typeof AUDIT_TYPES)[number];

export interface AuditInput { params: any; body: any; user: Principal; result?: any }

/** What a changing route changes. */
export interface AuditSpec {
  type: AuditType;
  /** "create", "update", "delete", "run", "restore", "cancel"...; or chosen per request. */
  action: string | ((i: AuditInput) => string);
  /** The object's id: the path parameter `uuid` (or `name`) when left out; else read from the request or the answer. */
  id?: (i: AuditInput) => string | undefined | null;
  /** The object's name when its state does not say it. */
  name?: (i: AuditInput) => string | undefined | null;
  /** What the action made or used besides the object's own fields (a run's task), recorded as set. */
  detail?: (i: AuditInput) => Record<string, unknown>;
  /**
   * The action changes none of the object's own fields (it files a task: a job's run, an
   * archive's restore): its state is read once, before, not again after (a backup's run
   * request read its job three times).
   */
  unchanged?: true;
  /**
   * Who acted, when the request's credentials cannot say: a public sign-in route
   * (SSO) knows its user only once the provider has answered, from its answer.
   * Undefined records nothing (a device sign-in still pending).
   */
  actor?: (i: AuditInput) => Promise<Actor | undefined> | Actor | undefined;
  /** On a public sign-in route: the name a refusal (401) is recorded under, as a failed sign-in. */
  refused?: (i: AuditInput) => string;
}

/** A route that changes nothing recorded (a connection test) says why, in place of an AuditSpec. */
export type AuditDecl = AuditSpec | { none: string };

interface State { name?: string | null; fields: Fields }
/** `by`: who acted (the token snapshot reads that user's tokens). */
type Snapshot = (core: Core, id: string, by: Actor | undefined) => Promise<State | undefined>;

const omit = (o: Record<string, unknown>, ...keys: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

/** An endpoint (the catalog's sealed JSON text) opened, as fields under `endpoint.`; the plugin's password fields are secret. */
async function endpointFields(core: Core, plugin: string, stored: string, prefix = "endpoint"): Promise<Fields> {
  let text = stored;
  try {
    if (core.secrets) text = core.secrets.open(stored).endpoint;
  } catch { /* compared sealed: still redacted (flatten marks sealed values) */ }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return { [prefix]: flatten({ x: text }, new Set(["x"])).x };
  return flatten(parsed as Record<string, unknown>, await core.plugins.passwordFields(plugin), prefix);
}

/** Settings sealed like endpoints (channels, providers), opened as fields under `prefix.`. */
function settingFields(core: Core, stored: string, secret: ReadonlySet<string>, prefix: string): Fields {
  try {
    const parsed = JSON.parse(core.secrets ? core.secrets.open(stored).endpoint : stored) as Record<string, unknown>;
    return flatten(parsed, secret, prefix);
  } catch {
    return flatten({ [prefix]: stored }, new Set([prefix]));
  }
}

const SNAPSHOTS: Partial<Record<AuditType, Snapshot>> = {
  async target(core, id) {
    const r = await core.catalog.targets.get(id);
    if (!r) return undefined;
    return { name: r.name, fields: { ...flatten({ name: r.name, summary: r.summary, plugin: r.plugin, agent: r.agent, bandwidth: r.bandwidth }), ...(await endpointFields(core, r.plugin, r.endpoint)) } };
  },
  async store(core, id) {
    const r = await core.catalog.stores.get(id);
    if (!r) return undefined;
    return { name: r.name, fields: { ...flatten({ name: r.name, summary: r.summary, plugin: r.plugin, max_tasks: r.maxTasks, bandwidth: r.bandwidth }), ...(await endpointFields(core, r.plugin, r.endpoint)) } };
  },
  async schedule(core, id) {
    const r = await core.catalog.schedules.get(id);
    return r && { name: r.name, fields: flatten(omit(scheduleJson(r), "uuid", "canonical", "next_run")) };
  },
  async "retention policy"(core, id) {
    const r = await core.catalog.retention.get(id);
    return r && { name: r.name, fields: flatten(omit(retentionJson(r), "uuid")) };
  },
  async job(core, id) {
    const j = await core.catalog.jobs.get(id);
    return j && {
      name: j.name,
      fields: flatten({
        name: j.name, summary: j.summary, priority: j.priority, paused: j.paused, compression: j.compression,
        target_uuid: j.targetUuid, target_name: j.targetName, store_uuid: j.storeUuid, store_name: j.storeName,
        schedule_uuid: j.scheduleUuid, schedule_name: j.scheduleName, retention_uuid: j.retentionUuid, retention_name: j.retentionName,
        copies: JSON.parse(j.copies || "[]"), run_window: j.runWindow,
      }),
    };
  },
  async archive(core, id) {
    const a = await core.catalog.archives.get(id);
    return a && {
      name: `${a.targetName ?? "?"} ${formatTime(a.takenAt)}`,
      fields: flatten({ status: a.status, notes: a.notes, pinned: a.pinned, pin_reason: a.pinReason, expires_at: formatTime(a.expiresAt), target_uuid: a.targetUuid, store_uuid: a.storeUuid }),
    };
  },
  async task(core, id) {
    const t = await core.catalog.tasks.get(id);
    return t && { name: t.op, fields: flatten({ type: t.op, status: t.status, owner: t.owner, job_uuid: t.jobUuid, archive_uuid: t.archiveUuid, target_uuid: t.targetUuid }) };
  },
  async drill(core, id) {
    const [d, j] = await Promise.all([core.catalog.drills.get(id), core.catalog.jobs.get(id)]);
    return d && { name: j?.name, fields: flatten({ target_uuid: d.scratchTargetUuid, schedule_uuid: d.scheduleUuid }) };
  },
  async "notification channel"(core, id) {
    const c = await core.catalog.notifications.channels.get(id);
    return c && {
      name: c.name,
      fields: { ...flatten({ name: c.name, kind: c.kind, events: JSON.parse(c.events), jobs: JSON.parse(c.jobs) }), ...settingFields(core, c.settings, secretSettings(c.kind as never), "settings") },
    };
  },
  async "auth provider"(core, id) {
    const p = await core.catalog.authProviders.byName(id);
    return p && { name: p.name, fields: { ...flatten({ type: p.type }), ...settingFields(core, p.config, new Set(), "config") } };
  },
  async user(core, id) {
    const u = await core.catalog.users.get(id);
    return u && { name: u.name, fields: flatten({ name: u.name, role: u.role, provider: u.provider }) };
  },
  async token(core, id, by) {
    if (!by?.uuid) return undefined;
    const t = (await core.catalog.tokens.listForUser(by.uuid)).find((x) => x.uuid === id);
    return t && { name: t.name, fields: flatten({ name: t.name, role: t.role, expires_at: formatTime(t.expiresAt) }) };
  },
  async session(core, id) {
    const s = (await core.catalog.tokens.listAll()).find((x) => x.uuid === id);
    return s && { name: s.name, fields: flatten({ name: s.name, user: s.userName, role: s.role, expires_at: formatTime(s.expiresAt) }) };
  },
};

/**
 * Secret fields sent in the body that no state shows (a user's new password):
 * recorded as changed, redacted. Those a state does show were compared there.
 */
function sentSecrets(body: unknown, known: Set<string>): Record<string, Change> {
  if (!body || typeof body !== "object") return {};
  const out: Record<string, Change> = {};
  for (const [k, v] of Object.entries(flatten(body as Record<string, unknown>))) {
    if (known.has(k) || !k.split(".").some(looksSecret) || v === undefined) continue;
    out[k] = { to: "********" };
  }
  return out;
}

const idOf = (spec: AuditSpec, i: AuditInput): string | undefined =>
  (spec.id ? spec.id(i) : (i.params?.uuid ?? i.params?.name)) ?? undefined;

/**
 * Reads the object's state before the change; the returned function, called
 * with the answer once the change succeeded, records the entry. Recording never
 * fails the request (the change is made): a failure is logged as an error.
 */
export async function auditBefore(core: Core, spec: AuditSpec, i: AuditInput, address: string): Promise<(result: unknown) => Promise<void>> {
  const snapshot = SNAPSHOTS[spec.type];
  const read = async (id: string | undefined, by: Actor | undefined) => {
    if (!snapshot || !id) return undefined;
    try {
      return await snapshot(core, id, by);
    } catch {
      return undefined; // the handler answers for a missing or unreadable object
    }
  };
  // A route whose actor comes from its answer has none yet (nor, then, an object to read).
  const before = spec.actor || !i.user ? undefined : await read(idOf(spec, i), actorOf(i.user));
  return async (result) => {
    const done = { ...i, result };
    try {
      const actor = spec.actor ? await spec.actor(done) : i.user && actorOf(i.user);
      if (!actor) return;
      const id = idOf(spec, done);
      const action = typeof spec.action === "function" ? spec.action(done) : spec.action;
      // Gone after a deletion (an archive stays, expired): then the entry lists every field it had;
      // after a creation, every field set; otherwise what changed.
      const after = spec.unchanged ? before : await read(id, actor);
      const changes = diff(before?.fields, after?.fields);
      const known = new Set([...Object.keys(before?.fields ?? {}), ...Object.keys(after?.fields ?? {})]);
      Object.assign(changes, sentSecrets(i.body, known));
      for (const [k, val] of Object.entries(spec.detail?.(done) ?? {})) if (val !== undefined && val !== null) changes[k] = { to: val };
      await core.audit.record({
        actor, address, action, type: spec.type, uuid: id ?? null,
        name: spec.name?.(done) ?? after?.name ?? before?.name ?? null, changes,
      });
    } catch (err) {
      log.error("the audit entry of a change could not be recorded", { type: spec.type, ...describeError(err) });
    }
  };
}

export const actorOf = (u: Principal): Actor => ({ uuid: u.uuid, name: u.name, provider: u.provider, token: u.token });

/** A route's refusal to sign someone in (its spec's `refused`), recorded as a failed sign-in; other errors are not sign-ins. */
export async function auditRefusal(core: Core, spec: AuditSpec, i: AuditInput, err: unknown, address: string): Promise<void> {
  if (!spec.refused || !(err instanceof Unauthenticated)) return;
  await auditFailedSignIn(core, spec.refused(i), address, err.message);
}

/** The user name a refused Authorization header tried: Basic only (a token names nobody until it matches). */
export function attemptedName(header: string | undefined): string | undefined {
  const [scheme, value = ""] = (header ?? "").trim().split(/\s+/, 2);
  if (!/^basic$/i.test(scheme ?? "")) return undefined;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : decoded.slice(0, colon).replaceAll("\0", "").slice(0, 200);
}

/** Records a refused sign-in (wrong password, unknown name, throttled); never fails the refusal itself. */
export async function auditFailedSignIn(core: Core, name: string, address: string, reason: string): Promise<void> {
  try {
    await core.audit.record({ actor: { name }, address, action: "sign-in-failed", type: "user", name, changes: { reason: { to: reason } } });
  } catch (err) {
    log.error("the audit entry of a failed sign-in could not be recorded", describeError(err));
  }
}

export const auditJson = (r: AuditRow) => ({
  uuid: r.uuid, at: formatTime(r.at), user: r.userName, user_uuid: r.userUuid, provider: r.provider, token: r.tokenName,
  address: r.address, action: r.action, object_type: r.objectType, object_uuid: r.objectUuid, object_name: r.objectName,
  changes: r.changes ? (JSON.parse(r.changes) as Record<string, Change>) : {},
});

export function auditListHandler(core: Core) {
  return async ({ query }: { query: v.InferOutput<typeof AuditQuery> }) => {
    const { limit = DEFAULT_LIMIT, offset = 0, ...filter } = query;
    return mapRows(await core.audit.list(filter, { limit, offset }), auditJson);
  };
}
