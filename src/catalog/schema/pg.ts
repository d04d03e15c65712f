// The catalog on PostgreSQL (shared deployments). Column names, JS types and
// constraints mirror ./sqlite.ts exactly: the query layer uses either through one API.
import { sql } from "drizzle-orm";
import { pgTable, text, integer, bigint, boolean, uuid, index, primaryKey, uniqueIndex } from "drizzle-orm/pg-core";

// Times are whole seconds since the epoch, as in the design's INTEGER columns.
const time = (name: string) => bigint(name, { mode: "number" });

export const targets = pgTable("targets", {
  uuid: uuid("uuid").primaryKey(),
  name: text("name").notNull(),
  summary: text("summary").notNull().default(""),
  plugin: text("plugin").notNull(),
  endpoint: text("endpoint").notNull(),
  agent: text("agent").notNull().default(""),
  // Bytes per second at most for its backups and restores (0: unlimited; README "Limits").
  // No max_tasks: a target runs one backup or restore at a time already (tasks_one_running_per_target).
  bandwidth: integer("bandwidth").notNull().default(0),
  createdAt: time("created_at").notNull(),
}, (t) => [uniqueIndex("targets_name").on(t.name), index("targets_plugin").on(t.plugin)]);

export const stores = pgTable("stores", {
  uuid: uuid("uuid").primaryKey(),
  name: text("name").notNull(),
  summary: text("summary").notNull().default(""),
  plugin: text("plugin").notNull(),
  endpoint: text("endpoint").notNull(),
  // Limits (README "Limits"): at most max_tasks tasks (backups, restores, copies
  // into it, purges) running on it at once (0: only --workers bounds them), and its
  // bytes moved at most bandwidth per second (0: unlimited).
  maxTasks: integer("max_tasks").notNull().default(0),
  bandwidth: integer("bandwidth").notNull().default(0),
  createdAt: time("created_at").notNull(),
}, (t) => [uniqueIndex("stores_name").on(t.name), index("stores_plugin").on(t.plugin)]);

export const schedules = pgTable("schedules", {
  uuid: uuid("uuid").primaryKey(),
  name: text("name").notNull(),
  summary: text("summary").notNull().default(""),
  timespec: text("timespec").notNull(),
  createdAt: time("created_at").notNull(),
}, (t) => [uniqueIndex("schedules_name").on(t.name)]);

export const retention = pgTable("retention", {
  uuid: uuid("uuid").primaryKey(),
  name: text("name").notNull(),
  summary: text("summary").notNull().default(""),
  // Seconds; a 100-year policy does not fit a 32-bit integer.
  expiry: bigint("expiry", { mode: "number" }).notNull(),
  createdAt: time("created_at").notNull(),
  // GFS rules (docs/retention.md): counts of periods to keep, 0 for none; keep_within
  // in seconds, 0 for none. With every rule 0 the policy is the plain expiry.
  keepLast: integer("keep_last").notNull().default(0),
  keepHourly: integer("keep_hourly").notNull().default(0),
  keepDaily: integer("keep_daily").notNull().default(0),
  keepWeekly: integer("keep_weekly").notNull().default(0),
  keepMonthly: integer("keep_monthly").notNull().default(0),
  keepYearly: integer("keep_yearly").notNull().default(0),
  keepWithin: bigint("keep_within", { mode: "number" }).notNull().default(0),
}, (t) => [uniqueIndex("retention_name").on(t.name)]);

export const jobs = pgTable("jobs", {
  uuid: uuid("uuid").primaryKey(),
  name: text("name").notNull(),
  summary: text("summary").notNull().default(""),
  targetUuid: uuid("target_uuid").notNull().references(() => targets.uuid),
  storeUuid: uuid("store_uuid").notNull().references(() => stores.uuid),
  // Null: a job run by hand only (the scheduler never files it).
  scheduleUuid: uuid("schedule_uuid").references(() => schedules.uuid),
  retentionUuid: uuid("retention_uuid").notNull().references(() => retention.uuid),
  priority: integer("priority").notNull().default(50),
  // How this job's archives are compressed (zstd, gzip, none); recorded on each archive.
  compression: text("compression").notNull().default("zstd"),
  paused: boolean("paused").notNull().default(false),
  createdAt: time("created_at").notNull(),
  // The scheduler's state: the next due time, and the effective schedule (timespec,
  // DEV mode, zone) it was computed from, so that an edited schedule is noticed.
  // Advanced with a compare-and-set, so that daemons sharing the catalog agree.
  nextDueAt: time("next_due_at"),
  nextDueSpec: text("next_due_spec"),
  // Extra stores each archive is copied to after the backup, each with its own
  // retention policy: JSON [{"store": uuid, "retention": uuid}] (src/core/copies.ts).
  copies: text("copies").notNull().default("[]"),
  // "HH:MM-HH:MM" in the daemon's zone: scheduled runs due outside it wait for its
  // start (src/scheduler/window.ts); "" for any time.
  runWindow: text("run_window").notNull().default(""),
}, (t) => [
  uniqueIndex("jobs_name").on(t.name),
  index("jobs_target").on(t.targetUuid),
  index("jobs_store").on(t.storeUuid),
  index("jobs_schedule").on(t.scheduleUuid),
  index("jobs_retention").on(t.retentionUuid),
]);

export const archives = pgTable("archives", {
  uuid: uuid("uuid").primaryKey(),
  // No foreign keys: an archive row outlives its job, and purged rows are kept
  // for the audit trail after their target or store is gone.
  targetUuid: uuid("target_uuid").notNull(),
  storeUuid: uuid("store_uuid").notNull(),
  jobUuid: uuid("job_uuid"),
  storeKey: text("store_key").notNull(),
  takenAt: time("taken_at").notNull(),
  expiresAt: time("expires_at").notNull(),
  notes: text("notes").notNull().default(""),
  status: text("status", { enum: ["valid", "expired", "purged", "purge_failed"] }).notNull().default("valid"),
  size: bigint("size", { mode: "number" }),
  rawSize: bigint("raw_size", { mode: "number" }),
  sha256: text("sha256"),
  compression: text("compression").notNull().default("none"),
  cipher: text("cipher").notNull().default("none"),
  encryptionKey: text("encryption_key"),
  purgedAt: time("purged_at"),
  // The retention purger's bookkeeping: failed attempts, the last error, and when
  // the next attempt may start (also a lease while a purge task is on its way).
  purgeAttempts: integer("purge_attempts").notNull().default(0),
  purgeError: text("purge_error"),
  purgeNextAt: time("purge_next_at"),
  // An operator's pin: a pinned archive is never expired, by its expiry or by rules.
  pinned: boolean("pinned").notNull().default(false),
  pinReason: text("pin_reason").notNull().default(""),
}, (t) => [
  index("archives_target_taken").on(t.targetUuid, t.takenAt),
  index("archives_store_taken").on(t.storeUuid, t.takenAt),
  // size and store in it: the bytes taken per store over a statistics window, from the index alone.
  index("archives_taken").on(t.takenAt, t.storeUuid, t.size),
  index("archives_status_expires").on(t.status, t.expiresAt),
  // Job health and statistics (src/catalog/health.ts): a job's archives. (The per
  // store/status/target totals are kept in archive_totals now.)
  index("archives_job_taken").on(t.jobUuid, t.takenAt),
  // store and size in it: the bytes purged per store over a statistics window, from the index alone.
  index("archives_status_purged").on(t.status, t.purgedAt, t.storeUuid, t.size),
]);

// The archive rows totalled by store, status and target: what statistics and
// metrics show, kept by triggers on archives (the migration that creates it has
// them) so that a dashboard's refresh reads a few dozen rows instead of every
// archive ever taken, purged ones included. Rows whose count fell to 0 stay.
export const archiveTotals = pgTable("archive_totals", {
  storeUuid: uuid("store_uuid").notNull(),
  status: text("status").notNull(),
  targetUuid: uuid("target_uuid").notNull(),
  archives: integer("archives").notNull().default(0),
  bytes: bigint("bytes", { mode: "number" }).notNull().default(0),
}, (t) => [primaryKey({ columns: [t.storeUuid, t.status, t.targetUuid] })]);

// Each job's last run (kind "last": its newest backup that ended done or failed)
// and last successful run (kind "success": done), with the run's figures copied
// from tasks and the archive's size from archives: what job health, statistics
// and /metrics read, one row per job and kind instead of one index seek into
// tasks per job. Kept by triggers on tasks, archives and jobs (the migration that
// creates it, 0016_job_last_runs, has them and the backfill); a task deleted by the
// pruner that was a job's last run makes the trigger look for the one before.
export const jobLastRuns = pgTable("job_last_runs", {
  jobUuid: uuid("job_uuid").notNull(),
  kind: text("kind", { enum: ["last", "success"] }).notNull(),
  taskUuid: uuid("task_uuid").notNull(),
  status: text("status", { enum: ["pending", "running", "canceled", "failed", "done"] }).notNull(),
  requestedAt: time("requested_at").notNull(),
  startedAt: time("started_at"),
  stoppedAt: time("stopped_at").notNull(),
  error: text("error"),
  archiveUuid: uuid("archive_uuid"),
  size: bigint("size", { mode: "number" }),
}, (t) => [primaryKey({ columns: [t.jobUuid, t.kind] }), index("job_last_runs_archive").on(t.archiveUuid)]);

// The objects of an archive written by an external producer (gpbackup's storage
// plugin): one archive holds many blobs, each under its own store key, named as
// the producer names it (backups/<date>/<timestamp>/<file>). The purger purges
// every one of them; an archive with no object rows has its single blob at store_key.
export const archiveObjects = pgTable("archive_objects", {
  archiveUuid: uuid("archive_uuid").notNull(),
  name: text("name").notNull(),
  storeKey: text("store_key").notNull(),
  size: bigint("size", { mode: "number" }).notNull(),
  storedAt: time("stored_at").notNull(),
}, (t) => [primaryKey({ columns: [t.archiveUuid, t.name] })]);

// Copies of an archive's stored blob in other stores (the job's `copies`): the
// same bytes (compressed, encrypted), so the archive's key and checksum apply.
// One row per archive and store; it expires by its own policy's expiry.
export const archiveCopies = pgTable("archive_copies", {
  uuid: uuid("uuid").primaryKey(),
  archiveUuid: uuid("archive_uuid").notNull(),
  storeUuid: uuid("store_uuid").notNull(),
  retentionUuid: uuid("retention_uuid"),
  // Set once the destination store names its blob.
  storeKey: text("store_key"),
  // pending (its copy task filed), valid (copied and verified), failed, expired, purged, purge_failed.
  status: text("status", { enum: ["pending", "valid", "failed", "expired", "purged", "purge_failed"] }).notNull(),
  size: integer("size"),
  sha256: text("sha256"),
  error: text("error"),
  createdAt: time("created_at").notNull(),
  copiedAt: time("copied_at"),
  expiresAt: time("expires_at"),
  purgedAt: time("purged_at"),
  purgeAttempts: integer("purge_attempts").notNull().default(0),
  purgeNextAt: time("purge_next_at"),
}, (t) => [
  uniqueIndex("archive_copies_archive_store").on(t.archiveUuid, t.storeUuid),
  index("archive_copies_status_expires").on(t.status, t.expiresAt),
]);

export const tasks = pgTable("tasks", {
  uuid: uuid("uuid").primaryKey(),
  owner: text("owner").notNull(),
  // Who filed the task: the user name, "token:USER/TOKEN" for an API token, or the
  // daemon's part that did ("scheduler", "purger"). Null on tasks filed before it was recorded.
  requestedBy: text("requested_by"),
  op: text("op").notNull(),
  jobUuid: uuid("job_uuid"),
  archiveUuid: uuid("archive_uuid"),
  targetUuid: uuid("target_uuid"),
  storeUuid: uuid("store_uuid"),
  status: text("status", { enum: ["pending", "running", "canceled", "failed", "done"] }).notNull(),
  requestedAt: time("requested_at").notNull(),
  startedAt: time("started_at"),
  stoppedAt: time("stopped_at"),
  log: text("log").notNull().default(""),
  // Set as soon as a store names its blob, before the archive row exists: if the
  // daemon dies in between, recovery purges the blob by this key.
  storeKey: text("store_key"),
  // The due time a scheduled backup was filed for; null for ad hoc tasks.
  dueAt: time("due_at"),
  // The daemon process running this task (set when it claims it) and when that
  // daemon last said it still runs it. Daemons sharing a catalog fail only the
  // running tasks whose heartbeat went stale (or whose runner is known dead):
  // runner_id is random per process start; host and pid are for people, and,
  // with runner_pid_space (which kernel boot and PID namespace the pid belongs
  // to), let a daemon see at once that a runner on its own machine is gone.
  runnerId: text("runner_id"),
  runnerHost: text("runner_host"),
  runnerPid: integer("runner_pid"),
  runnerPidSpace: text("runner_pid_space"),
  heartbeatAt: time("heartbeat_at"),
  // Why a failed task failed, in one line (the pipeline's root cause, secrets
  // masked as in the log): what the API, metrics and notifications show.
  error: text("error"),
}, (t) => [
  index("tasks_status_requested").on(t.status, t.requestedAt),
  index("tasks_requested").on(t.requestedAt),
  index("tasks_job").on(t.jobUuid),
  index("tasks_archive").on(t.archiveUuid),
  // A job's runs by end time (then uuid, the tie-break): its last run (one seek per job) and its window of
  // runs; and every job's runs in a window, for a whole list (job health).
  index("tasks_job_op_stopped").on(t.jobUuid, t.op, t.stoppedAt, t.uuid),
  index("tasks_op_stopped").on(t.op, t.stoppedAt),
  // Exactly one task per job and due time, whoever files it (a late tick, a
  // restarted daemon, several daemons on one catalog). NULLs never collide.
  uniqueIndex("tasks_job_due").on(t.jobUuid, t.dueAt),
  // One backup or restore per target at a time, enforced by the catalog itself so
  // that it holds for any number of workers and daemons.
  uniqueIndex("tasks_one_running_per_target").on(t.targetUuid)
    .where(sql`status = 'running' AND op IN ('backup', 'restore')`),
]);

export const users = pgTable("users", {
  uuid: uuid("uuid").primaryKey(),
  name: text("name").notNull(),
  passwordHash: text("password_hash").notNull(),
  role: text("role", { enum: ["admin", "operator", "viewer"] }).notNull(),
  createdAt: time("created_at").notNull(),
  // The auth provider (its name) that proves who this user is: "local" checks
  // password_hash; any other is asked at sign-in (password_hash is then unusable).
  provider: text("provider").notNull().default("local"),
  // What a redirect provider (oidc) left to re-check the user later without them:
  // JSON of the subject and the refresh token, its secrets sealed with the master key.
  providerData: text("provider_data"),
}, (t) => [uniqueIndex("users_name").on(t.name)]);

export const tokens = pgTable("tokens", {
  uuid: uuid("uuid").primaryKey(),
  userUuid: uuid("user_uuid").notNull().references(() => users.uuid, { onDelete: "cascade" }),
  name: text("name").notNull(),
  // SHA-256 of the token: the token itself is shown once and never stored.
  tokenHash: text("token_hash").notNull(),
  createdAt: time("created_at").notNull(),
  lastUsedAt: time("last_used_at"),
  // A role lower than the owner's the token is limited to; NULL: the owner's role.
  role: text("role", { enum: ["admin", "operator", "viewer"] }),
  expiresAt: time("expires_at"),
  // When the owner's provider last confirmed the owner (and their role) for this token.
  checkedAt: time("checked_at"),
}, (t) => [uniqueIndex("tokens_hash").on(t.tokenHash), uniqueIndex("tokens_user_name").on(t.userUuid, t.name)]);

// Shield agents the core has reached (src/agent): see ./sqlite.ts.
export const agents = pgTable("agents", {
  name: text("name").primaryKey(),
  hostKey: text("host_key").notNull(),
  firstSeen: time("first_seen").notNull(),
  lastSeen: time("last_seen").notNull(),
  version: text("version").notNull().default(""),
});
// Notification channels (issue 16); see ./sqlite.ts.
export const notificationChannels = pgTable("notification_channels", {
  uuid: uuid("uuid").primaryKey(),
  name: text("name").notNull(),
  kind: text("kind").notNull(),
  settings: text("settings").notNull(),
  events: text("events").notNull(),
  jobs: text("jobs").notNull().default("[]"),
  createdAt: time("created_at").notNull(),
}, (t) => [uniqueIndex("notification_channels_name").on(t.name)]);

export const notificationDeliveries = pgTable("notification_deliveries", {
  uuid: uuid("uuid").primaryKey(),
  channelUuid: uuid("channel_uuid").notNull(),
  event: text("event").notNull(),
  taskUuid: uuid("task_uuid"),
  jobUuid: uuid("job_uuid"),
  message: text("message").notNull(),
  status: text("status", { enum: ["pending", "delivered", "failed"] }).notNull().default("pending"),
  attempts: integer("attempts").notNull().default(0),
  nextAt: time("next_at"),
  lastError: text("last_error"),
  createdAt: time("created_at").notNull(),
  deliveredAt: time("delivered_at"),
}, (t) => [
  index("notification_deliveries_status_next").on(t.status, t.nextAt),
  index("notification_deliveries_created").on(t.createdAt),
  uniqueIndex("notification_deliveries_once").on(t.channelUuid, t.event, t.taskUuid),
]);

export const drills = pgTable("drills", {
  jobUuid: uuid("job_uuid").primaryKey(),
  scratchTargetUuid: uuid("scratch_target_uuid").notNull(),
  scheduleUuid: uuid("schedule_uuid").notNull(),
  nextDueAt: time("next_due_at"),
  createdAt: time("created_at").notNull(),
}, (t) => [uniqueIndex("drills_scratch_target").on(t.scratchTargetUuid)]);

export const drillResults = pgTable("drill_results", {
  taskUuid: uuid("task_uuid").primaryKey(),
  jobUuid: uuid("job_uuid").notNull(),
  archiveUuid: uuid("archive_uuid"),
  ok: boolean("ok").notNull(),
  rtoMs: bigint("rto_ms", { mode: "number" }),
  figures: text("figures"),
  verify: text("verify").notNull(),
  error: text("error"),
  finishedMs: bigint("finished_ms", { mode: "number" }).notNull(),
}, (t) => [index("drill_results_job_finished").on(t.jobUuid, t.finishedMs)]);
/** Auth providers besides the built-in "local": config is JSON, its secrets sealed like endpoint secrets. */
export const authProviders = pgTable("auth_providers", {
  uuid: uuid("uuid").primaryKey(),
  name: text("name").notNull(),
  type: text("type", { enum: ["ldap", "oidc", "none"] }).notNull(),
  config: text("config").notNull(),
  createdAt: time("created_at").notNull(),
}, (t) => [uniqueIndex("auth_providers_name").on(t.name)]);

export const auditEntries = pgTable("audit_entries", {
  uuid: uuid("uuid").primaryKey(),
  at: time("at").notNull(),
  userUuid: uuid("user_uuid"),
  userName: text("user_name").notNull(),
  provider: text("provider"),
  tokenName: text("token_name"),
  address: text("address").notNull(),
  action: text("action").notNull(),
  objectType: text("object_type").notNull(),
  // Text, not uuid: auth providers and agents are named, not numbered.
  objectUuid: text("object_uuid"),
  objectName: text("object_name"),
  changes: text("changes"),
}, (t) => [
  index("audit_entries_at").on(t.at),
  index("audit_entries_user_at").on(t.userName, t.at),
  index("audit_entries_object_at").on(t.objectType, t.objectUuid, t.at),
  index("audit_entries_uuid_at").on(t.objectUuid, t.at),
  index("audit_entries_action_at").on(t.action, t.at),
]);
