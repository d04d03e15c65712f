// The audit trail (issue 18): who changed what, when and from where. The API
// records an entry after each change it made (src/api/audit.ts decides which
// requests are changes and takes the object's state before and after); this
// module writes and reads entries, and turns two states into the diff an entry
// keeps, with every secret value replaced before anything is written.
import { nowSeconds, type AuditFilter, type AuditRow, type Catalog, type Page } from "../catalog/index.ts";
import { isSealed } from "../pipeline/endpoint-secrets.ts";
import { looksSecret } from "../secret-names.ts";
import type { Principal } from "./users.ts";

/** What a secret value reads as in an entry: fixed, so it says nothing of the secret. */
export const AUDIT_REDACTED = "********";

/** An object's state, field by field: dotted paths ("endpoint.host") to plain values. */
export type Fields = Record<string, unknown>;

/** One changed field: `from` absent on create, `to` absent on delete. */
export interface Change { from?: unknown; to?: unknown }

/** Who: a signed-in principal, or only the name given to a failed sign-in. */
export type Actor = Pick<Principal, "name"> & Partial<Pick<Principal, "uuid" | "provider" | "token">>;

export interface AuditEvent {
  actor: Actor;
  address: string;
  action: string;
  type: string;
  uuid?: string | null;
  name?: string | null;
  changes?: Record<string, Change> | null;
}

/**
 * An object (its API JSON) as fields: nested objects flattened to dotted paths,
 * arrays kept whole. `secretKeys` are top-level keys of `object` declared secret
 * (a plugin's password fields, a channel kind's secret settings); besides them,
 * every key named like a secret (src/secret-names.ts) at any depth, and every
 * value still sealed by the catalog, is marked by `secret` — compared as it is,
 * written redacted.
 */
export function flatten(object: Record<string, unknown>, secretKeys: ReadonlySet<string> = new Set(), prefix = ""): Fields {
  const out: Fields = {};
  const walk = (value: unknown, path: string, secret: boolean) => {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k, secret || looksSecret(k));
      return;
    }
    if (secret || isSealed(value)) out[path] = new Secret(value);
    // An array of objects (a job's copies) may hold a secret a level down: compared whole, shown with it redacted.
    else if (Array.isArray(value) && hidesSecret(value)) out[path] = new Secret(value, redactDeep(value));
    else out[path] = value;
  };
  for (const [k, v] of Object.entries(object)) walk(v, prefix ? `${prefix}.${k}` : k, secretKeys.has(k) || looksSecret(k));
  return out;
}

const hidesSecret = (v: unknown): boolean => isSealed(v) || (Array.isArray(v) ? v.some(hidesSecret)
  : !!v && typeof v === "object" && Object.entries(v).some(([k, x]) => looksSecret(k) || hidesSecret(x)));
const redactDeep = (v: unknown): unknown => isSealed(v) ? AUDIT_REDACTED : Array.isArray(v) ? v.map(redactDeep)
  : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, looksSecret(k) ? AUDIT_REDACTED : redactDeep(x)])) : v;

/** A value holding a secret inside a Fields: equal to another by its value, written as `shown` (AUDIT_REDACTED when whole). */
export class Secret {
  constructor(readonly value: unknown, readonly shown: unknown = AUDIT_REDACTED) {}
  toJSON(): unknown { return this.shown; }
}

const isEmpty = (v: unknown) => v === null || v === "" || (Array.isArray(v) && v.length === 0);
const plain = (v: unknown) => (v instanceof Secret ? v.value : v);
const same = (a: unknown, b: unknown) => JSON.stringify(plain(a)) === JSON.stringify(plain(b));
/** As written to the catalog: a secret (or anything inside one) is never its value. */
const shown = (v: unknown) => (v instanceof Secret ? v.shown : v);

/**
 * The fields that differ between two states: all of `after` for a creation
 * (`before` undefined), all of `before` for a deletion, only what changed
 * otherwise. Values are redacted where secret.
 */
export function diff(before: Fields | undefined, after: Fields | undefined): Record<string, Change> {
  const out: Record<string, Change> = {};
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  for (const k of [...keys].sort()) {
    const has = { from: !!before && Object.hasOwn(before, k), to: !!after && Object.hasOwn(after, k) };
    if (has.from && has.to && same(before![k], after![k])) continue;
    // A creation or deletion lists what was set: an empty field says nothing.
    if (has.from !== has.to && isEmpty(has.from ? before![k] : after![k])) continue;
    const c: Change = {};
    if (has.from) c.from = shown(before![k]);
    if (has.to) c.to = shown(after![k]);
    out[k] = c;
  }
  return out;
}

export function auditRules(catalog: Catalog) {
  return {
    async record(e: AuditEvent): Promise<string> {
      // Time-ordered (UUIDv7): entries of the same second list in the order they were made.
      const uuid = Bun.randomUUIDv7();
      // Fields in name order, whoever added them (the diff, secrets sent, an action's details).
      const changes = e.changes && Object.keys(e.changes).length ? Object.fromEntries(Object.entries(e.changes).sort(([a], [b]) => (a < b ? -1 : 1))) : null;
      // A last guard: whatever a caller passed, no Secret leaves as its value.
      const text = changes ? JSON.stringify(changes, (_k, v) => (v instanceof Secret ? v.shown : v)) : null;
      await catalog.audit.add({
        uuid, at: nowSeconds(), userUuid: e.actor.uuid ?? null, userName: e.actor.name, provider: e.actor.provider ?? null,
        tokenName: e.actor.token ?? null, address: e.address, action: e.action, objectType: e.type,
        objectUuid: e.uuid ?? null, objectName: e.name ?? null, changes: text,
      });
      return uuid;
    },
    list(f: AuditFilter, page: Page): Promise<AuditRow[]> {
      return catalog.audit.list(f, page);
    },
  };
}

export type AuditRules = ReturnType<typeof auditRules>;
