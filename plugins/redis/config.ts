// The redis target's endpoint: how to reach the server, and, when the plugin
// runs on the data host (an agent), the data directory it may read.
import { confine, endpointPath } from "../confine.ts";
import { EndpointInvalid, EndpointMissing, port, str, type ActionContext } from "../protocol.ts";
import { RedisConnection } from "./resp.ts";

export interface Config {
  host: string;
  port: number;
  user?: string;
  password?: string;
  tls: boolean;
  insecure: boolean;
  /** Set: "local" mode, on the data host; absent: "network" mode. */
  dataDir?: string;
  stopCmd?: string;
  startCmd?: string;
  /** Seconds each of the stop and start commands, and the server's coming and going, may take. */
  timeout: number;
}

/** A JSON boolean, or the strings the forms send. */
export function bool(endpoint: Record<string, unknown>, field: string): boolean {
  const v = endpoint[field];
  if (v === undefined || v === null || v === "") return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|yes|1|false|no|0)$/i.test(v)) return /^(true|yes|1)$/i.test(v);
  throw new EndpointInvalid(field, "must be true or false");
}

/**
 * Every action reads its endpoint here. The stop and start commands are a shell
 * command of the operator's choosing: a daemon the admin confined
 * (--allow-path) runs none (README, "Confinement"), so they are refused there.
 */
export function config(ctx: ActionContext): Config {
  const e = ctx.endpoint;
  const c: Config = {
    host: str(e, "redis_host", { default: "127.0.0.1" })!,
    port: port(e, "redis_port", 6379)!,
    user: str(e, "redis_user"),
    password: typeof e.redis_password === "string" && e.redis_password !== "" ? e.redis_password : undefined,
    tls: bool(e, "redis_tls"),
    insecure: bool(e, "skip_ssl_validation"),
    dataDir: endpointPath(e, "redis_data_dir"),
    stopCmd: str(e, "redis_stop_cmd"),
    startCmd: str(e, "redis_start_cmd"),
    timeout: 120,
  };
  if (e.redis_password !== undefined && e.redis_password !== null && typeof e.redis_password !== "string") throw new EndpointInvalid("redis_password", "must be a string");
  if (c.user !== undefined && c.password === undefined) throw new EndpointMissing("redis_password");
  if (c.host.startsWith("/")) {
    // A unix socket: a path, held to the same rules as every other one.
    endpointPath(e, "redis_host");
    if (c.tls) throw new EndpointInvalid("redis_tls", "does not apply to a unix socket (redis_host is a path)");
  } else if (/[\s\0/]/.test(c.host)) {
    throw new EndpointInvalid("redis_host", `must be a host name, an IP address or a unix socket's absolute path, not "${c.host}"`);
  }
  const t = str(e, "redis_timeout");
  if (t !== undefined) {
    const n = /^\d{1,5}$/.test(t.trim()) ? Number(t.trim()) : NaN;
    if (!(n >= 1 && n <= 86400)) throw new EndpointInvalid("redis_timeout", "must be a number of seconds (1-86400)");
    c.timeout = n;
  }
  for (const f of ["redis_stop_cmd", "redis_start_cmd"] as const) {
    const v = f === "redis_stop_cmd" ? c.stopCmd : c.startCmd;
    if (v === undefined) continue;
    if (v.includes("\0")) throw new EndpointInvalid(f, "must not contain a NUL byte");
    if (c.dataDir === undefined) throw new EndpointInvalid(f, "is only used with redis_data_dir (a restore on the data host); set that too, or leave this empty");
    if (ctx.allowPaths.length) throw new EndpointInvalid(f, "runs a shell command of the endpoint's choosing, which a confined Shield (--allow-path) does not do; restore over the network instead (leave redis_data_dir empty), or run the daemon or agent unconfined");
  }
  if (c.dataDir !== undefined) {
    confine("redis_data_dir", c.dataDir, ctx.allowPaths);
    // A restore on the data host stops and starts the server: it cannot go without either.
    if (ctx.action === "restore") {
      if (c.stopCmd === undefined) throw new EndpointMissing("redis_stop_cmd");
      if (c.startCmd === undefined) throw new EndpointMissing("redis_start_cmd");
    }
  }
  return c;
}

export function where(c: Config): string {
  if (c.host.startsWith("/")) return c.host;
  return `${c.host.includes(":") ? `[${c.host}]` : c.host}:${c.port}`;
}

/** `timeoutMs` bounds the connect and each wait for a reply (default: redis_timeout). */
export function connect(c: Config, timeoutMs = c.timeout * 1000): Promise<RedisConnection> {
  const socket = c.host.startsWith("/") ? { path: c.host } : {};
  return RedisConnection.open({ host: c.host, port: c.port, tls: c.tls, insecure: c.insecure, user: c.user, password: c.password, timeoutMs, ...socket });
}

/** An RDB file (and the replication stream of one) begins with these bytes. */
export const RDB_MAGIC = Buffer.from("REDIS");
