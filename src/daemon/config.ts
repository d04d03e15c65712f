// The daemon's settings: flags first, then SHIELD_* environment variables, then defaults.
import { join, resolve } from "node:path";
import { parseArgs, UsageError } from "../args.ts";
import { isPostgresUrl } from "../catalog/index.ts";
import { parseTrustedProxies } from "./client-address.ts";

export interface DaemonConfig {
  host: string;
  port: number;
  dataDir: string;
  /** A postgres:// URL, or the path of the SQLite file. */
  database: string;
  adminPassword: string | undefined;
  /** External plugin directories, searched in order before the built-ins. */
  pluginDirs: string[];
  /**
   * The directories endpoints may read data from and write it to (the fs store's and
   * the files target's base_dir); empty: unconfined. Handed to plugins as SHIELD_ALLOW_PATH.
   */
  allowPaths: string[];
  workers: number;
  /** Base64 of 32 bytes; otherwise DIR/master.key is used (and created). */
  masterKey: string | undefined;
  /** Encrypt new archives (SHIELD_ENCRYPT=off turns it off; archives already made are unaffected). */
  encrypt: boolean;
  /** A task running longer is failed and its processes killed (seconds). */
  taskTimeout: number;
  /**
   * A running task whose daemon sent no heartbeat for this long is failed by
   * another daemon on the catalog (seconds; heartbeats go every 5 s).
   */
  heartbeatGrace: number;
  /** How long a task for a NAT agent (one that dials the core) waits for it to connect (seconds). */
  agentWait: number;
  /** Purged archive rows and finished tasks are removed after this long (seconds). */
  auditRetention: number;
  /** A retention policy update purging more than this share (0..1) of a job's archives at once needs `force`. */
  retentionMaxPurgeShare: number;
  /** SHIELD_MODE=DEV: every schedule runs every minute. */
  dev: boolean;
  /** SHIELD_AUTH_PROVIDERS_FILE: auth providers (JSON, or YAML by extension) added at start when none by their name exists. */
  authProvidersFile?: string;
  /** SHIELD_AUTH_RECHECK: how often sessions of users from outside providers are re-checked (seconds; default 15 min, at most that). */
  authRecheck?: number;
  /** The daemon's URL as people reach it, for links in notifications; undefined: derived from --listen. */
  publicUrl: string | undefined;
  /** The wait after a notification's first failed attempt (seconds), doubled after each. */
  notifyRetryBase: number;
  /** Seconds between the watch's checks for overdue jobs and unreachable agents (notify/watch.ts). */
  watchEvery: number;
  /** --metrics-public: GET /metrics answers without a token. */
  metricsPublic: boolean;
  /** --trusted-proxy: addresses of proxies whose X-Forwarded-For names the client (audit trail, sign-in throttle). */
  trustedProxies: Set<string>;
}

export const DEFAULT_LISTEN = "127.0.0.1:8888";
export const DEFAULT_DATA_DIR = "./shield-data";
export const DEFAULT_WORKERS = 4;
export const DEFAULT_TASK_TIMEOUT = "12h";
export const DEFAULT_AUDIT_RETENTION = "90d";
export const DEFAULT_HEARTBEAT_GRACE = "60s";
export const DEFAULT_AGENT_WAIT = "5m";
export const DEFAULT_RETENTION_MAX_PURGE_SHARE = "50%";

/** "50%", "0.5" → 0.5; undefined unless it is a share from 0 to 1 (0% to 100%). */
export function parseShare(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  if (!m) return undefined;
  const share = m[2] ? Number(m[1]) / 100 : Number(m[1]);
  return share >= 0 && share <= 1 ? share : undefined;
}

export const DEFAULT_NOTIFY_RETRY_BASE = "30s";
export const DEFAULT_WATCH_EVERY = "60s";

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "3600" (seconds), "90s", "90m", "12h", "90d" → seconds; undefined when it is none of these. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+)\s*([smhd]?)\s*$/i.exec(text);
  if (!m) return undefined;
  const seconds = Number(m[1]) * UNIT_SECONDS[(m[2] || "s").toLowerCase()]!;
  return seconds > 0 && Number.isSafeInteger(seconds) ? seconds : undefined;
}

function duration(flag: string, env: string, text: string, min: number): number {
  const seconds = parseDuration(text);
  if (seconds === undefined) throw new UsageError(`--${flag} (${env}) must be a duration like 3600, 90m, 12h or 90d (got "${text}")`);
  if (seconds < min) throw new UsageError(`--${flag} (${env}) must be at least ${min} seconds (got "${text}")`);
  return seconds;
}

/** The re-check interval: a duration no longer than 15 minutes (the longest a removed user keeps access). */
function recheck(text: string): number {
  const seconds = parseDuration(text);
  if (seconds === undefined || seconds > 900) throw new UsageError(`SHIELD_AUTH_RECHECK must be a duration of at most 15m, like 60s or 5m (got "${text}")`);
  return seconds;
}

export const DAEMON_HELP = `Usage: shield daemon [options]

Runs the Shield core: the /v1 API, the catalog, the scheduler, the retention
purger and the task supervisor.

Options:
  --listen HOST:PORT   where to serve the API and web UI (default ${DEFAULT_LISTEN}; env SHIELD_LISTEN)
  --data-dir DIR       keys and the embedded catalog live here (default ${DEFAULT_DATA_DIR};
                       env SHIELD_DATA_DIR); created with mode 0700
  --database URL       postgres://user@host:port/db for a shared PostgreSQL catalog, or
                       the path of a SQLite file (default DIR/shield.db; env SHIELD_DATABASE_URL)
  --plugin-dir DIR     a directory of external plugins (repeatable; env SHIELD_PLUGIN_PATH,
                       colon-separated); searched before the built-in plugins
  --allow-path DIR     confine the daemon: directories that endpoints name for data
                       (the fs store's and files target's base_dir) must lie inside
                       one (repeatable; env SHIELD_ALLOW_PATH, colon-separated, used
                       when no flag is given); default: unconfined
  --workers N          tasks run at once (default ${DEFAULT_WORKERS})
  --task-timeout D     a task running longer is failed and its processes killed
                       (default ${DEFAULT_TASK_TIMEOUT}; env SHIELD_TASK_TIMEOUT); D is seconds
                       or a number with s, m, h or d: 3600, 90m, 12h
  --heartbeat-grace D  a running task whose daemon sent no heartbeat for this long is
                       taken for dead and failed by any daemon on the catalog (default
                       ${DEFAULT_HEARTBEAT_GRACE}, at least 15s; env SHIELD_HEARTBEAT_GRACE)
  --agent-wait D       a task for an agent that dials the core (shield agent --name) and
                       is not connected waits this long for it, then fails (default
                       ${DEFAULT_AGENT_WAIT}; env SHIELD_AGENT_WAIT)
  --audit-retention D  audit trail entries, purged archive rows and finished task logs
                       are kept this long, then removed (default ${DEFAULT_AUDIT_RETENTION}; env SHIELD_AUDIT_RETENTION)
  --trusted-proxy IP   a reverse proxy in front of the daemon (repeatable, or comma-separated;
                       env SHIELD_TRUSTED_PROXY): requests from it are taken to come from
                       the address its X-Forwarded-For names (the audit trail's and sign-in
                       throttle's client address); default none: the header is ignored
  --retention-max-purge-share S
                       a retention policy update that would purge more than this share
                       of some job's archives at once is refused unless it says
                       "force": true (default ${DEFAULT_RETENTION_MAX_PURGE_SHARE}; env SHIELD_RETENTION_MAX_PURGE_SHARE)
  --public-url URL     the daemon's address as people reach it (behind a proxy, say), for
                       the task links in notifications (env SHIELD_PUBLIC_URL; default
                       http://HOST:PORT of --listen)
  --notify-retry-base D  the wait after a notification's first failed attempt, doubled
                       after each (default ${DEFAULT_NOTIFY_RETRY_BASE}, up to 1h; 10 attempts in all)
  --watch-every D      how often the daemon looks for overdue jobs (no successful backup
                       in 1.5 × the schedule's interval) and agents that do not answer,
                       to tell the channels whose rules name job.overdue or
                       agent.unreachable (env SHIELD_WATCH_EVERY; default ${DEFAULT_WATCH_EVERY})
  --metrics-public     serve GET /metrics (Prometheus) without a token (default: it
                       takes an API token, Authorization: Bearer TOKEN, of any role)
  -h, --help           this help

Environment:
  SHIELD_ADMIN_PASSWORD  password of the 'admin' user created at first start
                         (when unset, a random one is printed once)
  SHIELD_MASTER_KEY      base64 of 32 bytes: the key that wraps every archive's
                         key (default: DIR/master.key, created at first start)
  SHIELD_ENCRYPT         on (default) or off: off stores new archives unencrypted
                         (cipher "none"), e.g. to benchmark the bare data path;
                         existing archives still restore either way
  SHIELD_AUTH_PROVIDERS_FILE
                         a JSON or YAML file listing auth providers ({name, type,
                         config}) to add at start, each unless one by its name exists
  SHIELD_AUTH_RECHECK    how often sessions and tokens of LDAP users are re-checked
                         with the directory (default and longest 15m)
  SHIELD_LOG_LEVEL       debug, info (default), warn or error
  SHIELD_MODE            DEV runs every schedule every minute (for development)

Examples:
  shield daemon
  shield daemon --listen 0.0.0.0:8888 --database postgres://shield@db.internal/shield
`;

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen must be HOST:PORT, like ${DEFAULT_LISTEN} (got "${listen}")`);
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

export function daemonConfig(argv: string[], env: Record<string, string | undefined>): DaemonConfig | "help" {
  const { options, positionals } = parseArgs(argv, [
    { name: "listen" }, { name: "data-dir" }, { name: "database" }, { name: "plugin-dir", repeatable: true }, { name: "allow-path", repeatable: true },
    { name: "workers" }, { name: "task-timeout" }, { name: "heartbeat-grace" }, { name: "agent-wait" }, { name: "audit-retention" }, { name: "retention-max-purge-share" },
    { name: "public-url" }, { name: "notify-retry-base" }, { name: "watch-every" }, { name: "metrics-public", flag: true }, { name: "trusted-proxy", repeatable: true }, { name: "help", short: "h", flag: true },
  ]);
  if (options.help) return "help";
  if (positionals.length) throw new UsageError(`shield daemon takes no arguments (got "${positionals.join(" ")}")`);
  const { host, port } = parseListen((options.listen as string) ?? env.SHIELD_LISTEN ?? DEFAULT_LISTEN);
  const dataDir = resolve((options["data-dir"] as string) ?? env.SHIELD_DATA_DIR ?? DEFAULT_DATA_DIR);
  const db = (options.database as string) ?? env.SHIELD_DATABASE_URL ?? join(dataDir, "shield.db");
  const workers = Number(options.workers ?? DEFAULT_WORKERS);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new UsageError(`--workers must be a whole number from 1 to 64 (got "${options.workers}")`);
  const pluginDirs = [
    ...((options["plugin-dir"] as string[] | undefined) ?? []),
    ...(env.SHIELD_PLUGIN_PATH ?? "").split(":").filter(Boolean),
  ].map((d) => resolve(d));
  // Flags win over the environment, whole: a confinement is never widened by a stray variable.
  const allowFlags = (options["allow-path"] as string[] | undefined) ?? [];
  const allowPaths = (allowFlags.length ? allowFlags : (env.SHIELD_ALLOW_PATH ?? "").split(":").filter(Boolean)).map((d) => {
    // Absolute only: a confinement that moved with the working directory would confine nothing.
    if (!d.startsWith("/") || d.includes("\0")) throw new UsageError(`--allow-path (SHIELD_ALLOW_PATH) must be an absolute directory (got "${d}")`);
    if (d.includes(":")) throw new UsageError(`--allow-path cannot hold ":", which separates the paths of SHIELD_ALLOW_PATH (got "${d}")`);
    return resolve(d);
  });
  const encrypt = (env.SHIELD_ENCRYPT ?? "on").toLowerCase();
  if (!["on", "off"].includes(encrypt)) throw new UsageError(`SHIELD_ENCRYPT must be on or off (got "${env.SHIELD_ENCRYPT}")`);
  const taskTimeout = duration("task-timeout", "SHIELD_TASK_TIMEOUT",
    (options["task-timeout"] as string) ?? env.SHIELD_TASK_TIMEOUT ?? DEFAULT_TASK_TIMEOUT, 1);
  // Three missed heartbeats at the least: a shorter grace would fail live tasks on a slow catalog.
  const heartbeatGrace = duration("heartbeat-grace", "SHIELD_HEARTBEAT_GRACE",
    (options["heartbeat-grace"] as string) ?? env.SHIELD_HEARTBEAT_GRACE ?? DEFAULT_HEARTBEAT_GRACE, 15);
  const agentWait = duration("agent-wait", "SHIELD_AGENT_WAIT",
    (options["agent-wait"] as string) ?? env.SHIELD_AGENT_WAIT ?? DEFAULT_AGENT_WAIT, 1);
  const auditRetention = duration("audit-retention", "SHIELD_AUDIT_RETENTION",
    (options["audit-retention"] as string) ?? env.SHIELD_AUDIT_RETENTION ?? DEFAULT_AUDIT_RETENTION, 3600);
  const shareText = (options["retention-max-purge-share"] as string) ?? env.SHIELD_RETENTION_MAX_PURGE_SHARE ?? DEFAULT_RETENTION_MAX_PURGE_SHARE;
  const retentionMaxPurgeShare = parseShare(shareText);
  if (retentionMaxPurgeShare === undefined) {
    throw new UsageError(`--retention-max-purge-share (SHIELD_RETENTION_MAX_PURGE_SHARE) must be a share like 50% or 0.5, from 0% to 100% (got "${shareText}")`);
  }
  const publicUrl = (options["public-url"] as string | undefined) ?? (env.SHIELD_PUBLIC_URL || undefined);
  if (publicUrl !== undefined && !/^https?:\/\/[^\s/]+(\/\S*)?$/i.test(publicUrl)) {
    throw new UsageError(`--public-url (SHIELD_PUBLIC_URL) must be an http:// or https:// URL (got "${publicUrl}")`);
  }
  const notifyRetryBase = duration("notify-retry-base", "SHIELD_NOTIFY_RETRY_BASE",
    (options["notify-retry-base"] as string) ?? env.SHIELD_NOTIFY_RETRY_BASE ?? DEFAULT_NOTIFY_RETRY_BASE, 1);
  const watchEvery = duration("watch-every", "SHIELD_WATCH_EVERY", (options["watch-every"] as string) ?? env.SHIELD_WATCH_EVERY ?? DEFAULT_WATCH_EVERY, 1);
  let trustedProxies: Set<string>;
  try {
    const flags = (options["trusted-proxy"] as string[] | undefined) ?? [];
    trustedProxies = parseTrustedProxies(flags.length ? flags : [env.SHIELD_TRUSTED_PROXY ?? ""]);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const mode = env.SHIELD_MODE ?? "";
  if (mode && mode.toUpperCase() !== "DEV") throw new UsageError(`SHIELD_MODE must be DEV or unset (got "${mode}")`);
  return {
    host, port, dataDir, pluginDirs, allowPaths, workers, masterKey: env.SHIELD_MASTER_KEY || undefined, encrypt: encrypt === "on",
    taskTimeout, heartbeatGrace, agentWait, auditRetention, retentionMaxPurgeShare, dev: mode.toUpperCase() === "DEV", publicUrl, notifyRetryBase, watchEvery, metricsPublic: options["metrics-public"] === true, trustedProxies,
    database: isPostgresUrl(db) ? db : resolve(db.replace(/^sqlite:(\/\/)?/, "")),
    adminPassword: env.SHIELD_ADMIN_PASSWORD || undefined,
    authProvidersFile: env.SHIELD_AUTH_PROVIDERS_FILE || undefined,
    authRecheck: env.SHIELD_AUTH_RECHECK ? recheck(env.SHIELD_AUTH_RECHECK) : undefined,
  };
}
