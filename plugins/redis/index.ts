// The redis target. Two modes, by where it runs:
// - network (no redis_data_dir): backup through the replication protocol (an
//   RDB streamed by the server), restore by replaying every key into the running
//   server (network.ts); nothing but the Redis port is needed;
// - local (redis_data_dir set: on the data host, through an agent): backup of the
//   server's RDB file after a fresh BGSAVE, restore by replacing its files with
//   the server stopped and started by the endpoint's commands (local.ts).
// Either way the archive is an RDB file, so an archive of one mode restores in
// the other.
//
// The password travels only inside the connection (AUTH): never in a process's
// arguments or environment. The original Shield's `redis-broker` plugin (tar of
// /var/vcap/store for one Pivotal release, its only field `redis_type`) has no
// field this one could share.
import { realpath, access } from "node:fs/promises";
import { constants } from "node:fs";
import { secretLine, type ActionContext, type Plugin } from "../protocol.ts";
import { VERSION } from "../../src/version.ts";
import { config, connect, where } from "./config.ts";
import { backupLocal, layout, restoreLocal } from "./local.ts";
import { backupNetwork, restoreNetwork } from "./network.ts";

async function test(ctx: ActionContext): Promise<string[]> {
  const c = config(ctx);
  const conn = await connect(c);
  try {
    const pong = await conn.must("PING");
    const server = await conn.info("server");
    const lines = [`ok: connected to ${conn.where}${c.user ? ` as ${c.user}` : ""} (${String(pong)}), Redis ${server.get("redis_version") ?? "?"} (${server.get("redis_mode") ?? "?"})`];
    if (c.dataDir) {
      const l = await layout(conn, c);
      await access(l.dir, constants.R_OK | constants.X_OK);
      const rdb = await realpath(l.rdb).catch(() => undefined);
      lines.push(`ok: the server's data directory ${l.dir} is inside redis_data_dir and readable`);
      lines.push(rdb ? `ok: its RDB file ${l.rdb} is there` : `note: no RDB file at ${l.rdb} yet (a backup makes one)`);
      lines.push(`appendonly: ${l.appendonly ? "yes (a restore rebuilds the AOF from the archive)" : "no"}`);
      lines.push(c.stopCmd && c.startCmd ? "restore: stops and starts the server with redis_stop_cmd and redis_start_cmd" : "restore: refused until redis_stop_cmd and redis_start_cmd are set");
    }
    return lines;
  } finally {
    conn.close();
  }
}

export const redis: Plugin = {
  info: {
    name: "redis",
    author: "Shield",
    version: VERSION,
    features: { target: "yes", store: "no" },
    endpoint_from: "env",
    fields: [
      { name: "redis_host", type: "string", title: "Host", required: false, default: "127.0.0.1", help: "Host name or IP address of the Redis server, or the absolute path of its unix socket (then redis_port is not used).", example: "redis.example.com" },
      { name: "redis_port", type: "port", title: "Port", required: false, default: "6379", help: "TCP port of the server.", example: "6379" },
      { name: "redis_user", type: "string", title: "ACL user", required: false, help: "ACL user to sign in as (Redis 6+), with redis_password; empty: the default user. A backup over the network needs SYNC and REPLCONF, a restore FLUSHALL, SELECT and RESTORE; on the data host, CONFIG, BGSAVE, LASTSAVE and INFO.", example: "shield" },
      { name: "redis_password", type: "password", title: "Password", required: false, help: "The password (requirepass, or redis_user's); sent inside the connection only.", example: "" },
      { name: "redis_tls", type: "bool", title: "TLS", required: false, default: "false", help: "Connect with TLS (the server's tls-port).", example: "false" },
      { name: "skip_ssl_validation", type: "bool", title: "Skip TLS validation", required: false, default: "false", help: "With redis_tls, accept any certificate (a self-signed one, say).", example: "false" },
      { name: "redis_data_dir", type: "abspath", title: "Data directory", required: false, help: "Set when Shield runs on the Redis host (an agent): the directory holding the server's files (its `dir`), which the plugin may read and, on restore, replace. Backups are then the server's RDB file after a BGSAVE; empty: backups and restores go over the network.", example: "/var/lib/redis" },
      { name: "redis_stop_cmd", type: "string", title: "Stop command", required: false, help: "With redis_data_dir, for restores: a shell command that stops the server and returns once it is stopped (systemctl stop redis-server, monit stop redis, ...). Run by sh as Shield's user; refused by a confined Shield.", example: "systemctl stop redis-server" },
      { name: "redis_start_cmd", type: "string", title: "Start command", required: false, help: "With redis_data_dir, for restores: a shell command that starts the server again.", example: "systemctl start redis-server" },
      { name: "redis_timeout", type: "string", title: "Timeout (s)", required: false, default: "120", help: "Seconds the server may stay silent (a reply, a sync being prepared), a BGSAVE may take to start, and each of redis_stop_cmd, redis_start_cmd and the server's stopping and coming back may take; a save or a load in progress may take as long as it needs.", example: "120" },
    ],
  },
  validate(ctx) {
    const c = config(ctx);
    return [
      `redis: ${where(c)}${c.tls ? ` over TLS${c.insecure ? " (the certificate will NOT be validated)" : ""}` : ""}`,
      `redis_user: ${c.user ?? "(the default user)"}`,
      secretLine("redis_password", c.password),
      c.dataDir
        ? `mode: local, on the data host: RDB files in ${c.dataDir}; restores run redis_stop_cmd (${c.stopCmd ? "set" : "not set"}) and redis_start_cmd (${c.startCmd ? "set" : "not set"})`
        : "mode: network: backup by replication (SYNC), restore by replaying every key (RESTORE ... REPLACE)",
    ];
  },
  backup: (ctx) => { const c = config(ctx); return c.dataDir ? backupLocal(c, ctx) : backupNetwork(c, ctx); },
  restore: (ctx) => { const c = config(ctx); return c.dataDir ? restoreLocal(c, ctx) : restoreNetwork(c, ctx); },
  test,
};
