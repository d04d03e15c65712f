// /v1/notifications: channels that tell of task outcomes (issue 16), admin only:
// their settings hold credentials (an SMTP password, a webhook's secret or token URL).
import * as v from "valibot";
import { route, type Router } from "./route.ts";
import { Created, DEFAULT_LIMIT, Deleted, Paging, Updated, Uuid, UuidParam } from "./schemas.ts";
import { CHANNEL_KINDS, EVENT_KINDS } from "../notify/channels.ts";
import { REDACTED_SETTING, type ChannelView } from "../core/notifications.ts";
import type { DeliveryRow } from "../catalog/index.ts";

// As the API's other names: a NUL is refused here (PostgreSQL cannot store one in text).
const Name = v.pipe(v.string("must be a string"), v.trim(), v.nonEmpty("must not be empty"), v.maxLength(200, "must be at most 200 characters"),
  v.check((s) => !s.includes("\0"), "must not contain a NUL character"));
const Kind = v.picklist(CHANNEL_KINDS, `must be one of ${CHANNEL_KINDS.join(", ")}`);
const Event = v.picklist(EVENT_KINDS, `must be one of ${EVENT_KINDS.join(", ")}`);
const Settings = v.record(v.string(), v.unknown(), "must be a JSON object");
const Events = v.array(Event, "must be an array of event names");
const Jobs = v.array(Uuid, "must be an array of job UUIDs");

export const ChannelCreate = v.strictObject({ name: Name, kind: Kind, settings: Settings, events: v.optional(Events), jobs: v.optional(Jobs) });
export const ChannelUpdate = v.strictObject({ name: v.optional(Name), settings: v.optional(Settings), events: v.optional(Events), jobs: v.optional(Jobs) });
const DeliveryStatus = v.picklist(["pending", "delivered", "failed"], "must be pending, delivered or failed");
export const DeliveryQuery = v.object({ status: v.optional(DeliveryStatus), channel: v.optional(Uuid), task: v.optional(Uuid), ...Paging });

export const ChannelJson = v.object({
  uuid: Uuid, name: v.string(), kind: Kind, settings: Settings, events: v.array(v.string()), jobs: v.array(v.string()), created_at: v.number(),
});
export const DeliveryJson = v.object({
  uuid: Uuid, channel_uuid: Uuid, event: v.string(), task_uuid: v.nullable(v.string()), job_uuid: v.nullable(v.string()),
  status: DeliveryStatus, attempts: v.number(), next_at: v.nullable(v.number()), last_error: v.nullable(v.string()),
  created_at: v.number(), delivered_at: v.nullable(v.number()), message: v.unknown(),
});

const channelJson = (c: ChannelView) => ({
  uuid: c.uuid, name: c.name, kind: c.kind, settings: c.settings, events: c.events, jobs: c.jobs, created_at: c.createdAt,
});
const deliveryJson = (d: DeliveryRow) => ({
  uuid: d.uuid, channel_uuid: d.channelUuid, event: d.event, task_uuid: d.taskUuid, job_uuid: d.jobUuid, status: d.status,
  attempts: d.attempts, next_at: d.nextAt, last_error: d.lastError, created_at: d.createdAt, delivered_at: d.deliveredAt,
  message: JSON.parse(d.message),
});

const SETTINGS_NOTE = "settings by kind: webhook {url, secret?} (the body is signed: X-Shield-Signature: sha256=HMAC-SHA256 hex of the body); " +
  "slack, discord, mattermost, teams {url} (the incoming webhook's URL); email {host, port?, tls: tls|starttls|none, user?, password?, from, to: [..], ca?}; " +
  `ping {url} (Healthchecks-style: URL/start, URL, URL/fail). Secret settings (password, secret, and the URLs, which carry tokens) are answered as "${REDACTED_SETTING}"; ` +
  "sent back so, they keep the stored value. events: default backup.failed, purge.failed, drill.failed (a ping channel: backup.started, backup.succeeded, backup.failed); jobs: empty for every job.";

export function notificationRoutes(router: Router): void {
  const rules = () => router.core.notifications;
  const tag = "notifications";
  route(router, {
    method: "get", operationId: "listNotificationChannels", path: "/v1/notifications", tag, permission: "admin",
    summary: "List notification channels, by name", description: SETTINGS_NOTE, response: v.array(ChannelJson),
  }, async () => (await rules().list()).map(channelJson));

  route(router, {
    audit: { type: "notification channel", action: "create", id: ({ result }) => result?.uuid },
    method: "post", operationId: "createNotificationChannel", path: "/v1/notifications", tag, permission: "admin", body: ChannelCreate,
    example: { name: "ops-webhook", kind: "webhook", settings: { url: "https://hooks.example.com/shield" }, events: ["backup.failed"] },
    summary: "Create a notification channel", description: SETTINGS_NOTE, response: Created, errors: [409],
  }, async ({ body }) => ({ ok: "created", uuid: await rules().create(body) }));

  // Before /v1/notification/:uuid would not matter (another prefix), but the list is its own path.
  route(router, {
    method: "get", operationId: "listNotificationDeliveries", path: "/v1/notifications/deliveries", tag, permission: "admin", query: DeliveryQuery,
    summary: "List notification deliveries, newest first",
    description: "Each message owed to a channel: pending (with next_at, the next attempt), delivered, or failed (given up after its attempts); " +
      "last_error says why the last attempt failed. ?status=, ?channel=, ?task=; ?limit= (default 100) and ?offset=.",
    response: v.array(DeliveryJson),
  }, async ({ query }) => {
    const { limit = DEFAULT_LIMIT, offset = 0, ...filter } = query;
    return (await rules().deliveries(filter, { limit, offset })).map(deliveryJson);
  });

  route(router, {
    method: "get", operationId: "showNotificationChannel", path: "/v1/notification/:uuid", tag, permission: "admin", params: UuidParam,
    summary: "Show a notification channel", description: SETTINGS_NOTE, response: ChannelJson, errors: [404],
  }, async ({ params }) => channelJson(await rules().get(params.uuid)));

  route(router, {
    audit: { type: "notification channel", action: "update" },
    method: "put", operationId: "updateNotificationChannel", path: "/v1/notification/:uuid", tag, permission: "admin", params: UuidParam, body: ChannelUpdate,
    example: { events: ["backup.failed", "restore.finished"] },
    summary: "Update a notification channel", description: `What is given replaces what was; the kind stays. ${SETTINGS_NOTE}`,
    response: Updated, errors: [404, 409],
  }, async ({ params, body }) => {
    await rules().update(params.uuid, body);
    return { ok: "updated" };
  });

  route(router, {
    audit: { type: "notification channel", action: "delete" },
    method: "delete", operationId: "deleteNotificationChannel", path: "/v1/notification/:uuid", tag, permission: "admin", params: UuidParam,
    summary: "Delete a notification channel", description: "Deliveries still owed to it are dropped.", response: Deleted, errors: [404],
  }, async ({ params }) => {
    await rules().delete(params.uuid);
    return { ok: "deleted" };
  });

  route(router, {
    audit: { none: "a test message changes nothing" },
    method: "post", operationId: "testNotificationChannel", path: "/v1/notification/:uuid/test", tag, permission: "admin", params: UuidParam,
    summary: "Send a test message through a channel, now",
    description: "Answers whether it was delivered (sent: true) or why not (sent: false, error); it is not retried.",
    response: v.object({ sent: v.boolean(), error: v.optional(v.string()) }), errors: [404],
  }, async ({ params }) => rules().test(params.uuid));
}
