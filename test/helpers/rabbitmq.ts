// A private RabbitMQ node for the tests: `rabbitmq-server` from this machine, with
// its own node name, ports (AMQP, distribution, management), data, log, config and
// enabled-plugins files under a temporary directory, and the management plugin on.
// The broker already running here (rabbit@localhost, port 5672) is never touched:
// nothing of its own is read or written but the Erlang cookie, which every node of
// the rabbitmq user shares (the CLI tools need it).
//
// One node is shared by the test files of a run (startRabbit); a test that needs an
// empty broker starts its own (startNode) and stops it. A node starts in about 5 s.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, requireOrSkip } from "./services.ts";

/** Debian's package puts the real script here; /usr/sbin/rabbitmq-server is a wrapper that su's and hides its output. */
const SERVER = ["/usr/lib/rabbitmq/bin/rabbitmq-server", "/usr/lib/rabbitmq/sbin/rabbitmq-server"].find((p) => existsSync(p));
const rabbitUser = spawnSync("id", ["-u", "rabbitmq"], { encoding: "utf8" });
const uid = rabbitUser.status === 0 ? Number(rabbitUser.stdout.trim()) : undefined;
const gid = uid === undefined ? undefined : Number(spawnSync("id", ["-g", "rabbitmq"], { encoding: "utf8" }).stdout.trim());
const me = process.getuid?.();
/** The server drops to the rabbitmq user; run it as that user (from root, through runuser). */
const canRun = SERVER !== undefined && uid !== undefined && (me === 0 || me === uid);

/** True when the RabbitMQ tests can run; false (after a loud warning) when they skip. */
export const rabbitAvailable = requireOrSkip("RabbitMQ", canRun, "rabbitmq-server (Debian: apt install rabbitmq-server) and root or the rabbitmq user");

export interface RabbitNode {
  nodename: string;
  amqpPort: number;
  /** The management API's root, http://127.0.0.1:PORT. */
  url: string;
  /** The same API over TLS with a self-signed certificate (https://127.0.0.1:PORT), for skip_ssl_validation. */
  httpsUrl: string;
  /** The node's administrator (default_user), with a password of its own. */
  username: string;
  password: string;
  /** The endpoint of the rabbitmq target for this node. */
  endpoint(extra?: Record<string, unknown>): Record<string, unknown>;
  /** A management API call as the administrator; resolves with the parsed body (or null), throws on >= 300. */
  api<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  /** SIGKILLs the node (a broker that goes away), waits for it to be gone, leaves its directory. */
  kill(): Promise<void>;
  /** Stops the node and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

const nodes = new Set<RabbitNode>();
let shared: Promise<RabbitNode> | undefined;

/** The node shared by every test file of the run. */
export function startRabbit(): Promise<RabbitNode> {
  return (shared ??= startNode());
}

/** Stops every node this process started (the preload calls it after the last file). */
export async function stopRabbit(): Promise<void> {
  shared = undefined;
  await Promise.all([...nodes].map((n) => n.stop()));
}

/** A new, empty node on its own ports and directory. */
export async function startNode(): Promise<RabbitNode> {
  const dir = mkdtempSync(join(tmpdir(), "shield-test-rmq-"));
  const [amqpPort, distPort, mgmtPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const nodename = `shieldtest-${amqpPort}@localhost`;
  const username = "shield-admin";
  const password = randomBytes(12).toString("hex");
  // A self-signed certificate for the management API's TLS listener.
  const cert = spawnSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
  ], { encoding: "utf8" });
  if (cert.status !== 0) throw new Error(`openssl req failed: ${cert.stderr}`);
  writeFileSync(join(dir, "rabbitmq.conf"), [
    `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
    `management.tcp.ip = 127.0.0.1`,
    `management.tcp.port = ${mgmtPort}`,
    `management.ssl.ip = 127.0.0.1`,
    `management.ssl.port = ${tlsPort}`,
    `management.ssl.cacertfile = ${join(dir, "cert.pem")}`,
    `management.ssl.certfile = ${join(dir, "cert.pem")}`,
    `management.ssl.keyfile = ${join(dir, "key.pem")}`,
    `default_user = ${username}`,
    `default_pass = ${password}`,
    `default_user_tags.administrator = true`,
    "",
  ].join("\n"));
  writeFileSync(join(dir, "enabled_plugins"), "[rabbitmq_management].\n");
  // Our own (empty) env file: the machine's rabbitmq-env.conf names the default node.
  writeFileSync(join(dir, "rabbitmq-env.conf"), "");
  if (me === 0) {
    for (const f of ["", "rabbitmq.conf", "enabled_plugins", "rabbitmq-env.conf", "cert.pem", "key.pem"]) chownSync(join(dir, f), uid!, gid!);
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    // The cookie the rabbitmq user's CLI tools use.
    HOME: "/var/lib/rabbitmq",
    LANG: "C.UTF-8",
    RABBITMQ_CONF_ENV_FILE: join(dir, "rabbitmq-env.conf"),
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, "mnesia"),
    RABBITMQ_LOG_BASE: join(dir, "log"),
    RABBITMQ_CONFIG_FILE: join(dir, "rabbitmq.conf"),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, "advanced.config"),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, "enabled_plugins"),
    RABBITMQ_PID_FILE: join(dir, "rabbitmq.pid"),
    ERL_EPMD_ADDRESS: "127.0.0.1",
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
  };
  const argv = me === 0 ? ["runuser", "-u", "rabbitmq", "--", SERVER!] : [SERVER!];
  const logFile = join(dir, "server.out");
  const out = Bun.file(logFile).writer();
  // Its own process group: stopping the node signals the server script and beam together.
  const proc: ChildProcess = spawn(argv[0]!, argv.slice(1), { cwd: dir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout!.on("data", (b) => { out.write(b); out.flush(); });
  proc.stderr!.on("data", (b) => { out.write(b); out.flush(); });
  let exited = false;
  proc.on("exit", () => { exited = true; });

  const url = `http://127.0.0.1:${mgmtPort}`;
  const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(url + path, {
      method, headers: { authorization, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const group = (sig: NodeJS.Signals) => { try { process.kill(-proc.pid!, sig); } catch { /* gone */ } };
  let stopping: Promise<void> | undefined;
  // For scripts not under `bun test` (whose preload stops the nodes): no node outlives its process.
  const onExit = () => { group("SIGKILL"); rmSync(dir, { recursive: true, force: true }); };
  process.on("exit", onExit);
  const node: RabbitNode = {
    nodename, amqpPort, url, httpsUrl: `https://127.0.0.1:${tlsPort}`, username, password,
    endpoint: (extra = {}) => ({ rmq_url: url, rmq_username: username, rmq_password: password, ...extra }),
    api,
    kill: async () => {
      group("SIGKILL");
      for (let i = 0; i < 50 && !exited; i++) await Bun.sleep(100);
    },
    stop: () => (stopping ??= (async () => {
      process.off("exit", onExit);
      group("SIGTERM");
      for (let i = 0; i < 100 && !exited; i++) await Bun.sleep(100);
      if (!exited) group("SIGKILL");
      for (let i = 0; i < 20 && !exited; i++) await Bun.sleep(100);
      // beam's helper (erl_child_setup) has its own session; it ends with beam, but give it a moment.
      await out.end();
      rmSync(dir, { recursive: true, force: true });
      nodes.delete(node);
    })()),
  };
  nodes.add(node);

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      await node.stop().catch(() => {});
      throw new Error(`RabbitMQ node ${nodename} exited while starting:\n${tail(logFile)}`);
    }
    try {
      const r = await fetch(`${url}/api/overview`, { headers: { authorization }, signal: AbortSignal.timeout(2000) });
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      const log = tail(logFile);
      await node.stop();
      throw new Error(`RabbitMQ node ${nodename} did not answer on ${url} within 60 s:\n${log}`);
    }
    await Bun.sleep(200);
  }
  return node;
}

function tail(file: string): string {
  try { return readFileSync(file, "utf8").split("\n").slice(-30).join("\n"); } catch { return "(no output)"; }
}
