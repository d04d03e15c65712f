// `shield daemon`: open the catalog, make sure there are keys and an admin, serve /v1.
import { chmodSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectCatalog, isPostgresUrl, redactUrl, type Catalog } from "../catalog/index.ts";
import { createCore, TaskEventBus } from "../core/index.ts";
import { createApi } from "../api/index.ts";
import { createWeb } from "../web/index.tsx";
import { describeError, log } from "../log.ts";
import { VERSION } from "../version.ts";
import { frontDoor, lastResort } from "./http.ts";
import { loadOrCreateHostKey } from "./keys.ts";
import { loadOrCreateMasterKey } from "./master-key.ts";
import { PluginRegistry, selfCommand } from "../plugin-host/index.ts";
import { EndpointSecrets } from "../pipeline/endpoint-secrets.ts";
import { endpointSealer } from "../core/plugins.ts";
import { Supervisor } from "../supervisor/index.ts";
import { archiveDownloads } from "../supervisor/download.ts";
import { Purger, Scheduler } from "../scheduler/index.ts";
import { DrillScheduler } from "../scheduler/drills.ts";
import { Notifier } from "../notify/index.ts";
import { Watch } from "../notify/watch.ts";
import { missingTools } from "../pipeline/tools.ts";
import { AgentDirectory } from "../agent/directory.ts";
import { CONNECT_PATH, NatHub, natUpgrade } from "../agent/nat.ts";
// The daemon learns only the names of the built-ins; it runs them as `shield plugin NAME`.
import { builtinNames } from "../../plugins/index.ts";
import type { DaemonConfig } from "./config.ts";

export interface RunningDaemon {
  url: string;
  stop(): Promise<void>;
}

export async function startDaemon(config: DaemonConfig): Promise<RunningDaemon> {
  // 0700: the data dir holds the private key and, by default, the catalog.
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(config.dataDir, 0o700);
  const hostKey = loadOrCreateHostKey(config.dataDir);

  const masterKey = loadOrCreateMasterKey(config.dataDir, config.masterKey);
  const plugins = new PluginRegistry({ dirs: config.pluginDirs, self: selfCommand(), builtins: builtinNames(), allowPaths: config.allowPaths });
  // The catalog seals every endpoint secret it is given with the master key.
  const secrets = new EndpointSecrets(masterKey);
  let catalog: Catalog;
  try {
    catalog = await connectCatalog(config.database, { sealer: endpointSealer(secrets, plugins) });
  } catch (err) {
    const where = isPostgresUrl(config.database) ? redactUrl(config.database) : config.database;
    throw new Error(`cannot open the catalog ${where}: ${(err as Error).message ?? err}`);
  }
  try {
    // Endpoints an older Shield stored in clear are sealed now, once; a master key
    // that cannot open what is sealed stops the daemon here rather than fail every task.
    const sealed = await catalog.endpoints.sealStored();
    if (sealed) log.info("sealed the secrets of endpoints stored in clear", { endpoints: sealed });
  } catch (err) {
    await catalog.close();
    throw err;
  }
  // Agents that dial the core (NAT); the relays reach them through this unix socket
  // (in a fresh 0700 directory when the data dir's path is too long for one).
  const nat = new NatHub(join(config.dataDir, "nat-agents.json"), config.agentWait * 1000);
  let natSocket = join(config.dataDir, "agents.sock");
  if (natSocket.length > 100) natSocket = join(mkdtempSync(join(tmpdir(), "shield-agents-")), "agents.sock");
  await nat.start(natSocket);
  const agents = new AgentDirectory(catalog, config.dataDir, 10_000, nat, natSocket);
  // The supervisor tells each task's outcome (and a backup's start) here; the
  // notifier and the metrics (through the core) subscribe (issue 16).
  const outcomes = new TaskEventBus();
  const supervisor = new Supervisor({
    agents, catalog, plugins, masterKey, workers: config.workers, encrypt: config.encrypt, taskTimeoutMs: config.taskTimeout * 1000,
    staleAfterMs: config.heartbeatGrace * 1000, outcomes,
  });
  for (const tool of missingTools()) {
    log.warn(`${tool.name} is not installed (not found in PATH): ${tool.neededFor} will fail until it is`, { binary: tool.name });
  }
  if (!config.encrypt) log.warn("SHIELD_ENCRYPT=off: new archives are stored unencrypted");
  const scheduler = new Scheduler({ catalog, dev: config.dev, onFiled: () => supervisor.nudge() });
  const purger = new Purger({ catalog, auditRetentionS: config.auditRetention, onFiled: () => supervisor.nudge() });
  const loopbackOnly = isLoopback(config.host);
  const drills = new DrillScheduler({ catalog, onFiled: () => supervisor.nudge() });
  // The public URL is known once the server listens (port 0 picks one): the notifier reads it then.
  let publicUrl = config.publicUrl ?? "";
  const notifier = new Notifier({ catalog, secrets, publicUrl: () => publicUrl, retry: { baseS: config.notifyRetryBase } });
  const core = createCore(catalog, {
    loopbackOnly, recheckSeconds: config.authRecheck,
    plugins, secrets, onTaskFiled: () => supervisor.nudge(), onTaskCanceled: (uuid) => supervisor.canceled(uuid),
    onJobsChanged: () => scheduler.nudge(), onArchiveExpired: () => purger.nudge(), maxPurgeShare: config.retentionMaxPurgeShare, agents,
    testChannel: (uuid, settings, kind) => notifier.test(uuid, settings, kind), onDrillsChanged: () => drills.nudge(), outcomes,
    progressOf: (uuid) => supervisor.progress.get(uuid), taskEnded: (uuid, ms) => supervisor.progress.ended(uuid, ms), masterKey,
    download: archiveDownloads({ catalog, plugins, masterKey }),
  });
  // Overdue jobs and agents that do not answer (issue 16): told through the notifier;
  // its probe of the agents is what /metrics shows as shield_agent_up.
  const watch = new Watch({
    catalog, tell: (a) => notifier.tell(a), page: (path) => notifier.page(path), agents: () => core.agents.list(), everyMs: config.watchEvery * 1000,
  });
  try {
    await authProvidersAtStart(core, config, loopbackOnly);
  } catch (err) {
    await catalog.close();
    throw err;
  }
  // Listen first: a second daemon on a port already taken stops here, before it
  // touches the tasks of the first. Until all below is done the daemon is not
  // ready: /v1/health says so with a 503 and every other request is turned away
  // (503), so that no one signs in before the admin exists or reads tasks that
  // recovery is about to fail.
  let ready = false;
  const app = createApi(core, { pubkey: hostKey.sshPublicKey, ready: () => ready, metrics: { public: config.metricsPublic, agents: async () => watch.agentsUp() } });
  // The web UI at /, beside /v1; it is a client of the API app, in-process.
  const web = createWeb({ api: app, publicUrl: config.publicUrl });
  const front = frontDoor({ api: app, web, ready: () => ready, trustedProxies: config.trustedProxies });
  const server = Bun.serve<import("../agent/nat.ts").NatSocketData, never>({
    hostname: config.host, port: config.port, development: false,
    fetch: (req, srv) => {
      // Agents behind NAT dial in here (src/agent/nat.ts): a WebSocket, not an API call.
      if (ready && req.url.includes(CONNECT_PATH) && URL.canParse(req.url) && new URL(req.url).pathname === CONNECT_PATH) {
        return natUpgrade(nat, req, srv, (h) => core.users.authenticate(h, srv.requestIP(req)?.address)) as Promise<Response>;
      }
      return front(req, srv as any);
    },
    websocket: nat.handlers(), error: lastResort,
  });
  const url = `http://${server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname}:${server.port}`;
  publicUrl ||= url;

  const admin = await core.users.bootstrapAdmin(config.adminPassword);
  if (admin.created && !admin.generated) log.info("created user 'admin' with the password from SHIELD_ADMIN_PASSWORD");
  // Recovery first: tasks a dead daemon left running are failed before the
  // scheduler asks whether a job's previous run is still going.
  await supervisor.start();
  await scheduler.start();
  purger.start();
  notifier.start(outcomes);
  drills.start();
  watch.start();
  ready = true;
  log.info("shield daemon listening", { version: VERSION, url, catalog: catalog.description, dataDir: config.dataDir });
  // The first start, in plain words for the person at the terminal (the JSON lines
  // above are for machines): where to go, and the password, printed this once and
  // never in the log. Only once ready, so the page it names answers.
  if (admin.created) process.stderr.write(firstStartWords(browserUrl(url, config.publicUrl), admin.generated));

  let stopping: Promise<void> | undefined;
  return {
    url,
    stop: () => (stopping ??= (async () => {
      await nat.stop();
      await server.stop();
      await scheduler.stop();
      await purger.stop();
      await drills.stop();
      await watch.stop();
      await supervisor.stop();
      // After the supervisor: the outcomes of the tasks it stopped are filed before the notifier goes.
      await notifier.stop();
      await catalog.close();
      log.info("shield daemon stopped");
    })()),
  };
}

/** The words of the first start (see startDaemon). */
export function firstStartWords(url: string, generated: string | undefined): string {
  const signIn = generated
    ? `Sign in as admin. Created user 'admin' with password: ${generated}\nKeep it now: it is not shown again (set SHIELD_ADMIN_PASSWORD to choose it yourself).`
    : "Sign in as admin with the password you set in SHIELD_ADMIN_PASSWORD.";
  return `\nShield is ready. Open ${url} in your browser.\n${signIn}\nThe page will walk you through a first backup.\n\n`;
}

/**
 * The address a person opens: the public URL when one is set; otherwise the one
 * listened on, with a wildcard (0.0.0.0, ::), which no browser can open, as localhost.
 */
export function browserUrl(listening: string, publicUrl?: string): string {
  const base = publicUrl || listening.replace(/^http:\/\/(0\.0\.0\.0|\[::\])(?=:)/, "http://localhost");
  return base.endsWith("/") ? base : `${base}/`;
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * The providers of SHIELD_AUTH_PROVIDERS_FILE are added (each unless one by its
 * name exists, so an admin's later changes stand), then the `none` provider is
 * checked: it makes everyone admin, so the daemon refuses to start with it unless
 * it listens on loopback only, and says so at every start when it does.
 */
async function authProvidersAtStart(core: ReturnType<typeof createCore>, config: DaemonConfig, loopbackOnly: boolean): Promise<void> {
  // A master key that cannot open a provider's settings stops the daemon here, not every sign-in later.
  await core.providers.checkReadable();
  if (config.authProvidersFile) {
    const file = Bun.file(config.authProvidersFile);
    if (!(await file.exists())) throw new Error(`SHIELD_AUTH_PROVIDERS_FILE: no such file ${config.authProvidersFile}`);
    const text = await file.text();
    let list: unknown;
    try {
      list = /\.ya?ml$/i.test(config.authProvidersFile) ? Bun.YAML.parse(text) : JSON.parse(text);
    } catch (err) {
      throw new Error(`SHIELD_AUTH_PROVIDERS_FILE ${config.authProvidersFile}: not valid ${/\.ya?ml$/i.test(config.authProvidersFile) ? "YAML" : "JSON"}: ${(err as Error).message}`);
    }
    // A file of {providers: [...]} or a bare list.
    if (list && typeof list === "object" && !Array.isArray(list) && "providers" in list) list = (list as { providers: unknown }).providers;
    const added = await core.providers.seed(list);
    if (added.length) log.info("added auth providers from SHIELD_AUTH_PROVIDERS_FILE", { providers: added.join(", ") });
  }
  if (await core.providers.noneEnabled()) {
    if (!loopbackOnly) {
      throw new Error(`the none auth provider is configured (everyone is admin) but the daemon would listen on ${config.host}: listen on 127.0.0.1 or ::1, or remove the provider (shield delete provider NAME)`);
    }
    log.warn("the none auth provider is on: every request without credentials is the admin 'lab'; for a lab on this machine only", { host: config.host });
  }
}

/** Runs until SIGINT or SIGTERM, then finishes in-flight requests and closes the catalog. */
export async function runDaemon(config: DaemonConfig): Promise<void> {
  // A crash is one JSON line like the rest of the log (Bun would print the error
  // with its source and stack over many lines), and still a crash: exit 1, as Bun
  // does, for a daemon whose state is no longer known.
  for (const event of ["uncaughtException", "unhandledRejection"] as const) {
    process.on(event, (err: unknown) => {
      log.error("shield daemon crashed", { event, ...describeError(err) });
      process.exit(1);
    });
  }
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon(config);
  } catch (err) {
    // The reason alone: a stack trace helps no operator fix a wrong URL or a full disk.
    log.error("shield daemon could not start", { error: describeError(err).error });
    process.exit(1);
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      log.info("shutting down", { signal });
      daemon.stop().then(() => process.exit(0), (err) => {
        log.error("unclean shutdown", describeError(err));
        process.exit(1);
      });
    });
  }
}
