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
  /** The data directory (the server's @@datadir). */
  data: string;
  /**
   * Shell commands that stop the server (SIGTERM, as a service manager does) and
   * start it again as it was first started, in a session of its own: what a
   * physical restore's mysql_stop_cmd and mysql_start_cmd are on a real host.
   */
  stopCmd: string;
  startCmd: string;
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
export async function startMariadb(opts: { tls?: boolean; bufferPool?: string } = {}): Promise<MariadbServer> {
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
  const tls: string[] = [];
  if (opts.tls) {
    // A self-signed certificate: enough for an encrypted connection, and one that "verify" must refuse.
    const r = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=shield-test",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
    if (asRoot) spawnSync("chown", ["mysql:mysql", join(dir, "key.pem"), join(dir, "cert.pem")]);
    tls.push(`--ssl-cert=${join(dir, "cert.pem")}`, `--ssl-key=${join(dir, "key.pem")}`);
  }
  // Its bootstrap server has been seen to crash (SIGSEGV) now and then on this machine: tried twice.
  for (let attempt = 1; ; attempt++) {
    const install = spawnSync(installDb!, [
      "--no-defaults", `--datadir=${data}`, ...user, "--auth-root-authentication-method=normal", "--skip-test-db",
      "--skip-name-resolve",
    ], { encoding: "utf8" });
    if (install.status === 0) break;
    rmSync(data, { recursive: true, force: true });
    if (attempt === 2) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`mariadb-install-db failed (${install.status}): ${(install.stderr || install.stdout).slice(-2000)}`);
    }
  }
  const argv = [
    serverBin!, "--no-defaults", `--datadir=${data}`, `--socket=${socket}`, `--port=${port}`, "--bind-address=127.0.0.1",
    `--pid-file=${join(dir, "mariadb.pid")}`, `--log-error=${join(dir, "error.log")}`, ...user,
    `--innodb-buffer-pool-size=${opts.bufferPool ?? "64M"}`, "--innodb-log-file-size=48M",
    "--innodb-flush-log-at-trx-commit=0", "--sync-binlog=0", "--innodb-doublewrite=0", "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci", "--event-scheduler=ON", ...tls,
  ];
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  const pidFile = join(dir, "mariadb.pid");
  const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
  let stopped = false;
  const server: MariadbServer = {
    port, socket, dir, pid: proc.pid, data,
    stopCmd: `kill $(cat ${quote(pidFile)})`,
    startCmd: `setsid ${argv.map(quote).join(" ")} </dev/null >/dev/null 2>&1 &`,
    sql: (statements, database) => rootSql(socket, statements, database),
    stop() {
      if (stopped) return;
      stopped = true;
      started.delete(server);
      // The first process, and whichever its start command started since.
      const pids = new Set([proc.pid]);
      const now = Number(existsSync(pidFile) ? readFileSync(pidFile, "utf8").trim() : "");
      if (now > 0) pids.add(now);
      for (const pid of pids) {
        try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
        spawnSync("sh", ["-c", `while kill -0 ${pid} 2>/dev/null; do sleep 0.05; done`], { timeout: 10_000 });
      }
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

/** The databases the fixture fills. */
export const FIXTURE_DATABASES = ["crm", "shop"];

/**
 * Several databases, with what a logical dump must carry: BLOBs (every byte value,
 * and a few MB), utf8mb4 text with emoji, a view, a trigger, a procedure and a
 * function, an event, a MyISAM table, and accounts with grants at every level
 * (database, table, column, routine, a role).
 */
export function seedFixture(server: MariadbServer, opts: { documents?: number } = {}): void {
  const documents = opts.documents ?? 3000;
  server.sql(`
    CREATE DATABASE shop CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
    CREATE DATABASE crm CHARACTER SET utf8mb4;
    USE shop;
    CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, note TEXT,
      created DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), KEY by_name (name)) ENGINE=InnoDB;
    CREATE TABLE documents (id INT PRIMARY KEY, customer_id INT NOT NULL, content LONGBLOB NOT NULL,
      FOREIGN KEY (customer_id) REFERENCES customers (id)) ENGINE=InnoDB;
    CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(200)) ENGINE=InnoDB;
    INSERT INTO customers (name, note) SELECT CONCAT('customer ', seq), CONCAT('Grüße 🎉 ', seq, ' — ', REPEAT('日本', seq % 5), ' 🐬') FROM seq_1_to_1000;
    INSERT INTO documents SELECT seq, 1 + seq % 1000, UNHEX(REPEAT(SHA2(seq, 256), 32)) FROM seq_1_to_${documents};
    INSERT INTO documents SELECT 0, 1, UNHEX(GROUP_CONCAT(LPAD(HEX(seq), 2, '0') ORDER BY seq SEPARATOR '')) FROM seq_0_to_255;
    CREATE TRIGGER customers_audit AFTER INSERT ON customers FOR EACH ROW INSERT INTO audit (what) VALUES (CONCAT('new ', NEW.name));
    CREATE VIEW customer_docs AS SELECT c.id, c.name, COUNT(d.id) AS docs FROM customers c LEFT JOIN documents d ON d.customer_id = c.id GROUP BY c.id, c.name;
    CREATE PROCEDURE add_customer(IN n VARCHAR(100)) INSERT INTO customers (name) VALUES (n);
    CREATE FUNCTION doc_count(cid INT) RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM documents WHERE customer_id = cid);
    CREATE EVENT purge_audit ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit WHERE id < 0;
    CALL add_customer('Zoë 🦄');
    USE crm;
    CREATE TABLE contacts (id INT PRIMARY KEY, email VARCHAR(200) NOT NULL, photo MEDIUMBLOB) ENGINE=InnoDB;
    INSERT INTO contacts SELECT seq, CONCAT('c', seq, '@example.com'), IF(seq % 3 = 0, NULL, UNHEX(REPEAT(MD5(seq), 100))) FROM seq_1_to_500;
    CREATE TABLE legacy (k VARCHAR(20) PRIMARY KEY, v VARCHAR(200)) ENGINE=MyISAM;
    INSERT INTO legacy VALUES ('emoji', '😀😃😄'), ('quote', 'it''s "quoted" \\\\ back');
    CREATE USER 'app'@'%' IDENTIFIED BY 'app-password';
    GRANT SELECT, INSERT ON shop.* TO 'app'@'%';
    GRANT SELECT (id, email) ON crm.contacts TO 'app'@'%';
    GRANT EXECUTE ON PROCEDURE shop.add_customer TO 'app'@'%';
    CREATE ROLE reporting;
    GRANT SELECT ON shop.customer_docs TO reporting;
    GRANT reporting TO 'app'@'%';
    CREATE USER 'limited'@'127.0.0.1' IDENTIFIED BY 'limited-password';
    GRANT SELECT ON shop.* TO 'limited'@'127.0.0.1';
  `);
}

export type Fingerprint = Record<string, unknown>;

/** What must survive a round trip: rows and CHECKSUM TABLE of every table, views, routines, triggers, events, accounts. */
export function fingerprint(server: MariadbServer, databases: string[] = FIXTURE_DATABASES): Fingerprint {
  const inList = databases.map((d) => `'${d}'`).join(", ");
  const rows = (sql: string) => server.sql(sql).split("\n").filter(Boolean);
  const tables = rows(`SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (${inList}) AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1`);
  const counts = Object.fromEntries(tables.map((t) => [t, Number(server.sql(`SELECT COUNT(*) FROM ${t.split(".").map((p) => "`" + p + "`").join(".")}`).trim())]));
  const checksums = tables.length ? rows(`CHECKSUM TABLE ${tables.map((t) => t.split(".").map((p) => "`" + p + "`").join(".")).join(", ")}`) : [];
  const accounts = rows(`SELECT CONCAT(User, '@', Host) FROM mysql.user WHERE User IN ('app', 'limited', 'reporting') ORDER BY 1`);
  const grants = Object.fromEntries(accounts.map((a) => {
    const [user, host] = a.split("@");
    // A column grant lists its columns in no fixed order: "SELECT (`id`, `email`)" is "SELECT (`email`, `id`)".
    const sortColumns = (g: string) => g.replace(/\((`[^)]*`)\)/g, (_, cols: string) => `(${cols.split(", ").sort().join(", ")})`);
    return [a, rows(host ? `SHOW GRANTS FOR '${user}'@'${host}'` : `SHOW GRANTS FOR '${user}'`).map(sortColumns).sort()];
  }));
  return {
    databases: rows(`SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (${inList}) ORDER BY 1`),
    counts,
    checksums,
    views: rows(`SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA IN (${inList}) ORDER BY 1, 2`),
    routines: rows(`SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN (${inList}) ORDER BY 1, 2`),
    triggers: rows(`SELECT TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN (${inList}) ORDER BY 1, 2`),
    events: rows(`SELECT EVENT_SCHEMA, EVENT_NAME, STATUS, EVENT_DEFINITION FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN (${inList}) ORDER BY 1, 2`),
    grants,
  };
}
