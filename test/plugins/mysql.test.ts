// The mysql target against private MariaDB servers of the test harness, run as
// `shield plugin mysql ...` subprocesses and piped as a shell would:
// `shield plugin mysql backup | shield plugin mysql restore`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, readlinkSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  ADMIN_PASSWORD, ADMIN_USER, FIXTURE_DATABASES, fingerprint, mariadbAvailable, seedFixture, sharedMariadb, startMariadb,
  type MariadbServer,
} from "../helpers/mariadb.ts";
import { mergeAccountLine } from "../../plugins/mysql/stream.ts";
import { osPipe } from "../../src/agent/os-pipe.ts";

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");

function env(endpoint: object): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("MYSQL")) out[k] = v;
  return { ...out, SHIELD_ENDPOINT: JSON.stringify(endpoint) };
}

function spawnPlugin(action: string, endpoint: object, stdin: ReadableStream<Uint8Array> | Uint8Array | "ignore" | number = "ignore") {
  return Bun.spawn([process.execPath, MAIN, "plugin", "mysql", action], { cwd: ROOT, env: env(endpoint), stdin, stdout: "pipe", stderr: "pipe" });
}

interface Run { code: number; stdout: Buffer; stderr: string }

async function plugin(action: string, endpoint: object, stdin?: Uint8Array): Promise<Run> {
  const p = spawnPlugin(action, endpoint, stdin ?? "ignore");
  const [out, stderr, code] = await Promise.all([new Response(p.stdout).arrayBuffer(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout: Buffer.from(out), stderr };
}

/** `shield plugin mysql backup | shield plugin mysql restore`: both exits and both stderrs. */
async function pipe(from: object, to: object) {
  const b = spawnPlugin("backup", from);
  const r = spawnPlugin("restore", to, b.stdout);
  const [bErr, rErr, bCode, rCode] = await Promise.all([new Response(b.stderr).text(), new Response(r.stderr).text(), b.exited, r.exited]);
  return { backup: { code: bCode, stderr: bErr }, restore: { code: rCode, stderr: rErr } };
}

const endpointFor = (s: MariadbServer, extra: Record<string, unknown> = {}) => ({
  // As the original Shield's forms send it: every value a string.
  mysql_host: "127.0.0.1", mysql_port: String(s.port), mysql_user: ADMIN_USER, mysql_password: ADMIN_PASSWORD, ...extra,
});

describe("mysql plugin: validate (no server needed)", () => {
  const base = { mysql_user: "backup", mysql_password: "" };
  test("info lists every field, the original plugin's names first", async () => {
    const r = await plugin("info", {});
    const info = JSON.parse(r.stdout.toString());
    expect(info).toMatchObject({ name: "mysql", features: { target: "yes", store: "no" }, endpoint_from: "env" });
    expect(info.fields.map((f: any) => f.name)).toEqual([
      "mysql_host", "mysql_port", "mysql_user", "mysql_password", "mysql_database", "mysql_options", "mysql_read_replica",
      "mysql_bindir", "mysql_socket", "mysql_tls", "mysql_mode", "mysql_data_dir", "mysql_stop_cmd", "mysql_start_cmd", "mysql_timeout",
    ]);
  });
  test("accepts strings (ports too) and numeric ports; never prints the password", async () => {
    for (const port of ["3306", 3306]) {
      const r = await plugin("validate", { ...base, mysql_port: port, mysql_password: "hunter2" });
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toContain("mysql_port: 3306");
      expect(r.stdout.toString()).toContain("mysql_password: (set)");
      expect(r.stdout.toString() + r.stderr).not.toContain("hunter2");
    }
  });
  const cases: [string, Record<string, unknown>, number, string][] = [
    ["no user", { mysql_password: "x" }, 12, 'lacks "mysql_user"'],
    ["a bad port", { ...base, mysql_port: "33o6" }, 13, "mysql_port"],
    ["a port out of range", { ...base, mysql_port: 70000 }, 13, "mysql_port"],
    ["a non-string user", { mysql_user: ["root"] }, 13, "mysql_user"],
    ["physical mode without its data directory", { ...base, mysql_mode: "physical" }, 12, "mysql_data_dir"],
    ["physical mode for one database", { ...base, mysql_mode: "physical", mysql_data_dir: "/var/lib/mysql", mysql_database: "shop" }, 13, "whole server's data directory"],
    ["physical mode from a replica", { ...base, mysql_mode: "physical", mysql_data_dir: "/var/lib/mysql", mysql_read_replica: "r1" }, 13, "mysql_read_replica"],
    ["a relative data directory", { ...base, mysql_mode: "physical", mysql_data_dir: "var/lib/mysql" }, 13, "absolute"],
    ["a stop command in logical mode", { ...base, mysql_stop_cmd: "systemctl stop mariadb" }, 13, "only used with mysql_mode"],
    ["a bad physical timeout", { ...base, mysql_mode: "physical", mysql_data_dir: "/var/lib/mysql", mysql_timeout: "soon" }, 13, "mysql_timeout"],
    ["an unknown mode", { ...base, mysql_mode: "magic" }, 13, "mysql_mode"],
    ["an unknown TLS mode", { ...base, mysql_tls: "maybe" }, 13, "mysql_tls"],
    ["a relative socket", { ...base, mysql_socket: "run/mysqld.sock" }, 13, "absolute"],
    ["a socket with ..", { ...base, mysql_socket: "/run/../tmp/x.sock" }, 13, ".."],
    ["a bindir without the tools", { ...base, mysql_bindir: "/tmp" }, 13, "mysql_bindir"],
    ["a system schema", { ...base, mysql_database: "mysql" }, 13, "server's own schema"],
    ["-r in the options", { ...base, mysql_options: "--quick -r /etc/passwd" }, 13, "-r"],
    ["--result-file", { ...base, mysql_options: "--result-file=/tmp/x" }, 13, "--result-file"],
    ["--tab", { ...base, mysql_options: "--tab /tmp" }, 13, "--tab"],
    ["an abbreviation", { ...base, mysql_options: "--result=/tmp/x" }, 13, "--result"],
    ["an underscore spelling", { ...base, mysql_options: "--result_file=/tmp/x" }, 13, "--result-file"],
    ["a glued short option", { ...base, mysql_options: "-cqr/tmp/x" }, 13, "-r"],
    ["a connection option", { ...base, mysql_options: "--host=evil" }, 13, "--host"],
    ["an option file", { ...base, mysql_options: "--defaults-extra-file=/tmp/x" }, 13, "--defaults-extra-file"],
    ["--force", { ...base, mysql_options: "-f" }, 13, "failed dump look complete"],
    ["a database name", { ...base, mysql_options: "otherdb" }, 13, "otherdb"],
    ["--all-databases", { ...base, mysql_options: "--all-databases" }, 13, "--all-databases"],
  ];
  for (const [what, endpoint, code, words] of cases) {
    test(`refuses ${what} (exit ${code})`, async () => {
      const r = await plugin("validate", endpoint);
      expect(r.stderr).toContain(words);
      expect(r.code).toBe(code);
    });
  }
  test("accepts a trusted tools directory holding a dump tool and a client", async () => {
    const r = await plugin("validate", { ...base, mysql_bindir: "/usr/bin" });
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toContain("mysql_bindir: /usr/bin");
    expect(r.code).toBe(0);
  });
  test("accepts dump options that only choose what is dumped", async () => {
    const r = await plugin("validate", { ...base, mysql_options: "--skip-extended-insert --ignore-table=shop.audit -cq --where 'id > 3' --hex_blob=ON" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
  test("a physical archive (xbstream) given to a logical restore is refused before any server is reached", async () => {
    const xbstream = new Uint8Array(Buffer.concat([Buffer.from("XBSTCK01"), Buffer.alloc(4096, 7)]));
    const r = await plugin("restore", { ...base, mysql_port: "1", mysql_database: "shop" }, xbstream);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('restore it with mysql_mode "physical"');
  });
  test("a physical restore without its stop and start commands is refused (exit 12)", async () => {
    const r = await plugin("restore", { ...base, mysql_mode: "physical", mysql_data_dir: "/var/lib/mysql" }, new Uint8Array(Buffer.from("XBSTCK01")));
    expect(r.code).toBe(12);
    expect(r.stderr).toContain("mysql_stop_cmd");
  });
});

describe("mysql plugin: accounts of a whole-server restore", () => {
  test("accounts are added, not replaced; the server's own are left alone", () => {
    expect(mergeAccountLine("CREATE USER `app`@`%` IDENTIFIED BY PASSWORD '*AB';")).toBe("CREATE USER IF NOT EXISTS `app`@`%` IDENTIFIED BY PASSWORD '*AB';");
    expect(mergeAccountLine("GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*AB';")).toBe("GRANT USAGE ON *.* TO `app`@`%`;");
    expect(mergeAccountLine("GRANT ALL PRIVILEGES ON *.* TO `b`@`h` IDENTIFIED BY PASSWORD '*AB' WITH GRANT OPTION;")).toBe("GRANT ALL PRIVILEGES ON *.* TO `b`@`h` WITH GRANT OPTION;");
    expect(mergeAccountLine("GRANT USAGE ON *.* TO `e`@`%` IDENTIFIED VIA ed25519 USING 'xyz';")).toBe("GRANT USAGE ON *.* TO `e`@`%`;");
    expect(mergeAccountLine("GRANT PROXY ON ``@`%` TO `root`@`localhost` WITH GRANT OPTION;")).toStartWith("--");
    expect(mergeAccountLine("CREATE USER `mariadb.sys`@`localhost` ACCOUNT LOCK PASSWORD EXPIRE;")).toStartWith("--");
    expect(mergeAccountLine("/*M!100005 CREATE ROLE 'r' WITH ADMIN mariadb_dump_import_role */;")).toContain("CREATE OR REPLACE ROLE 'r'");
  });
});

describe.skipIf(!mariadbAvailable)("mysql plugin against a private MariaDB", () => {
  let src: MariadbServer;
  let before: ReturnType<typeof fingerprint>;
  const extra: MariadbServer[] = [];

  beforeAll(async () => {
    src = await sharedMariadb();
    seedFixture(src);
    before = fingerprint(src);
  });
  afterAll(() => { for (const s of extra) s.stop(); });
  const fresh = async () => { const s = await startMariadb(); extra.push(s); return s; };

  test("test connects and reports the server version and the privileges a dump needs", async () => {
    const r = await plugin("test", endpointFor(src, { mysql_database: "shop" }));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = r.stdout.toString();
    expect(out).toContain(`as ${ADMIN_USER}@127.0.0.1: server 10.`);
    expect(out).toContain("MariaDB");
    for (const p of ["SELECT", "SHOW VIEW", "TRIGGER", "EVENT", "LOCK TABLES", "RELOAD"]) expect(out).toContain(`privilege ${p}: yes`);
    expect(out).toContain('database "shop" exists');
  });

  test("test fails for a user lacking what a dump needs, naming the privileges", async () => {
    const r = await plugin("test", { ...endpointFor(src), mysql_user: "limited", mysql_password: "limited-password", mysql_database: "shop" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("privilege SELECT: yes");
    expect(r.stderr).toContain("lacks SHOW VIEW, TRIGGER, EVENT");
  });

  test("connects through mysql_socket, with an empty password (the original plugin's forms send the key)", async () => {
    const r = await plugin("test", { mysql_socket: src.socket, mysql_user: "root", mysql_password: "" });
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toContain(`connected to root@${src.socket} as root@localhost`);
    expect(r.code).toBe(0);
  });

  test("mysql_tls: on encrypts the connection; verify refuses a certificate nobody vouches for; off does not encrypt", async () => {
    const tlsServer = await startMariadb({ tls: true });
    extra.push(tlsServer);
    const on = await plugin("test", endpointFor(tlsServer, { mysql_tls: "on" }));
    expect(on.stderr).toBe("");
    expect(on.stdout.toString()).toMatch(/tls: yes \(TLS/);
    expect(on.code).toBe(0);
    const off = await plugin("test", endpointFor(tlsServer, { mysql_tls: "off" }));
    expect(off.stdout.toString()).toContain("tls: no");
    const verify = await plugin("test", endpointFor(tlsServer, { mysql_tls: "verify" }));
    expect(verify.code).not.toBe(0);
    expect(verify.stderr).toMatch(/TLS\/SSL error: self-signed certificate|certificate verify failed/);
    // A backup over TLS works as well.
    const b = await plugin("backup", endpointFor(tlsServer, { mysql_tls: "on" }));
    expect(b.code).toBe(0);
  });

  test("mysql_read_replica: backups read from the replica, restores go to mysql_host", async () => {
    // The primary here is an address nothing listens on: only the replica can answer.
    const ep = { ...endpointFor(src), mysql_host: "127.0.0.2", mysql_read_replica: "127.0.0.1", mysql_database: "crm" };
    const b = await plugin("backup", ep);
    expect(b.stderr).toContain(`dumping database "crm" of ${ADMIN_USER}@127.0.0.1:${src.port}`);
    expect(b.code).toBe(0);
    const r = await plugin("restore", ep, b.stdout);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("127.0.0.2");
  });

  test("a whole server restores onto a new, empty server: rows, checksums, routines, events and grants match", async () => {
    const dst = await fresh();
    const r = await pipe(endpointFor(src), endpointFor(dst));
    expect(r.backup.stderr).toContain("every database");
    expect(r.backup.stderr).toContain("with accounts and grants");
    expect(r.restore.stderr).not.toContain("ERROR");
    expect([r.backup.code, r.restore.code]).toEqual([0, 0]);
    expect(fingerprint(dst)).toEqual(before);
    // The restored account works with its own password.
    expect(Bun.spawnSync(["mariadb", "--no-defaults", "-h127.0.0.1", `-P${dst.port}`, "-uapp", "-papp-password", "-N", "-e", "SELECT COUNT(*) FROM shop.customers"]).stdout.toString().trim()).toBe("1001");
    // Restoring again over it is fine (accounts and roles exist by then) and changes nothing.
    const again = await pipe(endpointFor(src), endpointFor(dst));
    expect(again.restore.stderr).not.toContain("ERROR");
    expect(again.restore.code).toBe(0);
    expect(fingerprint(dst)).toEqual(before);
  });

  test("one database restores under another name, created when absent", async () => {
    const r = await pipe(endpointFor(src, { mysql_database: "shop" }), endpointFor(src, { mysql_database: "shop_copy" }));
    expect([r.backup.code, r.restore.code]).toEqual([0, 0]);
    expect(r.restore.stderr).toContain('created database "shop_copy"');
    const copy = fingerprint(src, ["shop_copy"]) as any;
    const orig = before as any;
    expect(Object.values(copy.counts)).toEqual(Object.entries(orig.counts).filter(([t]) => t.startsWith("shop.")).map(([, n]) => n));
    expect(copy.checksums.map((c: string) => c.split("\t")[1])).toEqual(orig.checksums.filter((c: string) => c.startsWith("shop.")).map((c: string) => c.split("\t")[1]));
    expect(copy.routines.map((x: string) => x.replace(/^shop_copy\t/, ""))).toEqual(orig.routines.map((x: string) => x.replace(/^shop\t/, "")));
    expect(copy.events).toHaveLength(1);
    expect(copy.triggers).toHaveLength(1);
    // The source database is untouched.
    expect(fingerprint(src)).toEqual(before);
  });

  test("a one-database archive on a pipe: the client reads the plugin's own stdin itself, no byte crosses the plugin", async () => {
    const archive = await plugin("backup", endpointFor(src, { mysql_database: "shop" }));
    expect(archive.code).toBe(0);
    const input = osPipe();
    try {
      const p = spawnPlugin("restore", endpointFor(src, { mysql_database: "shop_fd0" }), input.read);
      const stderr = new Response(p.stderr).text();
      // The header and a little more: the plugin sees the header where it is and starts the client.
      writeSync(input.write, archive.stdout.subarray(0, 4096));
      const client = async () => {
        for (let i = 0; i < 400; i++) {
          const kid = readdirSync("/proc").filter((x) => /^\d+$/.test(x)).find((x) => {
            try {
              // The restoring client (`... -- shop_fd0`), not the query that creates the database (`-e SQL`).
              const argv = readFileSync(`/proc/${x}/cmdline`, "utf8").split("\0");
              return readFileSync(`/proc/${x}/stat`, "utf8").split(") ")[1]!.split(" ")[1] === String(p.pid)
                && argv.includes("shop_fd0") && !argv.includes("-e");
            } catch { return false; }
          });
          if (kid) return kid;
          await Bun.sleep(25);
        }
        throw new Error(`the client never started: ${await stderr}`);
      };
      const kid = await client();
      // The very pipe the plugin was given, not one of the plugin's own.
      expect(readlinkSync(`/proc/${kid}/fd/0`)).toBe(readlinkSync(`/proc/${p.pid}/fd/0`));
      writeSync(input.write, archive.stdout.subarray(4096));
      input.closeWrite();
      expect(await p.exited).toBe(0);
      expect(await stderr).toContain('restoring database "shop_fd0"');
      const copy = fingerprint(src, ["shop_fd0"]) as any;
      expect(Object.values(copy.counts)).toEqual(Object.entries((before as any).counts).filter(([t]) => t.startsWith("shop.")).map(([, n]) => n));
    } finally {
      input.close();
    }
  });

  test("one database out of a whole-server archive: only it, and no accounts", async () => {
    const dst = await fresh();
    const archive = await plugin("backup", endpointFor(src));
    expect(archive.code).toBe(0);
    const r = await plugin("restore", endpointFor(dst, { mysql_database: "crm" }), archive.stdout);
    expect(r.stderr).toContain("out of a whole-server archive");
    expect(r.code).toBe(0);
    const got = fingerprint(dst) as any;
    expect(got.databases).toEqual(["crm\tutf8mb4"]);
    expect(got.counts).toEqual({ "crm.contacts": 500, "crm.legacy": 2 });
    expect(got.checksums).toEqual((before as any).checksums.filter((c: string) => c.startsWith("crm.")));
    expect(got.grants).toEqual({});
    // A database the archive does not hold is refused, naming those it holds.
    const none = await plugin("restore", endpointFor(dst, { mysql_database: "nope" }), archive.stdout);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain("holds the databases crm, shop");
    expect(none.stderr).toContain('not "nope"');
    // A one-database archive needs a database to go into.
    const one = await plugin("backup", endpointFor(src, { mysql_database: "crm" }));
    const whole = await plugin("restore", endpointFor(dst), one.stdout);
    expect(whole.code).not.toBe(0);
    expect(whole.stderr).toContain('holds one database ("crm"): set mysql_database');
  });

  test("a failed restore reports the server's error with its line", async () => {
    const sql = "CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\nINSRT INTO t VALUES (2);\nINSERT INTO t VALUES (3);\n";
    const r = await plugin("restore", endpointFor(src, { mysql_database: "broken" }), new TextEncoder().encode(sql));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("ERROR 1064 (42000) at line 3");
    // What it leaves: the statements before the failing one (README, "What a failed restore leaves").
    expect(src.sql("SELECT COUNT(*) FROM broken.t").trim()).toBe("1");
    const empty = await plugin("restore", endpointFor(src, { mysql_database: "broken" }), new Uint8Array());
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain("nothing to restore");
  });

  test("a wrong password fails the backup with the server's words and writes no data", async () => {
    const r = await plugin("backup", { ...endpointFor(src), mysql_password: "wrong" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Access denied for user");
    expect(r.stdout.byteLength).toBe(0);
  });

  test("an unknown database fails the backup with the server's words", async () => {
    const r = await plugin("backup", endpointFor(src, { mysql_database: "no_such_db" }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Unknown database 'no_such_db'");
  });

  test("dump options choose what is dumped", async () => {
    const r = await plugin("backup", endpointFor(src, { mysql_database: "shop", mysql_options: "--ignore-table=shop.documents --skip-extended-insert" }));
    expect(r.code).toBe(0);
    const text = r.stdout.toString();
    expect(text).not.toContain("CREATE TABLE `documents`");
    expect(text).toContain("INSERT INTO `customers` VALUES (1,");
  });

  test("the password is in no process's arguments or environment during a backup", async () => {
    const secret = "pw-never-in-argv-" + process.pid;
    src.sql(`CREATE USER 'watched'@'127.0.0.1' IDENTIFIED BY '${secret}'; GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON *.* TO 'watched'@'127.0.0.1';`);
    const b = spawnPlugin("backup", { ...endpointFor(src), mysql_user: "watched", mysql_password: secret, mysql_database: "shop" });
    const pluginCmdline = [process.execPath, MAIN, "plugin", "mysql", "backup"].join("\0");
    const seen: string[] = [];
    let dumpSeen = false;
    const deadline = Date.now() + 20_000;
    // Every process is looked at, again and again, until the backup ends (the client's
    // query and the dump both).
    while (b.exitCode === null && Date.now() < deadline) {
      for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
        let cmdline = "";
        let environ = "";
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, "latin1");
          environ = readFileSync(`/proc/${pid}/environ`, "latin1");
        } catch { continue; }
        if (/mariadb-dump|mysqldump/.test(cmdline.split("\0")[0] ?? "")) dumpSeen = true;
        if (cmdline.includes(secret)) seen.push(`cmdline of ${pid}: ${cmdline.replace(/\0/g, " ")}`);
        // The plugin itself gets the endpoint in its environment (SHIELD_ENDPOINT); no tool
        // may. (A child caught between fork and exec still shows the plugin's own command
        // line and environment: that is the plugin's memory, not a tool's.)
        // An empty command line is a process mid-exec or exiting (seen once in a CI run): not a tool's.
        if (environ.includes(secret) && cmdline !== "" && !cmdline.startsWith(pluginCmdline)) seen.push(`environ of ${pid}: ${cmdline.replace(/\0/g, " ")}`);
      }
      await Bun.sleep(1);
    }
    const [out, err, code] = await Promise.all([new Response(b.stdout).arrayBuffer(), new Response(b.stderr).text(), b.exited]);
    expect(dumpSeen).toBe(true);
    expect(seen).toEqual([]);
    expect(err).not.toContain(secret);
    expect(code).toBe(0);
    expect(out.byteLength).toBeGreaterThan(1_000_000);
  });

  test("a server that goes away mid-dump fails the backup with the server's words", async () => {
    const doomed = await fresh();
    seedFixture(doomed, { documents: 20000 });
    const b = spawnPlugin("backup", endpointFor(doomed));
    // Wait until the dump runs (blocked on our unread stdout), then kill the server.
    const deadline = Date.now() + 20_000;
    let running = false;
    while (!running && Date.now() < deadline) {
      running = Bun.spawnSync(["pgrep", "-P", String(b.pid), "-f", "mariadb-dump|mysqldump"]).exitCode === 0;
      if (!running) await Bun.sleep(20);
    }
    expect(running).toBe(true);
    process.kill(doomed.pid, "SIGKILL");
    const [, err, code] = await Promise.all([new Response(b.stdout).arrayBuffer(), new Response(b.stderr).text(), b.exited]);
    expect(code).not.toBe(0);
    // Whichever tool held the connection when the server died (the dump, or the client the
    // plugin asks between dumps) names itself.
    expect(err).toMatch(/(mariadb-dump|mysqldump|mariadb|mysql) failed/);
    // The dump's own words when it had any ("Lost connection to server during query"), and the server's state after.
    expect(err).toMatch(/Lost connection to (MySQL |MariaDB )?server|[Ss]erver has gone away|Can't connect to (MySQL |MariaDB )?server/);
  });
});

describe.skipIf(!mariadbAvailable)("mysql plugin: the drill's verify and clean", () => {
  test("verify reports each table's row count and CHECKSUM TABLE; a restored copy reports the same; clean empties it", async () => {
    const src = await sharedMariadb();
    src.sql(`CREATE DATABASE drill_src; USE drill_src; CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
      INSERT INTO a VALUES (1, 'x'), (2, 'y'), (3, 'z'); CREATE TABLE b (id INT) ENGINE=InnoDB;`);
    const before = await plugin("verify", endpointFor(src, { mysql_database: "drill_src" }));
    expect(before.stderr).toBe("");
    const v = JSON.parse(before.stdout.toString());
    expect(v.figures.tables).toEqual({ a: 3, b: 0 });
    expect(v.figures.checksums.a).toMatch(/^\d+$/);
    expect(v.summary).toContain("2 tables, 3 rows");
    const dumped = await plugin("backup", endpointFor(src, { mysql_database: "drill_src" }));
    expect(dumped.code).toBe(0);
    const restored = await plugin("restore", endpointFor(src, { mysql_database: "drill_scratch" }), dumped.stdout);
    expect(restored.code).toBe(0);
    const after = JSON.parse((await plugin("verify", endpointFor(src, { mysql_database: "drill_scratch" }))).stdout.toString());
    expect(after.figures.tables).toEqual(v.figures.tables);
    expect(after.figures.checksums).toEqual(v.figures.checksums);
    const cleaned = await plugin("clean", endpointFor(src, { mysql_database: "drill_scratch" }));
    expect(cleaned.code).toBe(0);
    expect(JSON.parse((await plugin("verify", endpointFor(src, { mysql_database: "drill_scratch" }))).stdout.toString()).figures.table_count).toBe(0);
    // The server's own schemas are never a scratch database (validate refuses them before clean could).
    const refused = await plugin("clean", endpointFor(src, { mysql_database: "mysql" }));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("server's own schema");
  });
});
