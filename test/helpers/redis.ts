// Private Redis servers for the tests: `redis-server` from this machine, each on
// its own port and data directory under a temporary directory, with a config file
// (so it runs as a production server does), a password, and RDB only or
// `appendonly yes`. The server already running here (port 6379) is never touched.
//
// A server daemonizes, as under systemd or monit: its stop and start commands
// (stopCmd, startCmd, for the plugin's redis_stop_cmd / redis_start_cmd) use its
// pidfile and config file, and the harness stops whatever is left after the run.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisConnection } from "../../plugins/redis/resp.ts";
import { freePort, requireOrSkip } from "./services.ts";

const SERVER = Bun.which("redis-server");

export const redisAvailable = requireOrSkip("Redis", SERVER !== undefined, "redis-server (Debian: apt install redis-server)");

export interface RedisServer {
  port: number;
  /** Its unix socket. */
  socket: string;
  password: string;
  /** Its data directory (CONFIG dir). */
  dir: string;
  appendonly: boolean;
  /** Shell commands that stop the server (returning once it is gone) and start it again. */
  stopCmd: string;
  startCmd: string;
  /** The redis target's endpoint: network mode, or local mode with `{ redis_data_dir: dir, ... }` added. */
  endpoint(extra?: Record<string, unknown>): Record<string, unknown>;
  local(extra?: Record<string, unknown>): Record<string, unknown>;
  connect(): Promise<RedisConnection>;
  /** The server's pid, from its pidfile (undefined when it is not running). */
  pid(): number | undefined;
  /** SIGKILLs it (a server that goes away). */
  kill(): void;
  /** Starts it again (after kill or stopCmd). */
  start(): Promise<void>;
  /** Stops it and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

const servers = new Set<RedisServer>();

/** Stops every server this process started (the preload calls it after the last file). */
export async function stopRedis(): Promise<void> {
  await Promise.all([...servers].map((s) => s.stop()));
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/**
 * `tls`: the server listens with TLS only, with a self-signed certificate (clients need skip_ssl_validation).
 * `netns`: the server runs inside that network namespace (another host, with an agent beside it):
 * it listens on the namespace's loopback (the endpoint's 127.0.0.1, for the agent) and on its
 * address on the link, through which the harness seeds and reads it. Its start command is what
 * the data host runs (inside the namespace); the harness wraps it in `exec`.
 */
export async function startRedis(opts: { appendonly?: boolean; tls?: boolean; netns?: { exec: string[]; nsAddress: string } } = {}): Promise<RedisServer> {
  const root = mkdtempSync(join(tmpdir(), "shield-test-redis-"));
  const dir = join(root, "data");
  mkdirSync(dir);
  const port = await freePort();
  const password = randomBytes(12).toString("hex");
  const conf = join(root, "redis.conf");
  const pidfile = join(root, "redis.pid");
  const appendonly = opts.appendonly ?? false;
  const tls = opts.tls ?? false;
  if (tls) {
    const cert = spawnSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", join(root, "key.pem"), "-out", join(root, "cert.pem"),
    ], { encoding: "utf8" });
    if (cert.status !== 0) throw new Error(`openssl req failed: ${cert.stderr}`);
  }
  writeFileSync(conf, [
    `bind 127.0.0.1${opts.netns ? ` ${opts.netns.nsAddress}` : ""}`,
    ...(tls
      ? [`port 0`, `tls-port ${port}`, `tls-cert-file ${join(root, "cert.pem")}`, `tls-key-file ${join(root, "key.pem")}`, `tls-ca-cert-file ${join(root, "cert.pem")}`, `tls-auth-clients no`, `tls-replication yes`]
      : [`port ${port}`]),
    `dir ${dir}`,
    `unixsocket ${join(root, "redis.sock")}`,
    `unixsocketperm 700`,
    `dbfilename dump.rdb`,
    `pidfile ${pidfile}`,
    `logfile ${join(root, "redis.log")}`,
    `daemonize yes`,
    `requirepass ${password}`,
    `appendonly ${appendonly ? "yes" : "no"}`,
    `save 3600 1`,
    `databases 16`,
    `enable-debug-command local`,
    "",
  ].join("\n"), { mode: 0o600 });
  const startCmd = `${SERVER} ${conf}`;
  const stopCmd = `pid=$(cat ${pidfile}) && kill $pid && while kill -0 $pid 2>/dev/null; do sleep 0.05; done`;
  const pid = () => {
    try {
      const n = Number(readFileSync(pidfile, "utf8").trim());
      return n > 0 && alive(n) ? n : undefined;
    } catch { return undefined; }
  };
  const connect = () => RedisConnection.open({ host: opts.netns?.nsAddress ?? "127.0.0.1", port, password, tls, insecure: tls, timeoutMs: 10_000 });
  const start = async () => {
    const sh = [...(opts.netns?.exec ?? []), "/bin/sh", "-c", startCmd];
    const r = spawnSync(sh[0]!, sh.slice(1), { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`redis-server did not start: ${r.stderr}`);
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const c = await connect();
        const p = await c.info("persistence");
        c.close();
        if (p.get("loading") === "0") return;
      } catch { /* not up yet */ }
      if (Date.now() > deadline) {
        const log = existsSync(join(root, "redis.log")) ? readFileSync(join(root, "redis.log"), "utf8").split("\n").slice(-20).join("\n") : "";
        throw new Error(`redis-server on port ${port} did not answer within 20 s:\n${log}`);
      }
      await Bun.sleep(50);
    }
  };
  let stopping: Promise<void> | undefined;
  const killNow = () => { const p = pid(); if (p) try { process.kill(p, "SIGKILL"); } catch { /* gone */ } };
  const onExit = () => { killNow(); rmSync(root, { recursive: true, force: true }); };
  process.on("exit", onExit);
  const base = { redis_host: "127.0.0.1", redis_port: String(port), redis_password: password, ...(tls ? { redis_tls: true, skip_ssl_validation: true } : {}) };
  const server: RedisServer = {
    port, socket: join(root, "redis.sock"), password, dir, appendonly, stopCmd, startCmd,
    endpoint: (extra = {}) => ({ ...base, ...extra }),
    local: (extra = {}) => ({ ...base, redis_data_dir: dir, redis_stop_cmd: stopCmd, redis_start_cmd: startCmd, ...extra }),
    connect,
    pid,
    kill: () => {
      const p = pid();
      if (!p) return;
      process.kill(p, "SIGKILL");
      while (alive(p)) Bun.sleepSync(10);
    },
    start,
    stop: () => (stopping ??= (async () => {
      process.off("exit", onExit);
      const p = pid();
      if (p) {
        process.kill(p, "SIGTERM");
        for (let i = 0; i < 100 && alive(p); i++) await Bun.sleep(50);
        if (alive(p)) process.kill(p, "SIGKILL");
      }
      rmSync(root, { recursive: true, force: true });
      servers.delete(server);
    })()),
  };
  servers.add(server);
  try {
    await start();
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}
