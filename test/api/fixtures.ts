// What the /v1 contract tests share: building the definitions a job needs through
// the API, inserting archives and tasks (which have no create endpoint) through the
// catalog, and the checks every error answer must pass.
import { Database } from "bun:sqlite";
import { expect } from "bun:test";
import postgres from "postgres";
import type { ArchiveRow, TaskStatus } from "../../src/catalog/index.ts";
import type { As, TestApi } from "../helpers/app.ts";

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A well-formed UUID that names nothing. */
export const NOBODY = "00000000-0000-4000-8000-000000000000";
export const TIME_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

/** Seconds since the epoch of a UTC time written as in the API, "2015-10-25 11:32:00". */
export function at(utc: string): number {
  return Date.parse(utc.replace(" ", "T") + "Z") / 1000;
}

/** Sends a request and checks its status, showing the body when it differs. */
export async function call(api: TestApi, method: string, path: string, status: number, opts: { body?: unknown; as?: As } = {}) {
  const res = await api.req(method, path, opts);
  if (res.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${res.status}: ${res.text}`);
  if (status >= 400) expectErrorBody(res);
  return res;
}

/**
 * Every refusal: JSON `{"error": "..."}`, with `fields` (field → words) only for
 * validation, and never a stack trace or a source path.
 */
export function expectErrorBody(res: { status: number; json: any; text: string; headers: Headers }): void {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(res.headers.get("content-type") ?? "").toContain("application/json");
  expect(typeof res.json?.error).toBe("string");
  expect(res.json.error.length).toBeGreaterThan(0);
  for (const key of Object.keys(res.json)) expect(["error", "fields"]).toContain(key);
  if ("fields" in res.json) {
    expect(res.status).toBe(400);
    for (const v of Object.values(res.json.fields)) expect(typeof v).toBe("string");
  }
  expectNoStack(res.text);
}

export function expectNoStack(text: string): void {
  expect(text).not.toMatch(/\n\s+at |\bat .*\.(ts|js):\d+|node_modules|\/src\//);
}

/** A 400 that names `field` in `error` and in `fields`, with words matching `words` when given. */
export async function expectInvalid(
  api: TestApi, method: string, path: string, body: unknown, field: string, words?: string | RegExp, as: As = "admin",
) {
  const res = await call(api, method, path, 400, { body, as });
  expect(res.json.fields).toBeDefined();
  expect(Object.keys(res.json.fields)).toContain(field);
  expect(res.json.error).toContain(field);
  if (words !== undefined) {
    if (typeof words === "string") expect(res.json.fields[field]).toContain(words);
    else expect(res.json.fields[field]).toMatch(words);
  }
  return res;
}

export interface Definitions { target: string; store: string; schedule: string; retention: string }

let counter = 0;

/** One target, store, schedule and retention policy, created through the API; names carry `tag`. */
export async function makeDefinitions(api: TestApi, tag = `d${++counter}`): Promise<Definitions> {
  const created = async (path: string, body: object) => (await call(api, "POST", path, 200, { body })).json.uuid as string;
  return {
    schedule: await created("/v1/schedules", { name: `${tag} schedule`, summary: `${tag} when`, when: "daily at 4am" }),
    retention: await created("/v1/retention", { name: `${tag} policy`, summary: `${tag} keep`, expires: 86400 }),
    target: await created("/v1/targets", {
      name: `${tag} target`, summary: `${tag} db`, plugin: "postgres", endpoint: `{"host":"${tag}-db"}`, agent: "10.0.0.1:5444",
    }),
    store: await created("/v1/stores", { name: `${tag} store`, summary: `${tag} disk`, plugin: "fs", endpoint: `{"path":"/${tag}"}` }),
  };
}

export function jobBody(d: Definitions, name: string, extra: object = {}): Record<string, unknown> {
  return { name, summary: `${name} summary`, target: d.target, store: d.store, schedule: d.schedule, retention: d.retention, paused: false, ...extra };
}

export async function makeJob(api: TestApi, d: Definitions, name: string, extra: object = {}): Promise<string> {
  return (await call(api, "POST", "/v1/jobs", 200, { body: jobBody(d, name, extra) })).json.uuid;
}

/** An archive row, as a finished backup would leave it. */
export async function insertArchive(api: TestApi, a: Partial<ArchiveRow> & Pick<ArchiveRow, "targetUuid" | "storeUuid">): Promise<ArchiveRow> {
  const takenAt = a.takenAt ?? at("2015-10-25 11:32:00");
  const row: ArchiveRow = {
    uuid: crypto.randomUUID(), jobUuid: null, storeKey: `BKP-${++counter}`, takenAt, expiresAt: takenAt + 86400,
    notes: "", status: "valid", size: 1234, rawSize: 5678, sha256: "ab".repeat(32), compression: "zstd", cipher: "aes-256-gcm",
    encryptionKey: "wrapped-key-never-shown", purgedAt: null, purgeAttempts: 0, purgeError: null, purgeNextAt: null, pinned: false, pinReason: "",
    ...a,
  };
  await api.catalog.archives.create(row);
  return row;
}

/** Files a pending task the way the core does; returns its uuid. */
export async function insertTask(
  api: TestApi,
  t: { op?: string; owner?: string; jobUuid?: string | null; archiveUuid?: string | null; targetUuid?: string | null; storeUuid?: string | null; requestedAt: number },
): Promise<string> {
  const uuid = crypto.randomUUID();
  await api.catalog.tasks.create({
    uuid, op: t.op ?? "backup", owner: t.owner ?? "system", jobUuid: t.jobUuid ?? null, archiveUuid: t.archiveUuid ?? null,
    targetUuid: t.targetUuid ?? null, storeUuid: t.storeUuid ?? null, requestedAt: t.requestedAt,
  });
  return uuid;
}

/**
 * Moves a task along as the supervisor will (running, done, failed). The catalog has
 * no query for that yet, so this writes the row directly, in either dialect.
 */
export async function setTaskState(
  api: TestApi, uuid: string,
  s: { status: TaskStatus; startedAt?: number | null; stoppedAt?: number | null; log?: string; archiveUuid?: string | null; error?: string | null },
): Promise<void> {
  const desc = api.catalog.description;
  const values = [s.status, s.startedAt ?? null, s.stoppedAt ?? null, s.log ?? "", s.archiveUuid ?? null, s.error ?? null, uuid];
  if (api.catalog.dialect === "sqlite") {
    const db = new Database(desc.replace(/^sqlite:/, ""));
    try {
      db.query("UPDATE tasks SET status = ?, started_at = ?, stopped_at = ?, log = ?, archive_uuid = coalesce(?, archive_uuid), error = ? WHERE uuid = ?").run(...values);
    } finally {
      db.close();
    }
    return;
  }
  const sql = postgres(desc, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe("UPDATE tasks SET status = $1, started_at = $2, stopped_at = $3, log = $4, archive_uuid = coalesce($5, archive_uuid), error = $6 WHERE uuid = $7", values);
  } finally {
    await sql.end();
  }
}

/** The roles in rank order, and which of them may call an endpoint needing `least`. */
export const ROLES = ["viewer", "operator", "admin"] as const;
export type RoleName = (typeof ROLES)[number];
export function rolesBelow(least: RoleName): RoleName[] {
  return ROLES.slice(0, ROLES.indexOf(least));
}
export function rolesFrom(least: RoleName): RoleName[] {
  return ROLES.slice(ROLES.indexOf(least));
}

/**
 * The 401 cases every authenticated endpoint must refuse the same way: no header, a
 * wrong password, an unknown user, a bogus token. Nothing is validated first (a bad
 * body or UUID still answers 401), so nothing about the caller leaks.
 */
export async function expectAuthRequired(api: TestApi, method: string, path: string, body?: unknown): Promise<void> {
  const cases: As[] = ["anonymous", { basic: "admin:wrong password" }, { basic: "nobody:whatever1" }, { token: "shield_not-a-token" }];
  for (const as of cases) {
    const res = await call(api, method, path, 401, { body, as });
    expect(res.headers.get("www-authenticate")).toBe('Basic realm="shield"');
  }
}

/** A 403 whose words say which role is needed and what the caller is. */
export async function expectForbidden(api: TestApi, method: string, path: string, as: RoleName, body?: unknown): Promise<void> {
  const res = await call(api, method, path, 403, { body, as });
  expect(res.json.error).toContain("role");
  expect(res.json.error).toContain(`"${as}" is ${as}`);
}
