// A private MariaDB for the tests, started from the binaries on this machine
// (mariadb-install-db + mariadbd) on its own port, socket and data directory,
// shared by every test file of one `bun test` run and stopped when the run exits
// (preload.ts). A test that needs an empty server of its own (a restore into a
// new server, a server killed mid-dump) starts one with startMariadb().
// The MariaDB on the default port 3306 is never touched: every client call here
// names this server's socket and ignores the machine's option files.
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, requireOrSkip } from "./services.ts";

/** The administrator every private server is given: reached over TCP with this password. */
export const ADMIN_USER = "shield_admin";
export const ADMIN_PASSWORD = `adm"in pa$$ \\word#1`;

export interface MariadbServer {
  port: number;
  socket: string;
  dir: string;
  pid: number;
  /** Runs SQL as root over the socket; returns stdout (tab-separated rows, no headers). Throws on error. */
  sql(statements: string, database?: string): string;
  /** Stops the server (SIGKILL: nothing in it is worth keeping) and removes its directory; safe twice. */
  stop(): void;
}

function findServer(): string | undefined {
  for (const p of ["/usr/sbin/mariadbd", "/usr/bin/mariadbd", "/usr/sbin/mysqld"]) if (existsSync(p)) return p;
  return Bun.which("mariadbd") ?? undefined;
}

const serverBin = findServer();
const installDb = Bun.which("mariadb-install-db") ?? Bun.which("mysql_install_db");
const client = Bun.which("mariadb") ?? Bun.which("mysql");

/** True when the MariaDB tests can run; false (after a loud warning) when they skip. */
export const mariadbAvailable = requireOrSkip(
  "MariaDB", serverBin !== undefined && installDb !== undefined && client !== undefined,
  "mariadbd, mariadb-install-db and the mariadb client (Debian: apt install mariadb-server)",
);

let shared: Promise<MariadbServer> | undefined;
const started = new Set<MariadbServer>();

/** The private server shared by every test file of the run. */
export function sharedMariadb(): Promise<MariadbServer> {
  return (shared ??= startMariadb());
}

/** Stops every server this process started. */
export function stopMariadb(): void {
  for (const s of started) s.stop();
  shared = undefined;
}

/** Runs the client against a server's socket as root; `--no-defaults` keeps /etc/mysql out of it. */
export function rootSql(socket: string, statements: string, database?: string): string {
  const args = ["--no-defaults", `--socket=${socket}`, "--user=root", "--batch", "--skip-column-names", "--default-character-set=utf8mb4"];
  if (database) args.push(database);
  const r = spawnSync(client!, args, { input: statements, encoding: "utf8", maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`mariadb failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** A new private server: its own directory, socket and port, an administrator with a password. */
export async function startMariadb(): Promise<MariadbServer> {
  const dir = mkdtempSync(join(tmpdir(), "shield-test-mariadb-"));
  const data = join(dir, "data");
  const socket = join(dir, "mariadb.sock");
  const port = await freePort();
  // mariadbd refuses to run as root without --user; the directory must then be the mysql user's.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(spawnSync("id", ["-u", "mysql"], { encoding: "utf8" }).stdout);
    const gid = Number(spawnSync("id", ["-g", "mysql"], { encoding: "utf8" }).stdout);
    chownSync(dir, uid, gid);
  }
  const user = asRoot ? ["--user=mysql"] : [];
  const install = spawnSync(installDb!, [
    "--no-defaults", `--datadir=${data}`, ...user, "--auth-root-authentication-method=normal", "--skip-test-db",
    "--skip-name-resolve",
  ], { encoding: "utf8" });
  if (install.status !== 0) throw new Error(`mariadb-install-db failed (${install.status}): ${install.stderr || install.stdout}`);
  const proc = Bun.spawn([
    serverBin!, "--no-defaults", `--datadir=${data}`, `--socket=${socket}`, `--port=${port}`, "--bind-address=127.0.0.1",
    `--pid-file=${join(dir, "mariadb.pid")}`, `--log-error=${join(dir, "error.log")}`, ...user,
    "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=48M",
    "--innodb-flush-log-at-trx-commit=0", "--sync-binlog=0", "--innodb-doublewrite=0", "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci", "--event-scheduler=ON",
  ], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  let stopped = false;
  const server: MariadbServer = {
    port, socket, dir, pid: proc.pid,
    sql: (statements, database) => rootSql(socket, statements, database),
    stop() {
      if (stopped) return;
      stopped = true;
      started.delete(server);
      try { process.kill(proc.pid, "SIGKILL"); } catch { /* already gone */ }
      spawnSync("sh", ["-c", `while kill -0 ${proc.pid} 2>/dev/null; do sleep 0.05; done`], { timeout: 10_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  started.add(server);
  // For scripts not under `bun test`, whose preload stops the servers.
  process.on("exit", () => server.stop());
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) {
      const log = existsSync(join(dir, "error.log")) ? readFileSync(join(dir, "error.log"), "utf8") : "";
      server.stop();
      throw new Error(`mariadbd exited (${proc.exitCode}) while starting:\n${log.slice(-2000)}`);
    }
    if (existsSync(socket) && spawnSync(client!, ["--no-defaults", `--socket=${socket}`, "--user=root", "-e", "SELECT 1"]).status === 0) break;
    if (Date.now() > deadline) { server.stop(); throw new Error("mariadbd did not start within 60 s"); }
    await Bun.sleep(100);
  }
  const pw = ADMIN_PASSWORD.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
  server.sql(`CREATE USER '${ADMIN_USER}'@'127.0.0.1' IDENTIFIED BY '${pw}';
    GRANT ALL PRIVILEGES ON *.* TO '${ADMIN_USER}'@'127.0.0.1' WITH GRANT OPTION;`);
  return server;
}
