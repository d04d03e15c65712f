// The /v1 request and response shapes, as valibot schemas. Requests are validated
// with them; the OpenAPI document (openapi.ts) is generated from the same schemas.
import * as v from "valibot";
import { PLUGIN_NAME } from "../core/plugins.ts";
import { NAT_NAME } from "../agent/protocol.ts";

// ---- building blocks -------------------------------------------------------

// Lower-cased: PostgreSQL's uuid type ignores case and SQLite's text does not; the catalog holds lower case.
export const Uuid = v.pipe(v.string("must be a string"), v.uuid("must be a UUID, like 6b8398be-fdc0-424a-8532-e812e5dfc116"), v.toLowerCase());
// PostgreSQL text cannot hold NUL; refuse it in every dialect, so both behave alike.
const NoNul = v.check((s: string) => !s.includes("\0"), "must not contain NUL characters");
const Name = v.pipe(v.string("must be a string"), v.trim(), v.nonEmpty("must not be empty"), v.maxLength(200, "must be at most 200 characters"), NoNul);
const Summary = v.pipe(v.string("must be a string"), v.maxLength(2000, "must be at most 2000 characters"), NoNul);
export const PluginName = v.pipe(
  v.string("must be a string"),
  v.regex(PLUGIN_NAME, "must be a plugin name: letters, digits, '.', '_' or '-'"),
);

/**
 * The endpoint is an opaque JSON document for the plugin. The design sends it as a
 * JSON-encoded string; an object is accepted too. Either way it is stored, and
 * returned, as a string holding a JSON object.
 */
const JsonObject = v.pipe(
  // Not v.record(): it lets an array through, turned into {"0": ...}.
  v.custom<Record<string, unknown>>((x) => typeof x === "object" && x !== null && !Array.isArray(x)),
  v.metadata({ type: "object" }),
);
const MAX_ENDPOINT = 65536;
export const Endpoint = v.pipe(
  v.union([v.string(), JsonObject], "must be a JSON object, or a string holding one"),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const text = typeof dataset.value === "string" ? dataset.value : JSON.stringify(dataset.value);
    // Plugins get the endpoint in their environment or arguments, which the OS limits.
    if (text.length > MAX_ENDPOINT) {
      addIssue({ message: `must be at most ${MAX_ENDPOINT} characters of JSON` });
      return NEVER;
    }
    let parsed: unknown = dataset.value;
    if (typeof dataset.value === "string") {
      try {
        parsed = JSON.parse(dataset.value);
      } catch { parsed = undefined; }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
        addIssue({ message: "must be a string holding a JSON object, like {\"host\":\"db1\"}" });
        return NEVER;
      }
    }
    const nul = nulAt(parsed);
    if (nul) {
      addIssue({ message: `"${nul}" must not contain NUL characters` });
      return NEVER;
    }
    return text;
  }),
);

/**
 * Where a NUL character sits in an endpoint (a key, or a string value at any
 * depth), as a dotted path; undefined when there is none. Plugins get endpoint
 * strings as C strings in the end (paths, arguments, environment): a NUL would
 * cut them short there, so `/srv/a\u0000/../etc` must not reach one.
 */
function nulAt(value: unknown, path = ""): string | undefined {
  if (typeof value === "string") return value.includes("\0") ? path : undefined;
  if (!value || typeof value !== "object") return undefined;
  for (const [k, v] of Object.entries(value)) {
    const here = path ? `${path}.${k}` : k;
    if (k.includes("\0")) return here.replaceAll("\0", "\\u0000");
    const found = nulAt(v, here);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * host:port of a Shield agent, the name of one that dials the core (NAT mode,
 * src/agent/nat.ts: never holds ":"), or empty when the core runs the plugin itself.
 */
const Agent = v.pipe(
  v.string("must be a string"),
  v.check((s) => s === "" || /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(s) || NAT_NAME.test(s),
    "must be host:port (like 10.17.66.54:5544), the name of an agent that dials the core (like db1), or empty"),
  // Five digits is not yet a port: 99999 would only fail when a backup dials it.
  v.check((s) => s === "" || !s.includes(":") || inPortRange(s.slice(s.lastIndexOf(":") + 1)), "must have a port from 1 to 65535"),
);
const inPortRange = (digits: string) => Number(digits) >= 1 && Number(digits) <= 65535;

const Expires = v.pipe(
  v.number("must be a number of seconds"),
  v.integer("must be a whole number of seconds"),
  v.minValue(3600, "must be at least 3600 (one hour)"),
  v.maxValue(100 * 365 * 86400, "must be at most 100 years"),
);
const Priority = v.pipe(v.number("must be a number"), v.integer("must be a whole number"), v.minValue(0, "must be 0 to 100"), v.maxValue(100, "must be 0 to 100"));
const Timespec = v.pipe(v.string("must be a string"), v.trim(), v.nonEmpty("must not be empty"), v.maxLength(200, "must be at most 200 characters"), NoNul);
const Owner = v.pipe(v.string("must be a string"), v.trim(), v.nonEmpty("must not be empty"), v.maxLength(200, "must be at most 200 characters"), NoNul);
const Notes = v.pipe(v.string("must be a string"), v.maxLength(10_000, "must be at most 10000 characters"), NoNul);
const Bool = v.boolean("must be true or false");

export const Role = v.picklist(["admin", "operator", "viewer"], "must be admin, operator or viewer");
const Password = v.pipe(v.string("must be a string"), v.minLength(8, "must be at least 8 characters"), v.maxLength(1000, "must be at most 1000 characters"));

/** The design's `[tf]` flags; `true`/`false` are accepted too. */
const Flag = v.pipe(
  v.picklist(["t", "f", "true", "false"], "must be t or f"),
  v.transform((s) => s === "t" || s === "true"),
);
/** YYYYMMDD, read as midnight UTC of that day, in epoch seconds. */
const Day = v.pipe(
  v.string(),
  v.regex(/^\d{8}$/, "must be a date as YYYYMMDD"),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const s = dataset.value;
    const ms = Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8));
    const d = new Date(ms);
    if (d.getUTCFullYear() !== +s.slice(0, 4) || d.getUTCMonth() + 1 !== +s.slice(4, 6) || d.getUTCDate() !== +s.slice(6, 8)) {
      addIssue({ message: `${s} is not a calendar date` });
      return NEVER;
    }
    return ms / 1000;
  }),
);
export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;
const Limit = v.pipe(
  v.string(),
  v.regex(/^\d+$/, `must be a whole number from 1 to ${MAX_LIMIT}`),
  v.transform(Number),
  v.minValue(1, `must be a whole number from 1 to ${MAX_LIMIT}`),
  v.maxValue(MAX_LIMIT, `must be a whole number from 1 to ${MAX_LIMIT}`),
);
const Offset = v.pipe(v.string(), v.regex(/^\d+$/, "must be a whole number"), v.transform(Number), v.maxValue(1e9, "is too large"));
export const Paging = { limit: v.optional(Limit), offset: v.optional(Offset) };
/** For the lists whose rows are few enough to be answered whole by default (definitions, jobs). */
export const PAGING_NOTE = `?limit= (at most ${MAX_LIMIT}) and ?offset= to page; the whole list when both are left out.`;

// ---- path parameters -------------------------------------------------------

export const UuidParam = v.object({ uuid: Uuid });

// ---- requests --------------------------------------------------------------

// `summary` is optional on create and required on update, as in the design.
export const ScheduleCreate = v.strictObject({ name: Name, summary: v.optional(Summary, ""), when: Timespec });
export const ScheduleUpdate = v.strictObject({ name: Name, summary: Summary, when: Timespec });

// GFS rules (docs/retention.md): counts, 0 for none; keep_within in seconds, or as "30d"/"12h".
const MAX_KEEP = 100_000;
const KeepCount = v.pipe(
  v.number("must be a number"), v.integer("must be a whole number"),
  v.minValue(0, `must be 0 (no such rule) to ${MAX_KEEP}`), v.maxValue(MAX_KEEP, `must be 0 (no such rule) to ${MAX_KEEP}`),
);
const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 };
const MAX_WITHIN = 100 * 365 * 86400;
const WITHIN_WORDS = `must be seconds (0 for no such rule) or a duration like 12h, 30d or 8w, at most 100 years`;
/** keep_within: seconds as a number, or text: "2592000", "30d", "12h", "90m", "8w". */
const KeepWithin = v.pipe(
  v.union([v.number(), v.string()], WITHIN_WORDS),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const value = dataset.value;
    let seconds: number | undefined;
    if (typeof value === "number") seconds = value;
    else {
      const m = /^\s*(\d{1,12})\s*([smhdw]?)\s*$/i.exec(value);
      if (m) seconds = Number(m[1]) * DURATION_UNITS[(m[2] || "s").toLowerCase()]!;
    }
    if (seconds === undefined || !Number.isInteger(seconds) || seconds < 0 || seconds > MAX_WITHIN) {
      addIssue({ message: WITHIN_WORDS });
      return NEVER;
    }
    return seconds;
  }),
);
const ruleFields = {
  keep_last: v.optional(KeepCount), keep_hourly: v.optional(KeepCount), keep_daily: v.optional(KeepCount),
  keep_weekly: v.optional(KeepCount), keep_monthly: v.optional(KeepCount), keep_yearly: v.optional(KeepCount),
  keep_within: v.optional(KeepWithin),
};
// Rules left out of an update stay as they are; `force` confirms an update that purges many archives at once.
export const RetentionCreate = v.strictObject({ name: Name, summary: v.optional(Summary, ""), expires: Expires, ...ruleFields });
export const RetentionUpdate = v.strictObject({ name: Name, summary: Summary, expires: Expires, ...ruleFields, force: v.optional(v.boolean("must be true or false")) });
/** Rule fields of a request → the catalog's columns (left-out rules stay undefined). */
export function rulesInput(b: { keep_last?: number; keep_hourly?: number; keep_daily?: number; keep_weekly?: number; keep_monthly?: number; keep_yearly?: number; keep_within?: number }) {
  return {
    keepLast: b.keep_last, keepHourly: b.keep_hourly, keepDaily: b.keep_daily, keepWeekly: b.keep_weekly,
    keepMonthly: b.keep_monthly, keepYearly: b.keep_yearly, keepWithin: b.keep_within,
  };
}

export const TargetCreate = v.strictObject({ name: Name, summary: v.optional(Summary, ""), plugin: PluginName, endpoint: Endpoint, agent: Agent });
export const TargetUpdate = v.strictObject({ name: Name, summary: Summary, plugin: PluginName, endpoint: Endpoint, agent: Agent });

export const StoreCreate = v.strictObject({ name: Name, summary: v.optional(Summary, ""), plugin: PluginName, endpoint: Endpoint });
export const StoreUpdate = v.strictObject({ name: Name, summary: Summary, plugin: PluginName, endpoint: Endpoint });

const Compression = v.picklist(["zstd", "gzip", "none"], "must be zstd, gzip or none");
const jobFields = {
  name: Name, store: Uuid, target: Uuid, retention: Uuid, schedule: Uuid,
  priority: v.optional(Priority), compression: v.optional(Compression),
};
export const JobCreate = v.strictObject({ ...jobFields, summary: v.optional(Summary, ""), paused: Bool });
// `paused` is deliberately absent: existing jobs are paused and unpaused by their own endpoints.
// `force` confirms moving the job to a policy that purges many of its archives at once (docs/retention.md).
export const JobUpdate = v.strictObject({ ...jobFields, summary: Summary, force: v.optional(Bool) });

// An omitted owner is the requesting user (design.md: ad hoc tasks are owned by whoever asked).
export const RunRequest = v.strictObject({ owner: v.optional(Owner) });
export const RestoreRequest = v.strictObject({ target: v.optional(Uuid), owner: v.optional(Owner) });
const PinReason = v.pipe(v.string("must be a string"), v.maxLength(2000, "must be at most 2000 characters"), NoNul);
// Each field is optional: notes, the pin, or both; a pin takes a reason.
export const ArchiveUpdate = v.pipe(
  v.strictObject({ notes: v.optional(Notes), pinned: v.optional(Bool), pin_reason: v.optional(PinReason) }),
  v.forward(v.check((b) => b.pin_reason === undefined || b.pinned !== undefined, "goes with pinned"), ["pin_reason"]),
  v.forward(v.check((b) => b.notes !== undefined || b.pinned !== undefined, "is required unless pinned is given"), ["notes"]),
);

export const TokenCreate = v.strictObject({ name: Name });
export const UserCreate = v.strictObject({ name: Name, password: Password, role: Role });
export const UserUpdate = v.strictObject({ password: v.optional(Password), role: v.optional(Role) });

// ---- query strings ---------------------------------------------------------

// Lists without a default limit: unpaged when ?limit= is absent, as the design's shapes show them.
export const DefinitionQuery = v.object({ unused: v.optional(Flag), plugin: v.optional(PluginName), ...Paging });
export const UsageQuery = v.object({ unused: v.optional(Flag), ...Paging });
export const MAX_PREVIEW = 50;
export const TimespecQuery = v.object({
  when: Timespec,
  count: v.optional(v.pipe(
    v.string(),
    v.regex(/^\d+$/, `must be a whole number from 1 to ${MAX_PREVIEW}`),
    v.transform(Number),
    v.minValue(1, `must be a whole number from 1 to ${MAX_PREVIEW}`),
    v.maxValue(MAX_PREVIEW, `must be a whole number from 1 to ${MAX_PREVIEW}`),
  )),
});
export const JobQuery = v.object({
  target: v.optional(Uuid), store: v.optional(Uuid), schedule: v.optional(Uuid), retention: v.optional(Uuid),
  paused: v.optional(Flag), ...Paging,
});
/** A count rule in a query string: digits. */
const QueryCount = v.pipe(v.string(), v.regex(/^\d{1,6}$/, `must be a whole number from 0 to ${MAX_KEEP}`), v.transform(Number), v.maxValue(MAX_KEEP, `must be a whole number from 0 to ${MAX_KEEP}`));
/** The preview's proposed rules: the fields of a policy, as query parameters. */
export const RetentionPreviewQuery = v.object({
  job: Uuid,
  keep_last: v.optional(QueryCount), keep_hourly: v.optional(QueryCount), keep_daily: v.optional(QueryCount),
  keep_weekly: v.optional(QueryCount), keep_monthly: v.optional(QueryCount), keep_yearly: v.optional(QueryCount),
  keep_within: v.optional(KeepWithin),
});
export const ArchiveStatus = v.picklist(["valid", "expired", "purged", "purge_failed"], "must be valid, expired, purged or purge_failed");
export const ArchiveQuery = v.object({
  target: v.optional(Uuid), store: v.optional(Uuid), after: v.optional(Day), before: v.optional(Day),
  status: v.optional(ArchiveStatus), ...Paging,
});
export const TaskStatus = v.picklist(["pending", "running", "canceled", "failed", "done"], "must be pending, running, canceled, failed or done");
export const TaskQuery = v.object({
  status: v.optional(TaskStatus), job: v.optional(Uuid), archive: v.optional(Uuid),
  // Accepted for compatibility with the original Shield; it changes nothing.
  debug: v.optional(v.string()),
  ...Paging,
});

// ---- responses (for the OpenAPI document) ----------------------------------

const Time = v.pipe(v.string(), v.description("UTC, as YYYY-MM-DD HH:MM:SS"));
const NullableTime = v.nullable(Time);
export const Created = v.object({ ok: v.literal("created"), uuid: Uuid });
export const Updated = v.object({ ok: v.literal("updated") });
export const Deleted = v.object({ ok: v.literal("deleted") });
export const Scheduled = v.object({ ok: v.literal("scheduled"), task_uuid: Uuid });
export const Canceled = v.object({ ok: v.literal("canceled") });
export const Ok = v.object({ ok: v.string() });
export const ErrorBody = v.object({ error: v.string(), fields: v.optional(v.record(v.string(), v.string())) });

export const ScheduleJson = v.object({
  uuid: Uuid, name: v.string(), summary: v.string(),
  when: v.pipe(v.string(), v.description("As written; see docs/timespec.md")),
  canonical: v.pipe(v.nullable(v.string()), v.description("The one printed form of the schedule; null only for a `when` saved before validation that no longer parses")),
  next_run: v.pipe(NullableTime, v.description("UTC, as YYYY-MM-DD HH:MM:SS; null if it never runs again")),
});
export const TimespecPreview = v.object({
  when: v.string(),
  canonical: v.string(),
  zone: v.pipe(v.string(), v.description("The `in <zone>` of the expression, else the daemon's zone")),
  next: v.array(Time),
});
const RuleCounts = {
  keep_last: v.number(), keep_hourly: v.number(), keep_daily: v.number(), keep_weekly: v.number(), keep_monthly: v.number(), keep_yearly: v.number(),
  keep_within: v.pipe(v.number(), v.description("seconds; 0 for no such rule")),
};
export const RetentionJson = v.object({ uuid: Uuid, name: v.string(), summary: v.string(), expires: v.number(), ...RuleCounts });
export const KeepReason = v.picklist(["pinned", "not_expired", "newest", "keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within"]);
export const RetentionPreviewJson = v.object({
  policy_uuid: v.nullable(Uuid), job_uuid: Uuid, job_name: v.string(),
  zone: v.pipe(v.string(), v.description("The daemon's zone: hours, days, weeks, months and years are read on its wall clock")),
  at: Time, rules: v.object(RuleCounts),
  keep: v.number(), expire: v.number(),
  newly_expired: v.pipe(v.number(), v.description("Archives expired here that the job's current policy keeps: what saving would purge")),
  purge_share: v.number(), max_purge_share: v.number(),
  force_needed: v.pipe(v.boolean(), v.description("Saving these rules needs \"force\": true (newly_expired is more than max_purge_share of the archives)")),
  archives: v.array(v.object({
    uuid: Uuid, taken_at: Time, expires_at: Time, pinned: v.boolean(),
    action: v.picklist(["keep", "expire"]), kept_by: v.array(KeepReason),
  })),
});
export const TargetJson = v.object({ uuid: Uuid, name: v.string(), summary: v.string(), plugin: v.string(), endpoint: v.string(), agent: v.string() });
export const StoreJson = v.object({ uuid: Uuid, name: v.string(), summary: v.string(), plugin: v.string(), endpoint: v.string() });
export const JobJson = v.object({
  uuid: Uuid, name: v.string(), summary: v.string(), priority: v.number(), paused: v.boolean(), compression: v.string(),
  retention_name: v.string(), retention_uuid: Uuid, expiry: v.number(),
  schedule_name: v.string(), schedule_uuid: Uuid, schedule: v.string(),
  store_name: v.string(), store_uuid: Uuid, store_plugin: v.string(), store_endpoint: v.string(),
  target_name: v.string(), target_uuid: Uuid, target_plugin: v.string(), target_endpoint: v.string(), agent: v.string(),
});
export const ArchiveJson = v.object({
  uuid: Uuid, store_key: v.string(), taken_at: Time, expires_at: Time, notes: v.string(),
  status: ArchiveStatus, job_uuid: v.nullable(Uuid),
  size: v.nullable(v.number()), raw_size: v.nullable(v.number()), sha256: v.nullable(v.string()),
  compression: v.string(), cipher: v.string(), purged_at: NullableTime,
  purge_attempts: v.number(), purge_error: v.nullable(v.string()), purge_next_at: NullableTime,
  pinned: v.pipe(v.boolean(), v.description("A pinned archive is never expired")), pin_reason: v.string(),
  store_uuid: Uuid, store_name: v.nullable(v.string()), store_plugin: v.nullable(v.string()), store_endpoint: v.nullable(v.string()),
  target_uuid: Uuid, target_name: v.nullable(v.string()), target_plugin: v.nullable(v.string()), target_endpoint: v.nullable(v.string()),
});
export const TaskJson = v.object({
  uuid: Uuid, owner: v.string(), requested_by: v.nullable(v.string()), type: v.string(), status: TaskStatus,
  job_uuid: v.nullable(Uuid), archive_uuid: v.nullable(Uuid), target_uuid: v.nullable(Uuid), store_uuid: v.nullable(Uuid),
  requested_at: Time, due_at: NullableTime, started_at: NullableTime, stopped_at: NullableTime,
  runner: v.nullable(v.string()), log: v.string(),
});
export const UserJson = v.object({ uuid: Uuid, name: v.string(), role: Role, created_at: Time });
export const TokenJson = v.object({ uuid: Uuid, name: v.string(), created_at: Time, last_used_at: NullableTime });
export const TokenCreated = v.object({ ok: v.literal("created"), uuid: Uuid, token: v.string() });
export const WhoAmI = v.object({ uuid: Uuid, name: v.string(), role: Role });
export const Health = v.object({ ok: v.string(), ready: v.literal(true), version: v.string() });
