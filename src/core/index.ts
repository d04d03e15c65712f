// The core: the rules of Shield, over the catalog. The API (and through it the
// web UI and CLI) calls these; they throw ShieldErrors for anything refused.
import { agentRules, type AgentSource } from "./agents.ts";
import type { Catalog } from "../catalog/index.ts";
import type { PluginRegistry } from "../plugin-host/index.ts";
import type { EndpointSecrets } from "../pipeline/endpoint-secrets.ts";
import type { ThrottleOptions } from "./throttle.ts";
import { definitionRules } from "./definitions.ts";
import { jobRules } from "./jobs.ts";
import { archiveRules } from "./archives.ts";
import { retentionPolicyRules } from "./retention.ts";
import { gpbackupRules } from "./gpbackup.ts";
import { taskFiler, taskRules } from "./tasks.ts";
import { userRules } from "./users.ts";
import { providerRules } from "./providers/index.ts";
import { endpointCheck, pluginRules } from "./plugins.ts";
import { timespecCheck } from "./schedules.ts";
import { notificationRules, type ChannelTester } from "./notifications.ts";
import { drillRules } from "./drills.ts";
import { TaskEventBus } from "./task-events.ts";
import type { Progress } from "../pipeline/progress.ts";
import { connectionRules } from "./connections.ts";
import type { Downloader } from "../supervisor/download.ts";
import { Conflict } from "./errors.ts";
import { auditRules } from "./audit.ts";

export interface CoreOptions {
  /**
   * Plugins check target and store endpoints before they are saved, and are
   * listed by /v1/plugins. Without them (API contract tests) endpoints are
   * taken as they are and no plugin is listed.
   */
  plugins?: PluginRegistry;
  /**
   * Opens the endpoint secrets the catalog keeps sealed, for the API's answers to
   * operators. Without it (a catalog that seals nothing) endpoints are answered as stored.
   */
  secrets?: EndpointSecrets;
  /** Whether the daemon listens on loopback only: the `none` auth provider is refused otherwise. */
  loopbackOnly?: boolean;
  /** How often sessions of users from an outside provider are re-checked with it (default 15 min). */
  recheckSeconds?: number;
  /** How failed sign-ins are slowed down (see throttle.ts); the defaults when left out. */
  throttle?: ThrottleOptions;
  /** Called after a task is filed: the supervisor picks it up at once. */
  onTaskFiled?: () => void;
  /** Called after a task was canceled: the supervisor stops it at once if it runs it. */
  onTaskCanceled?: (uuid: string) => void;
  /** Called after a job or schedule changed: the scheduler re-reads them at once. */
  onJobsChanged?: () => void;
  /** Called after an archive was deleted (expired now): the purger purges it at once. */
  onArchiveExpired?: () => void;
  /** A policy update purging more than this share of a job's archives at once needs `force` (0..1; default 0.5). */
  maxPurgeShare?: number;
  /** The agents targets name (src/agent), for /v1/agents; none listed when left out. */
  agents?: AgentSource;
  /** Sends a notification channel's test message (the daemon's notifier); without it a test says none are sent. */
  testChannel?: ChannelTester;
  /** Called after a drill was set or removed: its first due time is computed by the drill scheduler. */
  onDrillsChanged?: () => void;
  /** The task event bus the supervisor tells (task-events.ts), for the metrics to hear; a bus of its own when left out. */
  outcomes?: TaskEventBus;
  /** Streams an archive decrypted and decompressed, verified first (supervisor/download.ts); without it, downloads answer 409. */
  download?: Downloader;
  /** The daemon's master key: it wraps the data keys of encrypted gpbackup backups. Without it, only unencrypted ones are taken. */
  masterKey?: Uint8Array;
  /** The live progress of a task this daemon runs (the supervisor's board); none without it. */
  progressOf?: (task: string) => Progress | undefined;
  /** Resolves when a task this daemon runs ends, or after `ms` (the supervisor's board); a plain wait without it. */
  taskEnded?: (task: string, ms: number) => Promise<void>;
}

/** Tells `changed` after each successful write of a set of rules. */
function notifying<R extends { create(...a: any[]): Promise<unknown>; update(...a: any[]): Promise<unknown>; delete(...a: any[]): Promise<unknown> }>(rules: R, changed: () => void): R {
  const after = <F extends (...a: any[]) => Promise<unknown>>(f: F) => (async (...a: Parameters<F>) => {
    const r = await f.apply(rules, a);
    changed();
    return r;
  }) as F;
  return { ...rules, create: after(rules.create), update: after(rules.update), delete: after(rules.delete) };
}

export function createCore(catalog: Catalog, opts: CoreOptions = {}) {
  const fileTask = taskFiler(catalog, opts.onTaskFiled);
  const { plugins } = opts;
  const jobsChanged = opts.onJobsChanged ?? (() => {});
  const retention = retentionPolicyRules(catalog, opts.maxPurgeShare);
  const providers = providerRules(catalog, { secrets: opts.secrets, loopbackOnly: opts.loopbackOnly });
  return {
    catalog,
    plugins: pluginRules(plugins),
    secrets: opts.secrets,
    outcomes: opts.outcomes ?? new TaskEventBus(),
    // A store or target still holding archives must stay: its endpoint is how they are read back.
    targets: definitionRules("target", catalog.targets, (uuid) => catalog.archives.countHeld({ target: uuid }),
      plugins && endpointCheck(plugins, "target", opts.agents)),
    stores: definitionRules("store", catalog.stores, async (uuid) => (await catalog.archives.countHeld({ store: uuid })) + (await catalog.copies.countHeld(uuid)),
      plugins && endpointCheck(plugins, "store")),
    schedules: notifying(definitionRules("schedule", catalog.schedules, undefined, timespecCheck), jobsChanged),
    retention,
    jobs: jobRules(catalog, fileTask, jobsChanged, (job, to) => retention.checkJobMove(job, to)),
    archives: archiveRules(catalog, fileTask, opts.onArchiveExpired),
    agents: agentRules(opts.agents),
    gpbackup: gpbackupRules(catalog, opts.onArchiveExpired, opts.masterKey),
    tasks: taskRules(catalog, opts.onTaskCanceled),
    users: userRules(catalog, { throttle: opts.throttle, providers, recheckSeconds: opts.recheckSeconds, loopbackOnly: opts.loopbackOnly }),
    providers,
    notifications: notificationRules(catalog, opts.secrets, opts.testChannel),
    drills: drillRules(catalog, fileTask, opts.onDrillsChanged),
    progressOf: opts.progressOf ?? (() => undefined),
    taskEnded: opts.taskEnded ?? ((_task: string, ms: number) => Bun.sleep(ms)),
    connections: connectionRules(catalog, plugins, opts.secrets),
    audit: auditRules(catalog),
    download: opts.download ?? (async () => { throw new Conflict("this daemon does not serve downloads"); }),
  };
}

export type Core = ReturnType<typeof createCore>;
export { TaskEventBus, eventName, type TaskEvent, type TaskEventName, type TaskListener } from "./task-events.ts";
export * from "./errors.ts";
export type { Principal } from "./users.ts";
export { UNKNOWN_ADDRESS } from "./users.ts";
export { taskOwnership, requesterOf, SYSTEM_OWNER } from "./tasks.ts";

/** For the API's descriptions of the routes that file tasks. */
export const OWNER_NOTE = "Only an admin may name another owner (403); \"system\" is reserved for the scheduler's tasks (400).";
