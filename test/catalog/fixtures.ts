// Shared by the catalog suites: a fresh catalog per describe block, and small
// builders for the rows the tests need, with defaults a test overrides only
// where it matters.
import { afterAll, beforeAll } from "bun:test";
import type { Catalog } from "../../src/catalog/index.ts";
import { openCatalog, type CatalogHandle } from "../../src/catalog/open.ts";
import type { ArchiveRow, TaskRow, TokenRow, UserRow } from "../../src/catalog/rows.ts";
import { freshCatalog, type Dialect } from "../helpers/catalog.ts";

/** An arbitrary "now" for rows the tests create (2023-11-14). */
export const T0 = 1_700_000_000;

export interface Opened {
  catalog: Catalog;
  /**
   * A second handle on the same catalog, for the writes no query of the catalog
   * offers (a task left in a given state). Reopened from the catalog's
   * description, which is its URL: the test URLs carry no password.
   */
  raw(): Promise<CatalogHandle>;
}

/**
 * Opens a fresh catalog of the dialect before the tests of the enclosing
 * describe block and closes it after them; the getter is valid inside tests.
 */
export function useCatalog(dialect: Dialect): () => Opened {
  let opened: (Opened & { cleanup: () => Promise<void> }) | undefined;
  beforeAll(async () => {
    const { catalog, cleanup } = await freshCatalog(dialect);
    let raw: Promise<CatalogHandle> | undefined;
    opened = {
      catalog,
      raw: () => (raw ??= openCatalog(catalog.description)),
      cleanup: async () => {
        if (raw) await (await raw).close();
        await cleanup();
      },
    };
  });
  afterAll(async () => { await opened?.cleanup(); });
  return () => {
    if (!opened) throw new Error("useCatalog: the catalog is only open inside the tests");
    return opened;
  };
}

const uuid = () => crypto.randomUUID();

export async function makeTarget(c: Catalog, o: { name?: string; plugin?: string; endpoint?: string; agent?: string } = {}): Promise<string> {
  const id = uuid();
  await c.targets.create(id, { name: o.name ?? `target-${id}`, plugin: o.plugin ?? "fs", endpoint: o.endpoint ?? '{"base_dir":"/srv"}', agent: o.agent ?? "" }, T0);
  return id;
}

export async function makeStore(c: Catalog, o: { name?: string; plugin?: string; endpoint?: string; maxTasks?: number } = {}): Promise<string> {
  const id = uuid();
  await c.stores.create(id, { name: o.name ?? `store-${id}`, plugin: o.plugin ?? "fs", endpoint: o.endpoint ?? '{"base_dir":"/backups"}', ...(o.maxTasks === undefined ? {} : { maxTasks: o.maxTasks }) }, T0);
  return id;
}

export async function makeSchedule(c: Catalog, o: { name?: string; timespec?: string } = {}): Promise<string> {
  const id = uuid();
  await c.schedules.create(id, { name: o.name ?? `schedule-${id}`, timespec: o.timespec ?? "daily at 4am" }, T0);
  return id;
}

export async function makeRetention(c: Catalog, o: { name?: string; expiry?: number; keepDaily?: number; keepWithin?: number } = {}): Promise<string> {
  const id = uuid();
  const rules = { ...(o.keepDaily === undefined ? {} : { keepDaily: o.keepDaily }), ...(o.keepWithin === undefined ? {} : { keepWithin: o.keepWithin }) };
  await c.retention.create(id, { name: o.name ?? `retention-${id}`, expiry: o.expiry ?? 7 * 86400, ...rules }, T0);
  return id;
}

export interface JobSpec {
  name?: string; target?: string; store?: string; retention?: string;
  /** null: a job without a schedule (run by hand only). */
  schedule?: string | null;
  paused?: boolean; priority?: number; summary?: string; compression?: string; runWindow?: string;
}

/** A job; the definitions it is not given are created for it. */
export async function makeJob(c: Catalog, o: JobSpec = {}): Promise<string> {
  const id = uuid();
  await c.jobs.create(id, {
    name: o.name ?? `job-${id}`,
    summary: o.summary ?? "",
    targetUuid: o.target ?? await makeTarget(c),
    storeUuid: o.store ?? await makeStore(c),
    scheduleUuid: o.schedule === null ? null : o.schedule ?? await makeSchedule(c),
    retentionUuid: o.retention ?? await makeRetention(c),
    priority: o.priority ?? 50,
    paused: o.paused ?? false,
    // Left out unless given, so that the column's default applies.
    ...(o.compression === undefined ? {} : { compression: o.compression }),
    ...(o.runWindow === undefined ? {} : { runWindow: o.runWindow }),
  }, T0);
  return id;
}

/** A whole archive row; the test names the fields it cares about. */
export function archiveRow(o: Partial<ArchiveRow> & Pick<ArchiveRow, "targetUuid" | "storeUuid">): ArchiveRow {
  const id = o.uuid ?? uuid();
  return {
    uuid: id, jobUuid: null, storeKey: `2023/11/14/${id}`, takenAt: T0, expiresAt: T0 + 86400, notes: "",
    status: "valid", size: 1024, rawSize: 4096, sha256: "ab".repeat(32), compression: "zstd", cipher: "aes-256-gcm",
    encryptionKey: "k".repeat(64), purgedAt: null, purgeAttempts: 0, purgeError: null, purgeNextAt: null, pinned: false, pinReason: "",
    ...o,
  };
}

export function taskRow(o: Partial<Pick<TaskRow, "uuid" | "owner" | "op" | "jobUuid" | "archiveUuid" | "targetUuid" | "storeUuid" | "requestedAt">> = {}) {
  return {
    uuid: uuid(), owner: "admin", op: "backup", jobUuid: null, archiveUuid: null, targetUuid: null, storeUuid: null, requestedAt: T0,
    ...o,
  };
}

export function userRow(o: Partial<UserRow> = {}): UserRow {
  const id = o.uuid ?? uuid();
  return { uuid: id, name: `user-${id}`, passwordHash: "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", role: "viewer", createdAt: T0, provider: "local", providerData: null, ...o };
}

export function tokenRow(o: Partial<Omit<TokenRow, "lastUsedAt" | "checkedAt">> & Pick<TokenRow, "userUuid">): Omit<TokenRow, "lastUsedAt" | "checkedAt"> {
  const id = o.uuid ?? uuid();
  return { uuid: id, name: `token-${id}`, tokenHash: new Bun.CryptoHasher("sha256").update(id).digest("hex"), createdAt: T0, role: null, expiresAt: null, ...o };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject, it resolved");
}
