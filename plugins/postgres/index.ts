// The postgres target: pg_dump / pg_restore for one database, pg_dumpall / psql
// for the whole cluster (pg_database empty). The endpoint keys are those of the
// original Shield plugin.
//
// The password reaches the tools only as PGPASSWORD in their environment: no
// argument of any process ever holds it, and nothing here prints it.
import { closeSync, existsSync, readdirSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  EndpointInvalid, PluginError, exec, port, secretLine, str, type ActionContext, type Plugin, type VerifyResult,
} from "../protocol.ts";
import { checkToolDir, endpointPath } from "../confine.ts";
import { PG_DUMP, PG_DUMPALL, checkOptions } from "./options.ts";
import { VERSION } from "../../src/version.ts";
import { CUSTOM_MAGIC, RoleFilter, kindOf, sniff, withoutOwnRole } from "./stream.ts";
import { peekBefore, peekPipe, takeFromPipe } from "../peek.ts";
import { libc } from "../../src/libc.ts";

interface Config {
  host?: string;
  port?: number;
  user: string;
  password?: string;
  /** Absent: every database of the cluster. */
  database?: string;
  bindir?: string;
  /** Extra arguments for pg_dump / pg_dumpall. */
  options: string[];
}

/**
 * Every action reads its endpoint here. What an operator may make the tools do is
 * checked with it (README, "Confinement"): pg_bindir must be a trusted directory
 * holding pg_dump, and pg_options only options that choose what is dumped.
 */
function config(ctx: ActionContext): Config {
  const endpoint = ctx.endpoint;
  const c: Config = {
    host: str(endpoint, "pg_host"),
    port: port(endpoint, "pg_port"),
    user: str(endpoint, "pg_user", { required: true }),
    password: str(endpoint, "pg_password"),
    database: str(endpoint, "pg_database"),
    bindir: endpointPath(endpoint, "pg_bindir"),
    options: [],
  };
  // Only a directory the endpoint names is checked: found on PATH, the tools are the admin's choice.
  if (c.bindir !== undefined) {
    // The dumping tool of this endpoint must be there; the others are checked when present.
    const dumper = c.database ? "pg_dump" : "pg_dumpall";
    const others = ["pg_dump", "pg_dumpall", "pg_restore", "psql"].filter((t) => t !== dumper);
    checkToolDir("pg_bindir", c.bindir, { required: [dumper], optional: others }, ctx.allowPaths);
  }
  const options = str(endpoint, "pg_options");
  if (options !== undefined) c.options = splitWords(options, "pg_options");
  checkOptions(c.database ? PG_DUMP : PG_DUMPALL, c.options);
  return c;
}

/** Shell-like words: whitespace separates; '...' and "..." group; a backslash escapes. */
export function splitWords(s: string, field: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === "\\" && quote === '"' && i + 1 < s.length) word = (word ?? "") + s[++i]!;
      else word = (word ?? "") + ch;
    } else if (/\s/.test(ch)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      word ??= "";
    } else {
      word = (word ?? "") + (ch === "\\" && i + 1 < s.length ? s[++i] : ch);
    }
  }
  if (quote) throw new EndpointInvalid(field, "has an unterminated quote");
  if (word !== undefined) words.push(word);
  return words;
}

/** pg_bindir, else the directory of pg_dump on PATH, else Debian's newest /usr/lib/postgresql/N/bin. */
function bindir(c: Config): string {
  if (c.bindir) return c.bindir;
  const onPath = Bun.which("pg_dump");
  if (onPath) return dirname(onPath);
  if (existsSync("/usr/lib/postgresql")) {
    const versions = readdirSync("/usr/lib/postgresql").filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(`/usr/lib/postgresql/${v}/bin/pg_dump`)) return `/usr/lib/postgresql/${v}/bin`;
  }
  throw new PluginError("cannot find pg_dump: set pg_bindir to the directory holding the PostgreSQL client tools", 3);
}

/** The connection travels in the environment; the database name in a conninfo string (never a password). */
function pgEnv(c: Config): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Nothing inherited may redirect the connection, and the endpoint (with its password) stays with us.
    if (v === undefined || k === "SHIELD_ENDPOINT" || /^PG(HOST|HOSTADDR|PORT|USER|PASSWORD|PASSFILE|DATABASE|SERVICE|SERVICEFILE|OPTIONS)$/.test(k)) continue;
    env[k] = v;
  }
  if (c.host) env.PGHOST = c.host;
  if (c.port) env.PGPORT = String(c.port);
  env.PGUSER = c.user;
  if (c.password) env.PGPASSWORD = c.password;
  env.PGAPPNAME = "shield";
  env.PGCONNECT_TIMEOUT ??= "15";
  return env;
}

function conninfo(database: string): string {
  return `dbname='${database.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function where(c: Config): string {
  return `${c.user}@${c.host ?? "(local socket)"}${c.port ? `:${c.port}` : ""}`;
}

async function backup(ctx: ActionContext): Promise<void> {
  const c = config(ctx);
  const bin = bindir(c);
  const argv = c.database
    // -Z0: the stream is compressed by Shield's pipeline (zstd by default); compressing twice only costs CPU.
    ? [join(bin, "pg_dump"), "--format=custom", "-Z0", "--no-password", ...c.options, "--dbname", conninfo(c.database)]
    // --clean --if-exists: restoring the cluster replaces each database instead of failing on it.
    : [join(bin, "pg_dumpall"), "--clean", "--if-exists", "--no-password", ...c.options];
  ctx.log(`postgres: dumping ${c.database ? `database "${c.database}"` : "every database"} of ${where(c)}`);
  // pg_dump writes straight into our stdout (or where the guard says, ctx.stdoutFd): no copy, and the pipe's own backpressure.
  await exec(argv, { stdout: ctx.stdoutFd ?? "inherit", env: pgEnv(c), signal: ctx.signal });
}

/** Creates the database unless it exists. */
async function ensureDatabase(c: Config, bin: string, ctx: ActionContext): Promise<void> {
  const script = `SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = :'db') AS missing \\gset
\\if :missing
CREATE DATABASE :"db";
\\echo created
\\endif
`;
  const r = await exec(
    [join(bin, "psql"), "-X", "-q", "-At", "--no-password", "-v", "ON_ERROR_STOP=1", "-v", `db=${c.database}`, "-d", conninfo("postgres"), "-f", "-"],
    { stdin: new Response(script).body!, stdout: "pipe", env: pgEnv(c), signal: ctx.signal },
  );
  if (r.stdout.includes("created")) ctx.log(`postgres: created database "${c.database}"`);
}

// What a failed or canceled restore leaves behind (the README says the same):
// - one database (pg_database set): as it was. pg_restore runs with
//   --single-transaction (which implies --exit-on-error), so the drops of --clean
//   and everything after them commit together or not at all. A database the
//   restore had to create stays, empty.
// - the whole cluster (pg_dumpall's SQL): not transactional, and cannot be, since
//   DROP/CREATE DATABASE refuse to run in a transaction block and the script
//   \connects from database to database. psql stops at the first error
//   (ON_ERROR_STOP); what ran before it stays: databases dropped and re-created,
//   the one being filled partly restored.
async function restore(ctx: ActionContext): Promise<void> {
  const c = config(ctx);
  const bin = bindir(c);
  // In a process of its own, the input is fd 0, a pipe: its first bytes are looked at
  // where they are (peekPipe), and pg_restore is handed fd 0 itself, so that no byte of
  // the dump crosses this process (it cost ~1 s of CPU per GiB, bench/DATAPATH.md
  // "Three data sets"). Otherwise (in-process, not a pipe), they are read from the stream.
  const head = ctx.stdinFd !== undefined ? await peekPipe(ctx.stdinFd, CUSTOM_MAGIC.length, ctx.signal) : null;
  // (ctx.stdin is not touched then: made, its stream would start reading fd 0.)
  const { kind, stream } = head ? { kind: kindOf(head), stream: undefined } : await sniff(ctx.stdin);
  if (kind === "empty") throw new PluginError("nothing to restore: the input is empty");
  if (kind === "unknown") throw new PluginError("the input is not a PostgreSQL dump (neither pg_dump's custom format nor pg_dumpall's SQL)");
  if (c.database) {
    if (kind !== "custom") throw new PluginError(`this is a full-cluster dump (pg_dumpall): restore it with an endpoint without pg_database, not into "${c.database}"`);
    await ensureDatabase(c, bin, ctx);
    ctx.log(`postgres: restoring database "${c.database}" of ${where(c)} in one transaction`);
    try {
      const argv = [join(bin, "pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction", "--no-password", "--dbname", conninfo(c.database)];
      await exec(argv, { stdin: head ? "inherit" : stream, stdout: "ignore", env: pgEnv(c), signal: ctx.signal });
    } catch (err) {
      ctx.log(`postgres: the restore failed; its transaction was rolled back: nothing of it was applied to database "${c.database}"`);
      throw err;
    }
    return;
  }
  if (kind === "custom") throw new PluginError("this is a single-database dump (pg_dump): set pg_database to the database to restore it into");
  ctx.log(`postgres: restoring every database of ${where(c)} (statement by statement: a cluster restore cannot be one transaction)`);
  // The dump drops and re-creates the restoring user's own role, which PostgreSQL
  // refuses; those two statements are left out so that any other error stops the restore.
  const psql = [join(bin, "psql"), "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "-d", conninfo("postgres")];
  // They are in the dump's head (its roles, before the first \connect). Seen in the pipe, the
  // head alone is taken out and handed to psql as a file in memory (its fd 3, read first: not
  // a pipe, since psql opens /dev/fd/3 again, which for a pipe whose writer is gone blocks);
  // psql then reads the rest from fd 0 itself: no byte of the databases crosses this process
  // (a filter every byte went through cost ~1 s of CPU per GiB: bench/DATAPATH.md,
  // "Thirteenth session"). Otherwise (in-process, no memfd, a head too long to see), the filter.
  const script = head ? libc()?.memfd("shield-roles") ?? -1 : -1;
  try {
    const roles = script >= 0 ? await peekBefore(ctx.stdinFd!, "\\connect ", ROLES_SEEN, ctx.signal) : null;
    if (roles) {
      takeFromPipe(ctx.stdinFd!, roles);
      writeSync(script, withoutOwnRole(roles, c.user));
      await exec([...psql, "-f", "/dev/fd/3", "-f", "-"], { stdin: "inherit", fd3: script, stdout: "ignore", env: pgEnv(c), signal: ctx.signal });
      return;
    }
  } finally {
    if (script >= 0) closeSync(script);
  }
  await exec([...psql, "-f", "-"], { stdin: (stream ?? ctx.stdin).pipeThrough(new RoleFilter(c.user)), stdout: "ignore", env: pgEnv(c), signal: ctx.signal });
}

/** The longest head of a cluster dump (its roles) taken out of the pipe; a longer one goes through the filter. */
const ROLES_SEEN = 1 << 20;

async function test(ctx: ActionContext): Promise<string[]> {
  const c = config(ctx);
  const bin = bindir(c);
  const r = await exec(
    [join(bin, "psql"), "-X", "-At", "--no-password", "-d", conninfo(c.database ?? "postgres"), "-c", "SELECT current_user || ' on ' || version()"],
    { stdout: "pipe", stderr: "pipe", env: pgEnv(c), signal: ctx.signal },
  );
  return [`ok: connected to ${where(c)}${c.database ? `, database "${c.database}"` : ""} as ${r.stdout.trim()}`];
}

// Restore drills. Exact row counts (count(*), not the planner's estimates): a
// drill is there to prove the data came back, and its scratch database is small
// enough to count or the drill measures that too.
const COUNT_ROWS = `SELECT format('SELECT %L || chr(9) || count(*) FROM %I.%I', n.nspname || '.' || c.relname, n.nspname, c.relname)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND NOT c.relispartition
ORDER BY n.nspname, c.relname \\gexec
`;

async function verify(ctx: ActionContext): Promise<VerifyResult> {
  const c = config(ctx);
  if (!c.database) throw new PluginError("verify needs pg_database: a drill restores one database into a scratch database");
  const bin = bindir(c);
  const r = await exec(
    [join(bin, "psql"), "-X", "-q", "-At", "--no-password", "-v", "ON_ERROR_STOP=1", "-d", conninfo(c.database), "-f", "-"],
    { stdin: new Response(COUNT_ROWS).body!, stdout: "pipe", env: pgEnv(c), signal: ctx.signal },
  );
  const tables: Record<string, number> = {};
  for (const line of r.stdout.split("\n")) {
    const tab = line.lastIndexOf("\t");
    if (tab > 0) tables[line.slice(0, tab)] = Number(line.slice(tab + 1));
  }
  const rows = Object.values(tables).reduce((a, b) => a + b, 0);
  return { summary: `${Object.keys(tables).length} tables, ${rows} rows in database "${c.database}"`, figures: { tables, table_count: Object.keys(tables).length, rows } };
}

// Drops every schema of the scratch database but the system's, then gives it back
// an empty public schema: what a restore of pg_dump's output put there is gone.
const DROP_ALL = `SELECT format('DROP SCHEMA %I CASCADE', nspname) FROM pg_catalog.pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg_toast%' AND nspname NOT LIKE 'pg_temp%' \\gexec
CREATE SCHEMA IF NOT EXISTS public;
`;

async function clean(ctx: ActionContext): Promise<string[]> {
  const c = config(ctx);
  if (!c.database) throw new PluginError("clean needs pg_database: it empties one scratch database, never a whole cluster");
  if (c.database === "postgres" || c.database.startsWith("template")) throw new PluginError(`clean refuses database "${c.database}": a scratch database is one of its own`);
  const bin = bindir(c);
  await exec(
    [join(bin, "psql"), "-X", "-q", "-At", "--no-password", "-v", "ON_ERROR_STOP=1", "-d", conninfo(c.database), "-f", "-"],
    { stdin: new Response(DROP_ALL).body!, stdout: "ignore", env: pgEnv(c), signal: ctx.signal },
  );
  return [`postgres: emptied scratch database "${c.database}" of ${where(c)}`];
}

export const postgres: Plugin = {
  info: {
    name: "postgres",
    author: "Shield",
    version: VERSION,
    features: { target: "yes", store: "no" },
    endpoint_from: "env",
    fields: [
      { name: "pg_host", type: "string", title: "Host", required: false, help: "Host name, IP address or socket directory of the server; empty: the local socket.", example: "db.example.com" },
      { name: "pg_port", type: "port", title: "Port", required: false, default: "5432", help: "TCP port of the server.", example: "5432" },
      { name: "pg_user", type: "string", title: "User", required: true, help: "Role to connect as: it must be able to read everything dumped (a superuser for the whole cluster).", example: "postgres" },
      { name: "pg_password", type: "password", title: "Password", required: false, help: "Password of pg_user; given to the tools in their environment only.", example: "" },
      { name: "pg_database", type: "string", title: "Database", required: false, help: "Database to back up and restore into (created when absent); empty: every database, with pg_dumpall.", example: "app" },
      { name: "pg_bindir", type: "abspath", title: "Tools directory", required: false, help: "Directory of pg_dump, pg_restore and psql, owned by root (or Shield's user) and writable by no one else; empty: found on PATH or in /usr/lib/postgresql.", example: "/usr/lib/postgresql/16/bin" },
      { name: "pg_options", type: "string", title: "Dump options", required: false, help: "Extra options for pg_dump (or pg_dumpall), split like a shell would; only options choosing what is dumped (not -f, -F, connection options).", example: "--exclude-table=audit_log" },
    ],
  },
  validate(ctx) {
    const c = config(ctx);
    return [
      `pg_host: ${c.host ?? "(local socket)"}`,
      `pg_port: ${c.port ?? "(default)"}`,
      `pg_user: ${c.user}`,
      secretLine("pg_password", c.password),
      `pg_database: ${c.database ?? "(every database, with pg_dumpall)"}`,
      `pg_bindir: ${c.bindir ?? "(found at run time)"}`,
      ...(c.options.length ? [`pg_options: ${c.options.join(" ")}`] : []),
    ];
  },
  backup,
  restore,
  test,
  verify,
  clean,
};
