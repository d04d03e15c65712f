// The kinds of notification channel, their settings, and their rules (issue 16).
// A channel's settings are a JSON object whose shape its kind says; the secret
// ones (SMTP password, webhook secret, URLs that carry a token) are sealed in the
// catalog with the master key, like endpoint secrets, and redacted in answers.
import * as v from "valibot";
import type { TaskEventName } from "../core/task-events.ts";

/**
 * The events a channel's rules may name: the API's, the CLI's and the catalog's
 * spelling (stored in channels and deliveries, so it stays). `job.overdue` and
 * `agent.unreachable` are no task's: the daemon's watch (watch.ts) tells them.
 * `store.nearly_full` is a hook: nothing tells it until a store reports its space.
 */
export const EVENT_KINDS = [
  "backup.failed", "backup.succeeded", "backup.started", "restore.finished", "purge.failed",
  "drill.failed", "drill.succeeded", "job.overdue", "agent.unreachable", "store.nearly_full",
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** What rules call each task event; null: no rule hears it (a canceled task, a purge done, a copy). */
const RULE_NAMES: Record<TaskEventName, EventKind | null> = {
  backup_started: "backup.started", backup_succeeded: "backup.succeeded", backup_failed: "backup.failed", backup_canceled: null,
  restore_finished: "restore.finished", purge_succeeded: null, purge_failed: "purge.failed",
  drill_succeeded: "drill.succeeded", drill_failed: "drill.failed", task_finished: null,
};

/** The rule name of a task event, or undefined when no channel may hear of it. */
export function ruleName(name: TaskEventName): EventKind | undefined {
  return RULE_NAMES[name] ?? undefined;
}

export const CHANNEL_KINDS = ["webhook", "slack", "discord", "mattermost", "teams", "email", "ping"] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** The events a channel hears when its rules do not say: failures only. */
export const DEFAULT_EVENTS: EventKind[] = ["backup.failed", "purge.failed", "drill.failed"];
/** A ping channel (dead-man's switch) is about a job's backups: start, success, failure. */
export const PING_EVENTS: EventKind[] = ["backup.started", "backup.succeeded", "backup.failed"];

const httpUrl = v.pipe(v.string(), v.url("must be an http:// or https:// URL"), v.regex(/^https?:\/\//i, "must be an http:// or https:// URL"));
const strict = <T extends v.ObjectEntries>(e: T) => v.strictObject(e);

/** Each kind's settings; a strict object, so a misspelt key is named in the 400. */
export const SETTINGS: Record<ChannelKind, v.GenericSchema> = {
  webhook: strict({
    url: httpUrl,
    /** HMAC-SHA256 key: the body is signed in X-Shield-Signature: sha256=HEX. */
    secret: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
  }),
  slack: strict({ url: httpUrl }),
  discord: strict({ url: httpUrl }),
  mattermost: strict({ url: httpUrl }),
  teams: strict({ url: httpUrl }),
  email: strict({
    host: v.pipe(v.string(), v.minLength(1, "must not be empty")),
    port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535))),
    /** tls: TLS from the first byte (465); starttls: upgrade required (587); none: plain (a local relay). */
    tls: v.optional(v.picklist(["tls", "starttls", "none"], 'must be "tls", "starttls" or "none"'), "starttls"),
    user: v.optional(v.string()),
    password: v.optional(v.string()),
    from: v.pipe(v.string(), v.email("must be an email address")),
    to: v.pipe(v.array(v.pipe(v.string(), v.email("must be an email address"))), v.minLength(1, "must name at least one address")),
    /** PEM of a CA to trust besides the system's (a private relay's certificate). */
    ca: v.optional(v.string()),
  }),
  ping: strict({ url: httpUrl }),
};

/** Setting keys that are secrets, whatever their name says: URLs of chat webhooks carry their token. */
export function secretSettings(kind: string): ReadonlySet<string> {
  if (kind === "email") return new Set(["password"]);
  if (kind === "webhook") return new Set(["secret", "url"]);
  return new Set(["url"]);
}

export const EventSchema = v.picklist(EVENT_KINDS, `must be one of ${EVENT_KINDS.join(", ")}`);

/** A channel's settings checked against its kind; throws the first problem as "settings.KEY: why". */
export function checkSettings(kind: ChannelKind, settings: unknown): { ok: true; value: Record<string, unknown> } | { ok: false; fields: Record<string, string> } {
  const r = v.safeParse(SETTINGS[kind], settings);
  if (r.success) return { ok: true, value: r.output as Record<string, unknown> };
  const fields: Record<string, string> = {};
  for (const issue of r.issues) {
    const key = ["settings", ...(issue.path?.map((p) => String(p.key)) ?? [])].join(".");
    fields[key] ??= issue.kind === "schema" && issue.expected === "never" ? `is not a setting of a ${kind} channel`
      : issue.kind === "schema" && issue.received === "undefined" ? "is required" : issue.message;
  }
  return { ok: false, fields };
}

/**
 * Whether a channel's rules take an event about a job (jobs empty: every job). An
 * event about several jobs (an agent that serves the targets of some) is taken
 * when the rules name any of them.
 */
export function matches(events: readonly string[], jobs: readonly string[], kind: EventKind, about: string | readonly string[] | null | undefined): boolean {
  if (!events.includes(kind)) return false;
  if (!jobs.length) return true;
  const concerned = typeof about === "string" ? [about] : about ?? [];
  return concerned.some((j) => jobs.includes(j));
}
