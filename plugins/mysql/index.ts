// The mysql target (logical): mariadb-dump / mysqldump for backups, the mariadb /
// mysql client for restores, for one database or a whole server (mysql_database
// empty). The endpoint keys are those of the original Shield plugin, plus
// mysql_socket, mysql_tls and mysql_mode.
//
// The password reaches the tools only through an option file that is a pipe (see
// client.ts): no argument or environment of any process ever holds it, and nothing
// here prints it.
import { write } from "node:fs";
import { promisify } from "node:util";
import { realpath } from "node:fs/promises";
import { join } from "node:path";
import {
  EndpointInvalid, EndpointMissing, ExecFailure, PluginError, port, secretLine, str, type ActionContext, type Plugin, type VerifyResult,
} from "../protocol.ts";
import { checkToolDir, confine, endpointPath } from "../confine.ts";
import { splitWords } from "../postgres/index.ts";
import { VERSION } from "../../src/version.ts";
import { batchValue, ident, literal, optionFile, runTool, toolEnv, type Connection } from "./client.ts";
import { checkDumpOptions } from "./options.ts";
import { backupPhysical, mariabackupVersion, restorePhysical, type PhysicalConfig } from "./physical.ts";
import { ACCOUNTS_LINE, ServerArchiveFilter, headerLine, sniff, sniffed, type ArchiveInfo } from "./stream.ts";
import { peekLine } from "../peek.ts";

/** How far peekLine looks for the header's newline (a header is far shorter; beyond, the first line is read). */
const PEEK_MAX = 256 * 1024;

/** The server's own schemas: never in a whole-server archive, never restored over. */
export const SYSTEM_SCHEMAS = new Set(["mysql", "information_schema", "performance_schema", "sys"]);

const DUMPERS = ["mariadb-dump", "mysqldump"];
const CLIENTS = ["mariadb", "mysql"];

interface Config {
  conn: Connection;
  /** mysql_read_replica: the host backups are taken from; restores go to conn.host. */
  replica?: string;
  /** Absent: every database of the server. */
  database?: string;
  bindir?: string;
  /** Extra arguments for the dump tool. */
  options: string[];
  mode: "logical" | "physical";
  /** mysql_mode "physical": the data directory and the commands (physical.ts). */
  physical?: PhysicalConfig;
}

/** The fields of physical mode only, and those it cannot use. */
const PHYSICAL_ONLY = ["mysql_data_dir", "mysql_stop_cmd", "mysql_start_cmd", "mysql_timeout"];

/**
 * Physical mode's endpoint. It runs wherever the plugin runs (an agent on the
 * database host, or a Shield on that host): the data directory proves where, at
 * run time (physical.ts). The stop and start commands are a shell command of the
 * operator's choosing: a confined Shield (--allow-path) runs none.
 */
function physicalConfig(ctx: ActionContext, c: Config): PhysicalConfig | undefined {
  const e = ctx.endpoint;
  if (c.mode !== "physical") {
    for (const f of PHYSICAL_ONLY) {
      if (str(e, f) !== undefined) throw new EndpointInvalid(f, `is only used with mysql_mode "physical"; set that too, or leave this empty`);
    }
    return undefined;
  }
  const notWith: [string, unknown][] = [
    ["mysql_database", c.database], ["mysql_options", c.options.length ? c.options : undefined], ["mysql_read_replica", c.replica],
  ];
  for (const [f, v] of notWith) {
    if (v !== undefined) throw new EndpointInvalid(f, `cannot be used with mysql_mode "physical", which copies the whole server's data directory on its own host; leave it empty`);
  }
  const p: PhysicalConfig = {
    conn: c.conn,
    dataDir: endpointPath(e, "mysql_data_dir", { required: true }),
    stopCmd: str(e, "mysql_stop_cmd"),
    startCmd: str(e, "mysql_start_cmd"),
    bindir: c.bindir,
    timeout: 300,
  };
  confine("mysql_data_dir", p.dataDir, ctx.allowPaths);
  const t = str(e, "mysql_timeout");
  if (t !== undefined) {
    const n = /^\d{1,5}$/.test(t.trim()) ? Number(t.trim()) : NaN;
    if (!(n >= 1 && n <= 86400)) throw new EndpointInvalid("mysql_timeout", "must be a number of seconds (1-86400)");
    p.timeout = n;
  }
  for (const f of ["mysql_stop_cmd", "mysql_start_cmd"] as const) {
    const v = f === "mysql_stop_cmd" ? p.stopCmd : p.startCmd;
    if (v === undefined) continue;
    if (v.includes("\0")) throw new EndpointInvalid(f, "must not contain a NUL byte");
    if (ctx.allowPaths.length) throw new EndpointInvalid(f, "runs a shell command of the endpoint's choosing, which a confined Shield (--allow-path) does not do; run the agent unconfined, or use mysql_mode \"logical\"");
  }
  // A physical restore replaces the data directory of a stopped server: it cannot go without either command.
  if (ctx.action === "restore") {
    if (p.stopCmd === undefined) throw new EndpointMissing("mysql_stop_cmd");
    if (p.startCmd === undefined) throw new EndpointMissing("mysql_start_cmd");
  }
  return p;
}

function config(ctx: ActionContext): Config {
  const e = ctx.endpoint;
  const mode = str(e, "mysql_mode") ?? "logical";
  if (mode !== "logical" && mode !== "physical") throw new EndpointInvalid("mysql_mode", `must be "logical" or "physical", not "${mode}"`);
  const tlsText = (str(e, "mysql_tls") ?? "off").toLowerCase();
  const tls = ({ off: "off", false: "off", no: "off", on: "on", true: "on", yes: "on", required: "on", verify: "verify" } as const)[tlsText as "off"];
  if (!tls) throw new EndpointInvalid("mysql_tls", `must be "off", "on" (encrypted) or "verify" (encrypted, server certificate checked), not "${tlsText}"`);
  const c: Config = {
    conn: {
      host: str(e, "mysql_host"),
      port: port(e, "mysql_port"),
      socket: endpointPath(e, "mysql_socket"),
      user: str(e, "mysql_user", { required: true }),
      // The original plugin needs the key present, possibly empty: empty means no password.
      password: str(e, "mysql_password"),
      tls,
    },
    replica: str(e, "mysql_read_replica"),
    database: str(e, "mysql_database"),
    bindir: endpointPath(e, "mysql_bindir"),
    options: [],
    mode,
  };
  if (c.database !== undefined && (c.database.includes("\0") || c.database.length > 64)) {
    throw new EndpointInvalid("mysql_database", "must be a database name (at most 64 characters, no NUL)");
  }
  if (c.database !== undefined && SYSTEM_SCHEMAS.has(c.database.toLowerCase())) {
    throw new EndpointInvalid("mysql_database", `may not be the server's own schema "${c.database}"`);
  }
  if (c.conn.socket && c.replica) throw new EndpointInvalid("mysql_read_replica", "cannot be used with mysql_socket (a socket reaches one local server)");
  if (c.bindir !== undefined) {
    // The directory must hold one dump tool and one client; the others are checked when present.
    const present = (names: string[]) => names.filter((t) => Bun.which(t, { PATH: c.bindir! }));
    const dumper = present(DUMPERS)[0] ?? DUMPERS[0]!;
    const client = present(CLIENTS)[0] ?? CLIENTS[0]!;
    const others = [...DUMPERS, ...CLIENTS].filter((t) => t !== dumper && t !== client);
    checkToolDir("mysql_bindir", c.bindir, { required: [dumper, client], optional: [...others, "mariabackup", "mariadb-backup", "mbstream"] }, ctx.allowPaths);
  }
  const options = str(e, "mysql_options");
  if (options !== undefined) c.options = splitWords(options, "mysql_options");
  checkDumpOptions(c.options);
  c.physical = physicalConfig(ctx, c);
  return c;
}

interface Tools {
  dump: string;
  client: string;
  /** The dump tool is MariaDB's (it can dump accounts with --system=users, and takes MariaDB's TLS options). */
  mariadbDump: boolean;
  mariadbClient: boolean;
}

/** The first of `names` in mysql_bindir, else on PATH. */
function find(names: string[], bindir?: string): string | undefined {
  for (const n of names) {
    const at = Bun.which(n, bindir ? { PATH: bindir } : undefined);
    if (at) return bindir ? join(bindir, n) : at;
  }
  return undefined;
}

const flavourCache = new Map<string, boolean>();
/** Whether a tool is MariaDB's: its --version says so (Debian's mysqldump is MariaDB's too). */
function isMariadbTool(path: string): boolean {
  let v = flavourCache.get(path);
  if (v === undefined) {
    const r = Bun.spawnSync([path, "--version"], { stdout: "pipe", stderr: "pipe", env: toolEnv() });
    v = /mariadb/i.test(r.stdout.toString());
    flavourCache.set(path, v);
  }
  return v;
}

/**
 * The tools for this endpoint. A MySQL server is best dumped by MySQL's mysqldump
 * and a MariaDB by mariadb-dump; `serverIsMariadb` (known once connected) picks the
 * order, and whichever exists is used.
 */
function tools(c: Config, serverIsMariadb = true): Tools {
  const order = (names: string[]) => (serverIsMariadb ? names : [...names].reverse());
  const dump = find(order(DUMPERS), c.bindir);
  const client = find(order(CLIENTS), c.bindir);
  const where = c.bindir ? `in ${c.bindir}` : "on PATH: set mysql_bindir to the directory holding the MySQL or MariaDB client tools";
  if (!client) throw new ExecFailure(`cannot find mariadb or mysql (the client) ${where}`);
  if (!dump) throw new ExecFailure(`cannot find mariadb-dump or mysqldump ${where}`);
  return { dump, client, mariadbDump: isMariadbTool(dump), mariadbClient: isMariadbTool(client) };
}

function where(conn: Connection): string {
  return `${conn.user}@${conn.socket ?? `${conn.host ?? "127.0.0.1"}:${conn.port ?? 3306}`}`;
}

/** Runs SQL with the client; returns its --batch rows, values unescaped. A failure carries the server's words. */
async function query(c: Config, t: Tools, conn: Connection, sql: string, ctx: ActionContext): Promise<string[][]> {
  const r = await runTool(
    [t.client, "--batch", "--skip-column-names", "--connect-timeout=15", "--default-character-set=utf8mb4", "-e", sql],
    optionFile(conn, t.mariadbClient), ctx, { stdout: "pipe", stderr: "pipe" },
  );
  return r.stdout.split("\n").filter((l) => l !== "").map((l) => l.split("\t").map(batchValue));
}

const writeFd = promisify(write);

/**
 * Writes our own lines (the header, the accounts' mark) straight where the dump tools write
 * the data (ctx.stdoutFd, else fd 1): nothing of ours is buffered in between. The write waits
 * on the thread pool, never on the event loop: in a store's guard (--with-source) that loop
 * seals the stream zstd makes of these bytes, and a blocking write into zstd's full input,
 * while zstd waited for the guard to read its output, would hold both for ever.
 */
async function writeOut(ctx: ActionContext, text: string): Promise<void> {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.byteLength;) {
    try {
      off += (await writeFd(ctx.stdoutFd ?? 1, buf, off)).bytesWritten;
    } catch (err) {
      // A non-blocking fd (a runtime may set fd 1 so) with a full pipe: wait, then again.
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      await Bun.sleep(5);
    }
  }
}

/**
 * Runs a dump; when it fails, asks the server whether it is still there, so that a
 * dump cut short without a word (mariadb-dump may exit 2 silently when the server
 * dies under it) still fails with the server's words.
 */
async function dump(argv: string[], options: string, c: Config, t: Tools, conn: Connection, ctx: ActionContext): Promise<void> {
  try {
    await runTool(argv, options, ctx, { stdout: ctx.stdoutFd ?? "inherit", stderr: "pipe" });
  } catch (err) {
    if (!(err instanceof ExecFailure) || ctx.signal.aborted) throw err;
    const gone = await query(c, t, conn, "SELECT 1", ctx).then(() => undefined, (e: Error) => e.message.replace(/^[^:]*failed \(exit \d+\): /, ""));
    throw gone ? new ExecFailure(`${err.message}; the server now: ${gone}`) : err;
  }
}

/** The options every dump is taken with. */
function dumpArgs(c: Config): string[] {
  return [
    // One consistent snapshot of every InnoDB table, without locking the server.
    "--single-transaction",
    "--routines", "--triggers", "--events",
    // BLOBs as hex literals: the SQL stays valid text whatever the bytes.
    "--hex-blob",
    "--default-character-set=utf8mb4",
    ...c.options,
  ];
}

async function backup(ctx: ActionContext): Promise<void> {
  const c = config(ctx);
  if (c.physical) return backupPhysical(c.physical, ctx, (sql) => query(c, tools(c), c.conn, sql, ctx));
  // A backup reads from the replica when there is one; a restore writes to the primary.
  const conn: Connection = c.replica ? { ...c.conn, host: c.replica } : c.conn;
  let t = tools(c);
  // Connecting first: a wrong password or an unreachable server fails here with the
  // server's words, and the version picks the tools and what they can dump.
  const [[version] = []] = await query(c, t, conn, "SELECT VERSION()", ctx);
  const serverIsMariadb = /mariadb/i.test(version ?? "");
  t = tools(c, serverIsMariadb);
  const options = optionFile(conn, t.mariadbDump);
  if (c.database) {
    ctx.log(`mysql: dumping database "${c.database}" of ${where(conn)} (${version}) with ${t.dump}`);
    await writeOut(ctx, headerLine({ kind: "database", database: c.database }));
    // No --databases: the dump holds no CREATE DATABASE or USE, so it restores under any name.
    await dump([t.dump, ...dumpArgs(c), "--", c.database], options, c, t, conn, ctx);
    return;
  }
  const rows = await query(c, t, conn, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME", ctx);
  const databases = rows.map((r) => r[0]!).filter((d) => !SYSTEM_SCHEMAS.has(d.toLowerCase()));
  // Accounts: mariadb-dump writes them as portable SQL (CREATE USER, GRANT). MySQL's
  // mysqldump cannot; for MySQL 8 this would list the accounts (mysql.user, leaving
  // out mysql.sys, mysql.session, mysql.infoschema and root) and write, for each,
  // `SHOW CREATE USER` and `SHOW GRANTS FOR` as the accounts section (what mysqlpump
  // --users and MySQL Shell's dumpInstance do). Until then such an archive says it has none.
  const accounts = serverIsMariadb && t.mariadbDump;
  ctx.log(`mysql: dumping every database of ${where(conn)} (${version}): ${databases.length ? databases.join(", ") : "(none)"}${accounts ? ", with accounts and grants" : ""}`);
  if (!accounts) ctx.log(`mysql: warning: accounts and grants are not in this archive (${t.dump} cannot dump them from this server)`);
  await writeOut(ctx, headerLine({ kind: "server", databases, accounts }));
  if (databases.length) {
    await dump([t.dump, ...dumpArgs(c), "--databases", "--", ...databases], options, c, t, conn, ctx);
  }
  if (accounts) {
    // Last, so that a restore finds the tables that grants name.
    await writeOut(ctx, `\n${ACCOUNTS_LINE}\n`);
    await dump([t.dump, "--system=users", "--default-character-set=utf8mb4"], options, c, t, conn, ctx);
  }
}

async function restore(ctx: ActionContext): Promise<void> {
  const c = config(ctx);
  if (c.physical) return restorePhysical(c.physical, ctx, (sql) => query(c, tools(c), c.conn, sql, ctx));
  const conn = c.conn;
  // In a process of its own, the input is fd 0, a pipe: its first line (the header) is
  // looked at where it is (peekLine), and an archive fed to the client as it is gets fd 0
  // itself, so that no byte of it crosses this process (as the postgres plugin does for
  // pg_restore: bench/DATAPATH.md, "Three data sets"). Otherwise (in-process, not a
  // pipe, no newline seen), the first line is read from the stream.
  const head = ctx.stdinFd !== undefined ? await peekLine(ctx.stdinFd, PEEK_MAX, ctx.signal) : null;
  // (ctx.stdin is not touched then, unless a filter needs it: made, its stream would start reading fd 0.)
  const { what, stream } = head ? { what: sniffed(head), stream: undefined } : await sniff(ctx.stdin);
  if (what.kind === "empty") throw new PluginError("nothing to restore: the input is empty");
  if (what.kind === "xbstream") {
    await stream?.cancel().catch(() => {});
    throw new PluginError(`this archive is a physical one (mariabackup's xbstream): restore it with mysql_mode "physical" on the database host`);
  }
  const t = tools(c);
  const options = optionFile(conn, t.mariadbClient);
  // --batch: the client stops at the first error and says "ERROR nnnn (xxxxx) at line N: ...".
  const client = [t.client, "--batch", "--connect-timeout=15", "--default-character-set=utf8mb4"];
  const feed = (argv: string[], input: ReadableStream<Uint8Array> | "inherit") =>
    runTool(argv, options, ctx, { stdin: input, stdout: "ignore", stderr: "pipe" });
  // The archive as it is: fd 0 itself when its header was peeked, else the stream that read it.
  const asIs = (): ReadableStream<Uint8Array> | "inherit" => stream ?? "inherit";
  // Through a filter (a whole-server archive): the bytes cross this process either way.
  const filtered = (mode: "one-database" | "merge") => (stream ?? ctx.stdin).pipeThrough(new ServerArchiveFilter(mode));
  const ensureDatabase = async (db: string) => {
    const [[created] = []] = await query(c, t, conn,
      `SELECT COUNT(*) = 0 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${literal(db)}; CREATE DATABASE IF NOT EXISTS ${ident(db)};`, ctx);
    if (created === "1") ctx.log(`mysql: created database "${db}"`);
  };
  const info: ArchiveInfo | undefined = what.kind === "shield" ? what.info : undefined;

  if (c.database) {
    if (info?.kind === "server" && !info.databases.includes(c.database)) {
      throw new PluginError(`this whole-server archive holds ${info.databases.length ? `the databases ${info.databases.join(", ")}` : "no database"}, not "${c.database}": set mysql_database to one of them, or leave it empty to restore them all`);
    }
    await ensureDatabase(c.database);
    if (info?.kind === "server") {
      // One database out of the whole server's stream: the client's --one-database
      // runs only what comes while the default database is this one (the dump says
      // USE before each database); the filter leaves out the accounts at the end and
      // the CREATE DATABASE of the others.
      ctx.log(`mysql: restoring database "${c.database}" (out of a whole-server archive) into ${where(conn)}`);
      await feed([...client, "--one-database", "--", c.database], filtered("one-database"));
    } else {
      ctx.log(`mysql: restoring database "${c.database}" of ${where(conn)}${info ? "" : " (an archive without a shield-mysql header: fed to the client as it is)"}`);
      await feed([...client, "--", c.database], asIs());
    }
    return;
  }
  if (info?.kind === "database") {
    throw new PluginError(`this archive holds one database ("${info.database}"): set mysql_database to the database to restore it into`);
  }
  ctx.log(`mysql: restoring every database${info?.kind === "server" ? ` (${info.databases.join(", ") || "none"})` : ""} of ${where(conn)}${info?.kind === "server" && info.accounts ? ", with accounts and grants" : ""}`);
  await feed(client, info ? filtered("merge") : asIs());
}

/** What a consistent dump asks of the user; the first four are required by the dump's options. */
const NEEDED: { privilege: string; why: string; required: boolean }[] = [
  { privilege: "SELECT", why: "to read the tables", required: true },
  { privilege: "SHOW VIEW", why: "to dump views", required: true },
  { privilege: "TRIGGER", why: "to dump triggers", required: true },
  { privilege: "EVENT", why: "to dump events", required: true },
  { privilege: "LOCK TABLES", why: "to dump non-InnoDB tables consistently", required: false },
  { privilege: "RELOAD", why: "for --master-data / --flush-logs and some MySQL 8 --single-transaction dumps", required: false },
];

/** What mariabackup --backup asks of the user (MariaDB 10.5+ names). */
const NEEDED_PHYSICAL: { privilege: string; why: string; required: boolean }[] = [
  { privilege: "RELOAD", why: "to flush tables and take the backup lock", required: true },
  { privilege: "PROCESS", why: "to read the server's state", required: true },
  { privilege: "LOCK TABLES", why: "for the backup lock", required: false },
  { privilege: "BINLOG MONITOR", why: "to record the binary log position", required: false },
];

async function test(ctx: ActionContext): Promise<string[]> {
  const c = config(ctx);
  if (c.physical) return testPhysical(c, c.physical, ctx);
  const lines: string[] = [];
  const check = async (conn: Connection, role: string) => {
    const t = tools(c);
    const grantee = `CONCAT("'", SUBSTRING_INDEX(CURRENT_USER(), '@', 1), "'@'", SUBSTRING_INDEX(CURRENT_USER(), '@', -1), "'")`;
    const rows = await query(c, t, conn, [
      "SELECT 'v', VERSION(), CURRENT_USER()",
      // SHOW, not information_schema.SESSION_STATUS: MySQL 8 has the latter in performance_schema.
      "SHOW SESSION STATUS LIKE 'Ssl_cipher'",
      `SELECT 'p', PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ${grantee}`,
      ...(c.database ? [`SELECT 'p', PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ${grantee} AND TABLE_SCHEMA = ${literal(c.database)}`] : []),
      ...(c.database ? [`SELECT 'd', COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${literal(c.database)}`] : []),
    ].join(";\n"), ctx);
    const version = rows.find((r) => r[0] === "v");
    const have = new Set(rows.filter((r) => r[0] === "p").map((r) => r[1]!.toUpperCase()));
    lines.push(`ok: connected to ${where(conn)}${role} as ${version?.[2]}: server ${version?.[1]}`);
    const cipher = rows.find((r) => r[0] === "Ssl_cipher")?.[1];
    lines.push(`tls: ${cipher ? `yes (${cipher})` : "no"}`);
    const exists = rows.find((r) => r[0] === "d");
    if (c.database) lines.push(exists?.[1] === "1" ? `database "${c.database}" exists` : `database "${c.database}" does not exist yet (a restore creates it; a backup fails)`);
    const missing: string[] = [];
    for (const n of NEEDED) {
      const ok = have.has(n.privilege);
      lines.push(`privilege ${n.privilege}: ${ok ? "yes" : "NO"} (${n.why})`);
      if (!ok && n.required) missing.push(n.privilege);
    }
    return missing;
  };
  const missing = await check(c.replica ? { ...c.conn, host: c.replica } : c.conn, c.replica ? " (the read replica, for backups)" : "");
  if (c.replica) await check(c.conn, " (the primary, for restores)");
  if (missing.length) {
    for (const l of lines) ctx.log(l);
    throw new PluginError(`${c.conn.user} lacks ${missing.join(", ")}: a backup with routines, triggers and events would fail`);
  }
  return lines;
}

/** Physical mode: the server, its data directory here, mariabackup's version and the privileges it needs. */
async function testPhysical(c: Config, p: PhysicalConfig, ctx: ActionContext): Promise<string[]> {
  const t = tools(c);
  const grantee = `CONCAT("'", SUBSTRING_INDEX(CURRENT_USER(), '@', 1), "'@'", SUBSTRING_INDEX(CURRENT_USER(), '@', -1), "'")`;
  const rows = await query(c, t, c.conn, [
    "SELECT 'v', VERSION(), CURRENT_USER(), @@datadir",
    `SELECT 'p', PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ${grantee}`,
  ].join(";\n"), ctx);
  const [, version, user, datadir] = rows.find((r) => r[0] === "v") ?? [];
  const have = new Set(rows.filter((r) => r[0] === "p").map((r) => r[1]!.toUpperCase()));
  const lines = [`ok: connected to ${where(c.conn)} as ${user}: server ${version}`];
  lines.push(`mariabackup: ${await mariabackupVersion(c.bindir)}`);
  const here = await realpath(datadir ?? "").catch(() => undefined);
  const wanted = await realpath(p.dataDir).catch(() => undefined);
  if (!here || !wanted || here !== wanted) {
    throw new PluginError(`the server's data directory is ${datadir}, ${!here ? "which is not on this host" : `not mysql_data_dir ${p.dataDir}`}: physical mode must run on the database host; set the target's agent to the shield agent there`);
  }
  lines.push(`data directory: ${here} (here, as mysql_data_dir says)`);
  const missing: string[] = [];
  for (const n of NEEDED_PHYSICAL) {
    const ok = have.has(n.privilege) || have.has("SUPER");
    lines.push(`privilege ${n.privilege}: ${ok ? "yes" : "NO"} (${n.why})`);
    if (!ok && n.required) missing.push(n.privilege);
  }
  if (missing.length) {
    for (const l of lines) ctx.log(l);
    throw new PluginError(`${c.conn.user} lacks ${missing.join(", ")}: mariabackup would fail`);
  }
  return lines;
}

// Restore drills: every base table of the (scratch) database with its exact row
// count and its CHECKSUM TABLE value, which a person can compare with the source's.
async function verify(ctx: ActionContext): Promise<VerifyResult> {
  const c = config(ctx);
  if (!c.database) throw new PluginError("verify needs mysql_database: a drill restores one database into a scratch database");
  const t = tools(c);
  const db = ident(c.database);
  const names = (await query(c, t, c.conn,
    `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${literal(c.database)} AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`, ctx))
    .map((r) => r[0]!);
  const tables: Record<string, number> = {};
  const checksums: Record<string, string | null> = {};
  if (names.length) {
    for (const r of await query(c, t, c.conn, names.map((n) => `SELECT ${literal(n)}, COUNT(*) FROM ${db}.${ident(n)}`).join(" UNION ALL "), ctx)) {
      tables[r[0]!] = Number(r[1]);
    }
    // CHECKSUM TABLE names each table DB.TABLE; NULL for a table it cannot checksum.
    for (const r of await query(c, t, c.conn, `CHECKSUM TABLE ${names.map((n) => `${db}.${ident(n)}`).join(", ")}`, ctx)) {
      checksums[r[0]!.slice(c.database.length + 1)] = r[1] ?? null;
    }
  }
  const rows = Object.values(tables).reduce((a, b) => a + b, 0);
  return { summary: `${names.length} tables, ${rows} rows in database "${c.database}" (with CHECKSUM TABLE)`, figures: { tables, checksums, table_count: names.length, rows } };
}

// Restore drills: the scratch database dropped and created again, empty.
async function clean(ctx: ActionContext): Promise<string[]> {
  const c = config(ctx);
  if (!c.database) throw new PluginError("clean needs mysql_database: it empties one scratch database, never a whole server");
  if (SYSTEM_SCHEMAS.has(c.database.toLowerCase())) throw new PluginError(`clean refuses database "${c.database}": a scratch database is one of its own`);
  await query(c, tools(c), c.conn, `DROP DATABASE IF EXISTS ${ident(c.database)}; CREATE DATABASE ${ident(c.database)}`, ctx);
  return [`mysql: emptied scratch database "${c.database}" of ${where(c.conn)}`];
}

export const mysql: Plugin = {
  info: {
    name: "mysql",
    author: "Shield",
    version: VERSION,
    features: { target: "yes", store: "no" },
    endpoint_from: "env",
    fields: [
      { name: "mysql_host", type: "string", title: "Host", required: false, default: "127.0.0.1", help: "Host name or IP address of the server (the primary: restores go there).", example: "db.example.com" },
      { name: "mysql_port", type: "port", title: "Port", required: false, default: "3306", help: "TCP port of the server.", example: "3306" },
      { name: "mysql_user", type: "string", title: "User", required: true, help: "User to connect as: it needs SELECT, SHOW VIEW, TRIGGER and EVENT to back up (and to restore, the rights to create what the archive holds; accounts need CREATE USER).", example: "backup" },
      { name: "mysql_password", type: "password", title: "Password", required: false, help: "Password of mysql_user; empty: none. Given to the tools through a pipe, never in arguments or the environment.", example: "" },
      { name: "mysql_database", type: "string", title: "Database", required: false, help: "Database to back up and restore into (created when absent); empty: every database but the server's own schemas, with accounts and grants.", example: "app" },
      { name: "mysql_options", type: "string", title: "Dump options", required: false, help: "Extra options for mariadb-dump / mysqldump, split like a shell would; only options choosing what is dumped and how (not -r, --tab, connection options).", example: "--ignore-table=app.sessions" },
      { name: "mysql_read_replica", type: "string", title: "Read replica", required: false, help: "Host of a replica to take backups from (same port, user and password); restores still go to mysql_host.", example: "replica.example.com" },
      { name: "mysql_bindir", type: "abspath", title: "Tools directory", required: false, help: "Directory of mariadb-dump/mysqldump and mariadb/mysql, owned by root (or Shield's user) and writable by no one else; empty: found on PATH.", example: "/usr/bin" },
      { name: "mysql_socket", type: "abspath", title: "Socket", required: false, help: "Unix socket of a local server; when set, mysql_host and mysql_port are not used.", example: "/run/mysqld/mysqld.sock" },
      { name: "mysql_tls", type: "string", title: "TLS", required: false, default: "off", help: "\"off\", \"on\" (encrypted) or \"verify\" (encrypted, the server's certificate checked against the system's CAs).", example: "verify" },
      { name: "mysql_mode", type: "string", title: "Mode", required: false, default: "logical", help: "\"logical\": an SQL dump over the network (mariadb-dump). \"physical\": MariaDB's hot backup (mariabackup --backup --stream=xbstream) of the whole server, run on the database host: set the target's agent to a shield agent there (or run Shield on that host). A physical restore replaces the data directory: the server is stopped and started with mysql_stop_cmd and mysql_start_cmd, and a failure puts the previous data directory back.", example: "logical" },
      { name: "mysql_data_dir", type: "abspath", title: "Data directory (physical)", required: false, help: "Physical mode: the server's data directory (its @@datadir) on the database host; checked against the server before anything is read or replaced.", example: "/var/lib/mysql" },
      { name: "mysql_stop_cmd", type: "string", title: "Stop command (physical)", required: false, help: "Physical mode, restores: a shell command on the database host that stops the server; the restore waits until its process has exited.", example: "systemctl stop mariadb" },
      { name: "mysql_start_cmd", type: "string", title: "Start command (physical)", required: false, help: "Physical mode, restores: a shell command on the database host that starts the server; the restore waits until it answers.", example: "systemctl start mariadb" },
      { name: "mysql_timeout", type: "string", title: "Timeout (physical)", required: false, default: "300", help: "Physical mode: seconds each of the stop and start commands, and the server's going and coming, may take.", example: "600" },
    ],
  },
  validate(ctx) {
    const c = config(ctx);
    return [
      c.conn.socket ? `mysql_socket: ${c.conn.socket}` : `mysql_host: ${c.conn.host ?? "127.0.0.1 (default)"}`,
      ...(c.conn.socket ? [] : [`mysql_port: ${c.conn.port ?? "3306 (default)"}`]),
      `mysql_user: ${c.conn.user}`,
      secretLine("mysql_password", c.conn.password),
      `mysql_database: ${c.database ?? "(every database, with accounts and grants)"}`,
      `mysql_read_replica: ${c.replica ?? "(none: backups from mysql_host)"}`,
      `mysql_bindir: ${c.bindir ?? "(found at run time)"}`,
      `mysql_tls: ${c.conn.tls}`,
      ...(c.options.length ? [`mysql_options: ${c.options.join(" ")}`] : []),
      `mysql_mode: ${c.mode}`,
      ...(c.physical ? [
        `mysql_data_dir: ${c.physical.dataDir}`,
        `mysql_stop_cmd: ${c.physical.stopCmd ?? "(none: needed to restore)"}`,
        `mysql_start_cmd: ${c.physical.startCmd ?? "(none: needed to restore)"}`,
        `mysql_timeout: ${c.physical.timeout} s`,
      ] : []),
    ];
  },
  backup,
  restore,
  test,
  verify,
  clean,
};
