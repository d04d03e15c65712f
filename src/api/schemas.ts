// The /v1 request and response shapes, as valibot schemas. Requests are validated
// with them; the OpenAPI document (openapi.ts) is generated from the same schemas.
import * as v from "valibot";
import { PLUGIN_NAME } from "../core/plugins.ts";
import { ProviderName as ProviderNameSchema } from "../core/providers/config.ts";
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

// Limits (README "Limits"): 0 for none; left out of an update, they stay as they are.
const MAX_AMOUNT = 2 ** 40;
const Amount = (what: string) => v.pipe(v.number(`must be ${what}`), v.integer(`must be ${what}`), v.minValue(0, `must be ${what}`), v.maxValue(MAX_AMOUNT, `must be ${what}`));
const Bandwidth = Amount("a whole number of bytes per second, 0 for no limit");
const MaxTasks = Amount("a whole number of tasks, 0 for no limit");
export const TargetCreate = v.strictObject({ name: Name, summary: v.optional(Summary, ""), plugin: PluginName, endpoint: Endpoint, agent: Agent, bandwidth: v.optional(Bandwidth) });
export const TargetUpdate = v.strictObject({ name: Name, summary: Summary, plugin: PluginName, endpoint: Endpoint, agent: Agent, bandwidth: v.optional(Bandwidth) });

export const StoreCreate = v.strictObject({ name: Name, summary: v.optional(Summary, ""), plugin: PluginName, endpoint: Endpoint, max_tasks: v.optional(MaxTasks), bandwidth: v.optional(Bandwidth) });
export const StoreUpdate = v.strictObject({ name: Name, summary: Summary, plugin: PluginName, endpoint: Endpoint, max_tasks: v.optional(MaxTasks), bandwidth: v.optional(Bandwidth) });

const Compression = v.picklist(["zstd", "gzip", "none"], "must be zstd, gzip or none");
// Extra stores each archive is copied to, each with its own retention policy.
export const CopyRequest = v.strictObject({ store: Uuid, retention: Uuid });
const Copies = v.pipe(
  v.array(CopyRequest, "must be a list of {store, retention}"),
  v.maxLength(10, "must name at most 10 stores"),
);
const RunWindowText = v.pipe(v.string("must be a string"), v.regex(/^$|^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/, "must be HH:MM-HH:MM (24-hour, the daemon's zone), e.g. 01:00-05:00, or empty for any time"),
  v.check((w) => w === "" || w.slice(0, 5) !== w.slice(6), "must not start and end at the same time"));
const jobFields = {
  name: Name, store: Uuid, target: Uuid, retention: Uuid,
  // null: the job runs only when asked (run now, the CLI, the API); left out of
  // a create it is null, of an update it stays.
  schedule: v.optional(v.nullable(Uuid)),
  priority: v.optional(Priority), compression: v.optional(Compression),
  copies: v.optional(Copies), run_window: v.optional(RunWindowText),
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

/** An expiry as the API writes times (UTC "YYYY-MM-DD HH:MM:SS"), or ISO 8601 with a zone. */
const ExpiresAt = v.pipe(
  v.string("must be a string"),
  v.check((s) => /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?(\.\d+)?(Z|[+-]\d\d:\d\d)?$/.test(s.trim()) && !Number.isNaN(parseExpiresAt(s)), "must be a time like 2026-12-31 23:59:59 (UTC)"),
  v.transform(parseExpiresAt),
);
/** Seconds since the epoch of an ExpiresAt text (UTC unless it says otherwise). */
export function parseExpiresAt(s: string): number {
  const t = s.trim().replace(" ", "T");
  return Math.floor(Date.parse(/(Z|[+-]\d\d:\d\d)$/.test(t) ? t : `${t}Z`) / 1000);
}
export const TokenCreate = v.pipe(
  v.strictObject({
    name: Name,
    role: v.optional(v.pipe(Role, v.description("Limit the token to this role (at most yours)"))),
    expires_in: v.optional(v.pipe(v.number("must be a number of seconds"), v.integer("must be a whole number of seconds"),
      v.minValue(60, "must be at least 60 seconds"), v.maxValue(10 * 366 * 86400, "must be at most ten years"))),
    expires_at: v.optional(ExpiresAt),
  }),
  v.check((b) => b.expires_in === undefined || b.expires_at === undefined, "give expires_in or expires_at, not both"),
);
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
/** The window of a job's health and of statistics: 30d, 12h, 90m, 3600 (seconds); 1 hour to 10 years. */
export const MAX_WINDOW = 3660 * 86400;
export const WindowParam = v.pipe(
  v.string(),
  v.regex(/^\d{1,9}[smhd]?$/, "must be a duration like 30d, 12h, 90m or 3600 (seconds)"),
  v.transform((s) => Number(s.replace(/[smhd]$/, "")) * ({ s: 1, m: 60, h: 3600, d: 86400 }[s.slice(-1)] ?? 1)),
  v.minValue(3600, "must be at least 1h"),
  v.maxValue(MAX_WINDOW, "must be at most 3660d"),
);
export const JobQuery = v.object({
  target: v.optional(Uuid), store: v.optional(Uuid), schedule: v.optional(Uuid), retention: v.optional(Uuid),
  paused: v.optional(Flag), window: v.optional(WindowParam), ...Paging,
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
export const JobShowQuery = v.object({ window: v.optional(WindowParam) });
export const HistoryQuery = v.object({ ...Paging });
export const StatisticsQuery = v.object({ window: v.optional(WindowParam) });
export const ArchiveStatus = v.picklist(["valid", "expired", "purged", "purge_failed"], "must be valid, expired, purged or purge_failed");
const Bytes = v.pipe(v.string(), v.regex(/^\d{1,15}$/, "must be a whole number of bytes"), v.transform(Number));
export const ArchiveQuery = v.object({
  target: v.optional(Uuid), store: v.optional(Uuid), after: v.optional(Day), before: v.optional(Day),
  status: v.optional(ArchiveStatus), job: v.optional(Uuid),
  q: v.optional(v.pipe(v.string(), v.nonEmpty("must not be empty"), v.maxLength(200, "must be at most 200 characters"), NoNul)),
  min_size: v.optional(Bytes), max_size: v.optional(Bytes),
  sort: v.optional(v.picklist(["taken_at", "size"], "must be taken_at or size")),
  order: v.optional(v.picklist(["desc", "asc"], "must be desc or asc")),
  ...Paging,
});
/** A moment for ?since= and ?until=: a UTC time as the API writes them, ISO 8601 with a zone, or a day (YYYY-MM-DD, UTC). */
const DAY_ONLY = /^\d{4}-\d\d-\d\d$/;
const MOMENT = /^(\d{4}-\d\d-\d\d)[ T]\d\d:\d\d(:\d\d)?(\.\d+)?(Z|[+-]\d\d:\d\d)?$/;
/** Seconds of a moment, or NaN; a day that is not on the calendar (2026-02-31) is NaN, not rolled into March. */
function momentSeconds(text: string): number {
  const s = text.trim();
  const day = DAY_ONLY.test(s) ? s : MOMENT.exec(s)?.[1];
  if (!day) return NaN;
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const check = new Date(Date.UTC(y, m - 1, d));
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d) return NaN;
  return parseExpiresAt(DAY_ONLY.test(s) ? `${s} 00:00:00` : s);
}
const Moment = (endOfDay: boolean) => v.pipe(
  v.string(),
  v.check((s) => !Number.isNaN(momentSeconds(s)), "must be a day (2026-12-31) or a time like 2026-12-31 23:59:59 (UTC)"),
  // A day alone: from its first second (since) or to its last (until), so ?since=D&until=D is that whole day.
  v.transform((s) => momentSeconds(s) + (endOfDay && DAY_ONLY.test(s.trim()) ? 86399 : 0)),
);
const Word = v.pipe(v.string(), v.nonEmpty("must not be empty"), v.maxLength(200, "must be at most 200 characters"), NoNul);
export const AuditQuery = v.object({
  user: v.optional(v.pipe(Word, v.description("a user name (the name tried, for failed sign-ins) or a user's uuid"))),
  type: v.optional(v.pipe(Word, v.description("the kind of object: target, store, schedule, retention policy, job, archive, task, drill, notification channel, auth provider, user, token, session, agent"))),
  object: v.optional(v.pipe(Word, v.description("an object's uuid (an auth provider's or agent's name)"))),
  action: v.optional(v.pipe(Word, v.description("create, update, delete, run, restore, cancel, pause, unpause, sign-in, sign-in-failed..."))),
  since: v.optional(Moment(false)), until: v.optional(Moment(true)),
  ...Paging,
});
export const AuditJson = v.object({
  uuid: Uuid, at: v.pipe(v.string(), v.description("UTC, as YYYY-MM-DD HH:MM:SS")),
  user: v.pipe(v.string(), v.description("who: the user's name (for a failed sign-in, the name tried)")),
  user_uuid: v.nullable(Uuid), provider: v.nullable(v.string()),
  token: v.pipe(v.nullable(v.string()), v.description("the API token's name when the request came with one (a web session is one)")),
  address: v.pipe(v.string(), v.description("the client's IP address (through a trusted proxy: the address it names)")),
  action: v.string(), object_type: v.string(), object_uuid: v.nullable(v.string()), object_name: v.nullable(v.string()),
  changes: v.pipe(v.record(v.string(), v.object({ from: v.optional(v.unknown()), to: v.optional(v.unknown()) })),
    v.description('field → {from, to}: from absent on creation, to absent on deletion; secret values are "********"')),
});
export const TaskStatus = v.picklist(["pending", "running", "canceled", "failed", "done"], "must be pending, running, canceled, failed or done");
export const TaskQuery = v.object({
  status: v.optional(TaskStatus), job: v.optional(Uuid), archive: v.optional(Uuid),
  q: v.optional(v.pipe(v.string(), v.nonEmpty("must not be empty"), v.maxLength(200, "must be at most 200 characters"), NoNul)),
  // Accepted for compatibility with the original Shield; it changes nothing.
  debug: v.optional(v.string()),
  ...Paging,
});

/** The longest ?wait= of GET /v1/task/:uuid: under the HTTP server's idle timeout (10 s), which would cut a longer one. */
export const MAX_TASK_WAIT = 8;
export const TaskWaitQuery = v.object({
  wait: v.optional(v.pipe(
    v.string(),
    v.regex(/^\d+$/, `must be a whole number of seconds from 0 to ${MAX_TASK_WAIT}`),
    v.transform(Number),
    v.maxValue(MAX_TASK_WAIT, `must be a whole number of seconds from 0 to ${MAX_TASK_WAIT}`),
  )),
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
/** A "Test connection" (api/connections.ts): the plugin's `test` answer. */
export const TestResultJson = v.object({ ok: v.boolean(), lines: v.array(v.string()), tested_at: v.string() });
/** The last "Test connection" of a target or store since the daemon started; null when none. */
const LastTest = v.nullable(TestResultJson);
/** A job's restore drill (src/api/drills.ts): its scratch target and schedule. */
export const DrillPlanJson = v.object({ target_uuid: Uuid, schedule_uuid: Uuid, next_due_at: v.nullable(v.number()) });
/** One drill's outcome and measured RTO. */
export const DrillResultJson = v.object({
  task_uuid: Uuid, archive_uuid: v.nullable(v.string()), ok: v.boolean(), rto_ms: v.nullable(v.number()),
  figures: v.unknown(), verify: v.string(), error: v.nullable(v.string()), finished_at: v.number(),
});
export const JobCopyJson = v.object({ store: Uuid, retention: Uuid });
export const TargetJson = v.object({ uuid: Uuid, name: v.string(), summary: v.string(), plugin: v.string(), endpoint: v.string(), agent: v.string(), bandwidth: v.number(), last_test: LastTest });
export const StoreJson = v.object({ uuid: Uuid, name: v.string(), summary: v.string(), plugin: v.string(), endpoint: v.string(), max_tasks: v.number(), bandwidth: v.number(), last_test: LastTest });
export const JobJson = v.object({
  uuid: Uuid, name: v.string(), summary: v.string(), priority: v.number(), paused: v.boolean(), compression: v.string(),
  retention_name: v.string(), retention_uuid: Uuid, expiry: v.number(),
  schedule_name: v.pipe(v.nullable(v.string()), v.description("null: the job has no schedule and runs only when asked")),
  schedule_uuid: v.nullable(Uuid), schedule: v.nullable(v.string()),
  store_name: v.string(), store_uuid: Uuid, store_plugin: v.string(), store_endpoint: v.string(),
  target_name: v.string(), target_uuid: Uuid, target_plugin: v.string(), target_endpoint: v.string(), agent: v.string(),
  copies: v.array(JobCopyJson),
  run_window: v.pipe(v.string(), v.description("HH:MM-HH:MM in the daemon's zone; scheduled runs due outside it wait for its start. Empty: any time")),
  // The job's restore drill (issue 16; src/api/drills.ts): its scratch target and schedule, and the last drill's outcome and RTO.
  drill: v.nullable(DrillPlanJson),
  last_drill: v.nullable(DrillResultJson),
});
export const RunJson = v.object({
  task_uuid: Uuid, status: TaskStatus, started_at: NullableTime, stopped_at: Time,
  duration: v.pipe(v.nullable(v.number()), v.description("Seconds")),
  archive_uuid: v.nullable(Uuid), size: v.pipe(v.nullable(v.number()), v.description("Bytes stored; null for a failed run")),
  error: v.pipe(v.nullable(v.string()), v.description("Why a failed run failed, in one line")),
});
export const WindowJson = v.object({
  seconds: v.number(), runs: v.number(), failures: v.number(),
  success_rate: v.pipe(v.nullable(v.number()), v.description("0 to 1; null without runs")),
  median_duration: v.pipe(v.nullable(v.number()), v.description("Seconds, of the successful runs")),
  median_size: v.pipe(v.nullable(v.number()), v.description("Bytes, of the successful runs")),
  size_trend_per_day: v.pipe(v.nullable(v.number()), v.description("Bytes per day: the slope of the successful runs' sizes")),
});
export const JobHealthJson = v.object({
  ...JobJson.entries,
  last_run: v.nullable(RunJson),
  next_run: v.pipe(NullableTime, v.description("null for a paused job or a schedule that never runs again")),
  window: WindowJson,
});
const Totals = v.object({ archives: v.number(), bytes: v.number() });
export const StatisticsJson = v.object({
  window: v.number(),
  totals: v.object({ archives: v.number(), bytes: v.number(), jobs: v.number(), failing_jobs: v.number() }),
  stores: v.array(v.object({
    uuid: Uuid, name: v.nullable(v.string()), plugin: v.nullable(v.string()), archives: v.number(), bytes: v.number(),
    added_per_day: v.number(), growth_per_day: v.number(), by_status: v.record(v.string(), Totals),
    used_per_day: v.pipe(v.array(v.object({ date: v.string(), bytes: v.number() })),
      v.description("Bytes held at the end of each UTC day of the window, oldest first (today: now)")),
  })),
  targets: v.array(v.object({
    uuid: Uuid, name: v.nullable(v.string()), plugin: v.nullable(v.string()), archives: v.number(), bytes: v.number(), last_taken_at: NullableTime,
  })),
  failing_jobs: v.array(v.object({
    uuid: Uuid, name: v.string(), target_name: v.string(), store_name: v.string(), failed_at: Time, task_uuid: Uuid, error: v.nullable(v.string()),
  })),
  runs: v.pipe(v.object({
    runs: v.number(), failures: v.number(), success_rate: v.pipe(v.nullable(v.number()), v.description("0 to 1; null without runs")),
    per_day: v.array(v.object({ date: v.string(), runs: v.number(), failures: v.number() })),
  }), v.description("Backups of every job that ended (done or failed) in the window, and per UTC day, every day, oldest first")),
});
export const CopyJson = v.object({
  uuid: Uuid, store_uuid: Uuid, store_name: v.nullable(v.string()), store_plugin: v.nullable(v.string()),
  status: v.picklist(["pending", "valid", "failed", "expired", "purged", "purge_failed"]),
  store_key: v.nullable(v.string()), size: v.nullable(v.number()), sha256: v.nullable(v.string()), error: v.nullable(v.string()),
  retention_uuid: v.nullable(Uuid), copied_at: NullableTime, expires_at: NullableTime, purged_at: NullableTime,
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
  copies: v.optional(v.pipe(v.array(CopyJson), v.description("Shown on GET /v1/archive/:uuid: the archive's copies in other stores, with status"))),
});
/** A running task's progress (pipeline/progress.ts). */
export const TaskProgress = v.object({
  phase: v.picklist(["starting", "dumping", "storing", "verifying", "restoring"]),
  bytes: v.number(), total: v.nullable(v.number()), estimate: v.boolean(), counts: v.picklist(["stored", "raw"]),
  rate: v.number(), eta: v.nullable(v.number()), percent: v.nullable(v.number()), started_at: v.number(), updated_at: v.number(),
});
export const TaskJson = v.object({
  uuid: Uuid, owner: v.string(), requested_by: v.nullable(v.string()), type: v.string(), status: TaskStatus,
  job_uuid: v.nullable(Uuid), archive_uuid: v.nullable(Uuid), target_uuid: v.nullable(Uuid), store_uuid: v.nullable(Uuid),
  requested_at: Time, due_at: NullableTime, started_at: NullableTime, stopped_at: NullableTime,
  runner: v.nullable(v.string()), progress: v.nullable(TaskProgress),
  error: v.pipe(v.nullable(v.string()), v.description("Why a failed task failed, in one line; null otherwise")),
  log: v.string(),
});
export const UserJson = v.object({ uuid: Uuid, name: v.string(), role: Role, provider: v.pipe(v.string(), v.description("The auth provider the user signs in through")), created_at: Time });
export const TokenJson = v.object({
  uuid: Uuid, name: v.string(), created_at: Time, last_used_at: NullableTime,
  role: v.pipe(v.nullable(Role), v.description("The role the token is limited to; null: its owner's")),
  expires_at: NullableTime,
});
export const TokenCreated = v.object({ ok: v.literal("created"), uuid: Uuid, token: v.string(), role: Role, expires_at: NullableTime });
export const WhoAmI = v.object({ uuid: Uuid, name: v.string(), role: Role, provider: v.string() });
export const SessionJson = v.object({
  ...TokenJson.entries, user: v.object({ uuid: Uuid, name: v.string(), provider: v.string() }),
});
export const SessionQuery = v.object({ user: v.optional(Uuid) });

export const ProviderJson = v.object({
  name: v.string(), type: v.picklist(["local", "ldap", "oidc", "none"]), builtin: v.boolean(),
  config: v.pipe(v.record(v.string(), v.unknown()), v.description("The provider's settings; secret ones (bind_password, client_secret) shown as ********")),
  created_at: NullableTime,
});
export const ProviderNameParam = v.object({ name: v.pipe(v.string(), v.nonEmpty()) });
export const ProviderCreate = v.strictObject({
  name: ProviderNameSchema,
  type: v.picklist(["ldap", "oidc", "none"], "must be ldap, oidc or none"),
  config: v.optional(v.record(v.string(), v.unknown(), "must be a JSON object"), {}),
});
// Single sign-on (oidc): the web UI's code flow and the CLI's device grant. The
// flow's state is an opaque sealed text the client keeps and sends back.
const FlowState = v.pipe(v.string("must be the state text the start answered"), v.nonEmpty("must not be empty"), v.maxLength(8000, "is too long"));
const SessionExpiry = v.optional(v.pipe(v.number("must be a number of seconds"), v.integer("must be a whole number of seconds"),
  v.minValue(60, "must be at least 60 seconds"), v.maxValue(366 * 86400, "must be at most a year")));
export const SsoProviderJson = v.object({ name: v.string(), type: v.string(), label: v.string() });
export const SsoStart = v.strictObject({
  redirect_uri: v.pipe(v.string("must be a URL"), v.url("must be an absolute URL"), v.regex(/^https?:\/\//i, "must be an http:// or https:// URL"), v.maxLength(2000, "is too long")),
});
export const SsoStarted = v.object({ url: v.string(), state: v.string() });
export const SsoFinish = v.strictObject({
  state: FlowState,
  query: v.pipe(v.record(v.string(), v.pipe(v.string("must be text"), v.maxLength(8000, "is too long")), "must be an object of the callback's query parameters"),
    v.check((q) => Object.keys(q).length <= 20, "has too many parameters")),
  token_name: v.optional(Name), expires_in: SessionExpiry,
});
export const SsoSignedIn = v.object({ ok: v.literal("created"), uuid: Uuid, token: v.string(), user: v.string(), role: Role, expires_at: NullableTime });
export const SsoDevice = v.object({
  user_code: v.string(), verification_uri: v.string(), verification_uri_complete: v.optional(v.string()),
  interval: v.number(), expires_in: v.number(), state: v.string(),
});
export const SsoPoll = v.strictObject({ state: FlowState, token_name: v.optional(Name), expires_in: SessionExpiry });
export const SsoPolled = v.union([v.object({ pending: v.literal(true), interval: v.number() }), SsoSignedIn]);
export const ProviderUpdate = v.strictObject({ config: v.record(v.string(), v.unknown(), "must be a JSON object") });
export const Health = v.object({ ok: v.string(), ready: v.literal(true), version: v.string() });
