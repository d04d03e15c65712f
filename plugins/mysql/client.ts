// How the mysql plugin runs mariadb / mariadb-dump (or mysql / mysqldump) against a server.
//
// The connection, password included, reaches each tool through an option file that
// is a FIFO in a private (0700) directory: `--defaults-file=DIR/client.cnf` is the
// only connection argument. The password is written into the pipe when the tool
// opens it and is never on disk, in any argument or in the tool's environment
// (MYSQL_PWD would put it in /proc/PID/environ). Bun's extra stdio fds are
// socketpairs, which /dev/fd/N cannot open, hence the named pipe.
// --defaults-file also keeps the machine's own option files (/etc/mysql, ~/.my.cnf)
// from redirecting the connection: what the endpoint says is what is used.
import { spawnSync } from "node:child_process";
import { constants, mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExecFailure, exec, type ActionContext, type ExecOptions, type ExecResult } from "../protocol.ts";

export interface Connection {
  host?: string;
  port?: number;
  socket?: string;
  user: string;
  password?: string;
  tls: "off" | "on" | "verify";
}

/** A value in an option file: quoted, with the escapes my_default.c undoes. */
function optionValue(v: string): string {
  return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t")}"`;
}

/** The [client] group for a connection, in the dialect of the tool (MariaDB's or MySQL's TLS options differ). */
export function optionFile(c: Connection, mariadbTool: boolean): string {
  const lines = ["[client]", `user=${optionValue(c.user)}`];
  if (c.password !== undefined) lines.push(`password=${optionValue(c.password)}`);
  if (c.socket) {
    lines.push(`socket=${optionValue(c.socket)}`, "protocol=SOCKET");
  } else {
    lines.push(`host=${optionValue(c.host ?? "127.0.0.1")}`, "protocol=TCP");
    if (c.port) lines.push(`port=${c.port}`);
  }
  if (mariadbTool) {
    if (c.tls === "off") lines.push("skip-ssl");
    else lines.push("ssl", c.tls === "verify" ? "ssl-verify-server-cert" : "skip-ssl-verify-server-cert");
  } else {
    lines.push(`ssl-mode=${c.tls === "off" ? "DISABLED" : c.tls === "verify" ? "VERIFY_IDENTITY" : "REQUIRED"}`);
  }
  return lines.join("\n") + "\n";
}

/** The environment of a tool: nothing inherited may carry a password or redirect the connection. */
export function toolEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k === "SHIELD_ENDPOINT" || /^(MYSQL_(PWD|HOST|TCP_PORT|UNIX_PORT|HOME|TEST_LOGIN_FILE)|MARIADB_.*|LIBMYSQL_.*)$/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

/**
 * Runs a tool with `--defaults-file=<fifo>` put first in its arguments (the tools
 * require it there) and the option file fed through the FIFO. The FIFO is removed
 * when the tool ends; a tool that exits without opening it does not leave the
 * writer waiting.
 */
export async function runTool(argv: string[], options: string, ctx: ActionContext, opts: ExecOptions = {}): Promise<ExecResult> {
  const dir = mkdtempSync(join(tmpdir(), "shield-mysql-"));
  const undo = ctx.onAbort(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, "client.cnf");
  try {
    const made = spawnSync("mkfifo", ["-m", "600", fifo], { env: toolEnv() });
    if (made.status !== 0) throw new ExecFailure(`cannot make the option-file pipe (mkfifo): ${made.stderr?.toString().trim() || `exit ${made.status}`}`);
    // Opening for writing waits (in the thread pool) until the tool opens it for reading.
    const feeding = (async () => {
      const fh = await open(fifo, constants.O_WRONLY);
      try { await fh.writeFile(options); } finally { await fh.close(); }
    })().catch(() => { /* the tool went away without reading: its own failure is reported */ });
    try {
      return await exec([argv[0]!, `--defaults-file=${fifo}`, ...argv.slice(1)], { env: toolEnv(), signal: ctx.signal, ...opts });
    } finally {
      // The tool is gone; if it never opened the pipe, open it here so the writer stops waiting.
      const unblock = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK).catch(() => undefined);
      await feeding;
      await unblock?.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    undo();
  }
}

/** Unescapes a value of the client's --batch output (\\, \t, \n, \0). */
export function batchValue(s: string): string {
  return s.replace(/\\([\\tn0])/g, (_, c: string) => (c === "t" ? "\t" : c === "n" ? "\n" : c === "0" ? "\0" : "\\"));
}

/** Quotes an identifier for SQL: `name`, backticks doubled. */
export function ident(name: string): string {
  return "`" + name.replace(/`/g, "``") + "`";
}

/** Quotes a string literal for SQL. */
export function literal(s: string): string {
  return "'" + s.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\0/g, "\\0") + "'";
}
