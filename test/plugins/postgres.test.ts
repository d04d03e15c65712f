// The postgres target against the private PostgreSQL of the test harness, run as
// `shield plugin postgres ...` subprocesses (and once through the compiled binary,
// piped into the fs store, as the design's shell example does).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, write, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import postgres from "postgres";
import { ensureBinary } from "../helpers/daemon.ts";
import { freshDatabase, pgAvailable, startCluster, startPostgres, type PgServer } from "../helpers/postgres.ts";
import { freePort } from "../helpers/services.ts";
import { descendants } from "../helpers/processes.ts";
import { osPipe } from "../../src/agent/os-pipe.ts";
import { splitWords } from "../../plugins/postgres/index.ts";

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");

interface Run { code: number; stdout: Buffer; stderr: string }

function env(extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("PG")) out[k] = v;
  return { ...out, ...extra };
}

function spawnPg(action: string, endpoint: object, stdin: Uint8Array | "ignore" = "ignore", extraEnv: Record<string, string> = {}) {
  return Bun.spawn([process.execPath, MAIN, "plugin", "postgres", action], {
    cwd: ROOT, env: env({ SHIELD_ENDPOINT: JSON.stringify(endpoint), ...extraEnv }), stdin, stdout: "pipe", stderr: "pipe",
  });
}

async function pgPluginEnv(action: string, endpoint: object, extraEnv: Record<string, string>, stdin?: Uint8Array): Promise<Run> {
  const proc = spawnPg(action, endpoint, stdin ?? "ignore", extraEnv);
  const [out, stderr, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout: Buffer.from(out), stderr };
}

const pgPlugin = (action: string, endpoint: object, stdin?: Uint8Array) => pgPluginEnv(action, endpoint, {}, stdin);

const dbName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

let pg: PgServer;
function endpoint(database: string | undefined, extra: Record<string, unknown> = {}) {
  return { pg_host: "127.0.0.1", pg_port: pg.port, pg_user: "postgres", ...(database ? { pg_database: database } : {}), pg_bindir: pg.bindir, ...extra };
}

function sql(database: string, port = pg.port) {
  return postgres({ host: "127.0.0.1", port, user: "postgres", database, max: 1, onnotice: () => {} });
}

/** Several tables, indexes, a sequence, bytea (binary and ~3 MB of it). */
async function seed(database: string): Promise<void> {
  const db = sql(database);
  try {
    await db.unsafe(`
      CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, created timestamptz NOT NULL DEFAULT now());
      CREATE INDEX customers_name ON customers (name);
      CREATE TABLE documents (id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES customers (id), content bytea NOT NULL, note text);
      CREATE INDEX documents_customer ON documents (customer_id);
      CREATE TABLE audit_log (at timestamptz DEFAULT now(), line text);
      INSERT INTO customers (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 1000) g;
      INSERT INTO documents SELECT g, 1 + g % 1000, decode(repeat(md5(random()::text), 64), 'hex'), 'doc ' || g FROM generate_series(1, 3000) g;
      INSERT INTO documents VALUES (0, 1, (SELECT decode(string_agg(lpad(to_hex(b), 2, '0'), ''), 'hex') FROM generate_series(0, 255) b), 'every byte, NUL included');
      INSERT INTO audit_log (line) SELECT 'line ' || g FROM generate_series(1, 100) g;
    `);
  } finally {
    await db.end();
  }
}

type Fingerprint = Record<string, string | number | null>;

/** What must survive a round trip: every row, the indexes, the sequence. */
async function fingerprint(database: string, port = pg.port): Promise<Fingerprint> {
  const db = sql(database, port);
  try {
    const [row] = await db.unsafe(`SELECT
      (SELECT count(*) FROM customers)::int AS customers,
      (SELECT count(*) FROM documents)::int AS documents,
      (SELECT md5(string_agg(id || name || coalesce(email, '') || created, ',' ORDER BY id)) FROM customers) AS customers_md5,
      (SELECT md5(string_agg(id || ':' || customer_id || ':' || encode(content, 'hex') || coalesce(note, ''), ',' ORDER BY id)) FROM documents) AS documents_md5,
      (SELECT sum(length(content))::int FROM documents) AS bytea_bytes,
      (SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public') AS indexes,
      (SELECT last_value FROM customers_id_seq)::int AS sequence,
      (SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public') AS tables`);
    return row as Fingerprint;
  } finally {
    await db.end();
  }
}

describe.skipIf(!pgAvailable)("postgres target", () => {
  let source: string;
  let original: Fingerprint;
  let dump: Buffer;

  beforeAll(async () => {
    pg = await startPostgres();
    source = dbName(await freshDatabase("plugpg"));
    await seed(source);
    original = await fingerprint(source);
    expect(Number(original.bytea_bytes)).toBeGreaterThan(3_000_000);
  }, 60_000);

  test("validate checks keys and types only, and never connects", async () => {
    const unreachable = await pgPlugin("validate", { pg_host: "db.invalid", pg_port: "5432", pg_user: "app", pg_password: 12345, pg_database: "x" });
    expect(unreachable.code).toBe(0);
    expect(unreachable.stdout.toString()).toContain("pg_password: (set)");
    expect(unreachable.stdout.toString()).not.toContain("12345");
    expect((await pgPlugin("validate", { pg_host: "h" })).code).toBe(12);
    expect((await pgPlugin("validate", { pg_user: "u", pg_port: 70000 })).code).toBe(13);
    expect((await pgPlugin("validate", { pg_user: "u", pg_bindir: "usr/bin" })).code).toBe(13);
    const quote = await pgPlugin("validate", { pg_user: "u", pg_options: "--exclude-table='unterminated" });
    expect(quote.code).toBe(13);
    expect(quote.stderr.trim()).toBe(`postgres: endpoint "pg_options" has an unterminated quote`);
    expect((await pgPlugin("validate", { pg_user: "u", pg_database: ["a"] })).code).toBe(13);
  });

  test("pg_options split like a shell", () => {
    expect(splitWords(`--exclude-table=a  -T "b c" --x='d e' f\\ g`, "o")).toEqual(["--exclude-table=a", "-T", "b c", "--x=d e", "f g"]);
    expect(splitWords("", "o")).toEqual([]);
  });

  test("test connects", async () => {
    const r = await pgPlugin("test", endpoint(source));
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toContain(`ok: connected to postgres@127.0.0.1:${pg.port}, database "${source}" as postgres on PostgreSQL`);
  });

  test("backup is pg_dump's custom format on stdout, diagnostics on stderr", async () => {
    const r = await pgPlugin("backup", endpoint(source));
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(r.stdout.subarray(0, 5).toString()).toBe("PGDMP");
    dump = r.stdout;
  });

  test("restore into a database that does not exist creates it; restoring again replaces, not duplicates", async () => {
    const copy = `${source}_copy`;
    const first = await pgPlugin("restore", endpoint(copy), dump);
    expect(first.stderr).toContain(`created database "${copy}"`);
    expect(first.code).toBe(0);
    expect(await fingerprint(copy)).toEqual(original);
    const again = await pgPlugin("restore", endpoint(copy), dump);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain("created database");
    expect(await fingerprint(copy)).toEqual(original);
  });

  test("restore in place puts back rows, indexes and tables that were changed", async () => {
    const db = sql(source);
    await db.unsafe(`DELETE FROM documents WHERE id > 100; UPDATE customers SET name = 'x'; DROP INDEX customers_name; DROP TABLE audit_log; CREATE TABLE extra (x int)`);
    await db.end();
    expect(await fingerprint(source)).not.toEqual(original);
    const r = await pgPlugin("restore", endpoint(source), dump);
    expect(r.code).toBe(0);
    const after = await fingerprint(source);
    // --clean drops what the dump holds; a table the dump never knew stays.
    expect({ ...after, tables: original.tables } as Fingerprint).toEqual(original);
    expect(after.tables).toBe(`${original.tables},extra`.split(",").sort().join(","));
    const cleanup = sql(source);
    await cleanup.unsafe(`DROP TABLE extra`);
    await cleanup.end();
  });

  test("pg_options reach pg_dump; pg_port may be a string", async () => {
    const r = await pgPlugin("backup", endpoint(source, { pg_port: String(pg.port), pg_options: "--exclude-table=audit_log" }));
    expect(r.code).toBe(0);
    const copy = `${source}_noaudit`;
    expect((await pgPlugin("restore", endpoint(copy), r.stdout)).code).toBe(0);
    const fp = await fingerprint(copy);
    expect(fp.tables).toBe("customers,documents");
    expect(fp.documents_md5).toBe(original.documents_md5);
  });

  test("pg_options cannot make pg_dump write a file: refused (13) before pg_dump runs, and no file appears", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shield-pg-out-"));
    try {
      const target = join(dir, "anywhere.sql");
      const r = await pgPlugin("backup", endpoint(source, { pg_options: `--format=plain --file=${target}` }));
      expect(r.code).toBe(13);
      expect(r.stdout.byteLength).toBe(0);
      expect(r.stderr.trim()).toContain(`postgres: endpoint "pg_options" may not hold --format for pg_dump`);
      const glued = await pgPlugin("backup", endpoint(source, { pg_options: `-Of${target}` }));
      expect(glued.code).toBe(13);
      expect(glued.stderr).toContain("may not hold -f for pg_dump");
      const cluster = await pgPlugin("backup", endpoint(undefined, { pg_options: `--file ${target}` }));
      expect(cluster.code).toBe(13);
      expect(cluster.stderr).toContain("may not hold --file for pg_dumpall");
      expect(existsSync(target)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("database names with quotes and spaces", async () => {
    const weird = `we'ird "db" name ${process.pid}`;
    const admin = sql("postgres");
    await admin.unsafe(`CREATE DATABASE "${weird.replace(/"/g, '""')}"`);
    await admin.end();
    const db = sql(weird);
    await db.unsafe(`CREATE TABLE t (v text); INSERT INTO t VALUES ('hello')`);
    await db.end();
    const b = await pgPlugin("backup", endpoint(weird));
    expect(b.code).toBe(0);
    const target = `${weird} (copy)`;
    const r = await pgPlugin("restore", endpoint(target), b.stdout);
    expect(r.code).toBe(0);
    const check = sql(target);
    expect((await check.unsafe(`SELECT v FROM t`)).map((row) => row.v)).toEqual(["hello"]);
    await check.end();
  });

  test("a dump of the wrong kind, garbage, or nothing is refused before anything is touched", async () => {
    const full = await pgPlugin("restore", endpoint(undefined), dump);
    expect(full.code).toBe(4);
    expect(full.stderr.trim()).toBe("postgres: this is a single-database dump (pg_dump): set pg_database to the database to restore it into");
    const plain = await pgPlugin("restore", endpoint(`${source}_never`), Buffer.from("--\n-- PostgreSQL database cluster dump\n"));
    expect(plain.code).toBe(4);
    expect(plain.stderr).toContain("this is a full-cluster dump (pg_dumpall)");
    const garbage = await pgPlugin("restore", endpoint(`${source}_never`), Buffer.from("\x00\x01garbage"));
    expect(garbage.code).toBe(4);
    expect(garbage.stderr).toContain("not a PostgreSQL dump");
    const empty = await pgPlugin("restore", endpoint(`${source}_never`), new Uint8Array(0));
    expect(empty.code).toBe(4);
    const admin = sql("postgres");
    expect(await admin.unsafe(`SELECT 1 FROM pg_database WHERE datname = $1`, [`${source}_never`])).toHaveLength(0);
    await admin.end();
  });

  test("a truncated dump fails the restore", async () => {
    const r = await pgPlugin("restore", endpoint(`${source}_cut`), dump.subarray(0, dump.byteLength >> 1));
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split("\n").pop()).toBe("postgres: pg_restore failed (exit 1)");
  });

  test("an unreachable server: exit 3 and pg_dump's words", async () => {
    const r = await pgPlugin("backup", endpoint(source, { pg_port: await freePort() }));
    expect(r.code).toBe(3);
    expect(r.stdout.byteLength).toBe(0);
    expect(r.stderr).toContain("Connection refused");
    expect(r.stderr.trim().split("\n").pop()).toBe("postgres: pg_dump failed (exit 1)");
  });

  describe("a producer that fails mid-stream fails the backup", () => {
    let fake: string;
    beforeAll(() => {
      fake = mkdtempSync(join(tmpdir(), "shield-fake-pg-"));
    });
    afterAll(() => rmSync(fake, { recursive: true, force: true }));

    test("non-zero exit after some data → exit 3", async () => {
      writeFileSync(join(fake, "pg_dump"), "#!/bin/sh\nprintf PGDMP\nhead -c 65536 /dev/urandom\necho 'pg_dump: error: query failed: server closed the connection' >&2\nexit 1\n", { mode: 0o755 });
      const r = await pgPlugin("backup", endpoint(source, { pg_bindir: fake }));
      expect(r.code).toBe(3);
      expect(r.stdout.byteLength).toBe(65541);
      expect(r.stderr).toContain("server closed the connection");
    });

    test("killed by a signal after some data → exit 3", async () => {
      writeFileSync(join(fake, "pg_dumpall"), "#!/bin/sh\nhead -c 4096 /dev/zero\nkill -9 $$\n", { mode: 0o755 });
      const r = await pgPlugin("backup", endpoint(undefined, { pg_bindir: fake }));
      expect(r.code).toBe(3);
      expect(r.stderr.trim().split("\n").pop()).toBe("postgres: pg_dumpall was killed by SIGKILL");
    });

    test("SIGTERM to the plugin stops its pg_dump too, at once", async () => {
      const pidFile = join(fake, "pid");
      writeFileSync(join(fake, "pg_dump"), `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 30\n`, { mode: 0o755 });
      const proc = spawnPg("backup", endpoint(source, { pg_bindir: fake }));
      for (let i = 0; i < 200 && !existsSync(pidFile); i++) await Bun.sleep(10);
      await Bun.sleep(50);
      const pid = Number(readFileSync(pidFile, "utf8"));
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(143);
      // Gone by the time the plugin has exited: it waits for its children.
      expect(existsSync(`/proc/${pid}`)).toBe(false);
    });

    test("a missing tool directory → 13, before anything runs", async () => {
      const r = await pgPlugin("backup", endpoint(source, { pg_bindir: join(fake, "nope") }));
      expect(r.code).toBe(13);
      expect(r.stderr.trim().split("\n").pop()).toBe(`postgres: endpoint "pg_bindir" ${join(fake, "nope")} is not an existing directory`);
    });
  });

  describe("with a password", () => {
    const role = `shield_pw_${process.pid}`;
    const password = `Right-${crypto.randomUUID()}`;
    let hbaFile: string;
    let hbaBefore: string;

    beforeAll(async () => {
      const admin = sql("postgres");
      try {
        await admin.unsafe(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${password}'`);
        // The harness trusts every local connection; this role alone must give its password.
        hbaFile = (await admin.unsafe(`SHOW hba_file`))[0]!.hba_file;
        hbaBefore = readFileSync(hbaFile, "utf8");
        writeFileSync(hbaFile, `host all ${role} 127.0.0.1/32 md5\n${hbaBefore}`);
        await admin.unsafe(`SELECT pg_reload_conf()`);
      } finally {
        await admin.end();
      }
      // The reload is asynchronous: wait until a wrong password is refused.
      for (let i = 0; i < 100; i++) {
        const probe = postgres({ host: "127.0.0.1", port: pg.port, user: role, password: "wrong", database: "postgres", max: 1, onnotice: () => {} });
        const refused = await probe.unsafe("SELECT 1").then(() => false, () => true);
        await probe.end();
        if (refused) break;
        await Bun.sleep(50);
      }
    }, 30_000);

    afterAll(async () => {
      if (hbaBefore !== undefined) writeFileSync(hbaFile, hbaBefore);
      const admin = sql("postgres");
      await admin.unsafe(`SELECT pg_reload_conf()`);
      await admin.unsafe(`DROP DATABASE IF EXISTS "${source}_pw"`);
      await admin.unsafe(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }, 30_000);

    test("a wrong password: non-zero exit, a clear message, and no password on stderr", async () => {
      const wrong = `Wrong-${crypto.randomUUID()}`;
      for (const action of ["backup", "test"]) {
        const r = await pgPlugin(action, endpoint(source, { pg_user: role, pg_password: wrong }));
        expect(r.code).toBe(3);
        expect(r.stdout.byteLength).toBe(0);
        expect(r.stderr).toContain(`password authentication failed for user "${role}"`);
        expect(r.stderr).not.toContain(wrong);
        expect(r.stderr).not.toContain(password);
      }
    });

    test("the password reaches the tools in their environment only, never in an argument (ps)", async () => {
      // Wrappers around the real tools record how they were called, and linger so that ps sees them.
      const spy = mkdtempSync(join(tmpdir(), "shield-spy-pg-"));
      const log = join(spy, "calls.log");
      for (const tool of ["pg_dump", "pg_restore", "psql", "pg_dumpall"]) {
        writeFileSync(join(spy, tool), `#!/bin/sh
echo "$0 $*" >> '${log}'
[ -n "$PGPASSWORD" ] && echo "PGPASSWORD given to ${tool}" >> '${log}'
sleep 0.3
exec '${pg.bindir}/${tool}' "$@"
`, { mode: 0o755 });
      }
      const ep = (db: string) => endpoint(db, { pg_user: role, pg_password: password, pg_bindir: spy });
      const seen: string[] = [];
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          const ps = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" });
          seen.push(...ps.stdout.split("\n").filter((l) => l.includes("pg_dump") || l.includes("pg_restore") || l.includes("psql") || l.includes("plugin postgres")));
          await Bun.sleep(25);
        }
      })();
      const b = await pgPlugin("backup", ep(source));
      const r = await pgPlugin("restore", ep(`${source}_pw`), b.stdout);
      watching = false;
      await watcher;
      expect(b.code).toBe(0);
      expect(r.code).toBe(0);
      expect(await fingerprint(`${source}_pw`)).toEqual(original);

      const calls = readFileSync(log, "utf8");
      expect(calls).toContain("PGPASSWORD given to pg_dump");
      expect(calls).toContain("PGPASSWORD given to pg_restore");
      expect(calls).not.toContain(password);
      expect(seen.some((l) => l.includes("pg_dump"))).toBe(true);
      expect(seen.some((l) => l.includes("pg_restore"))).toBe(true);
      expect(seen.filter((l) => l.includes(password))).toEqual([]);
      expect(b.stderr + r.stderr).not.toContain(password);
      rmSync(spy, { recursive: true, force: true });
    }, 30_000);
  });

  describe("the whole cluster (pg_database empty)", () => {
    const role = `shield_cluster_role_${process.pid}`;
    let other: { port: number; stop(): void } | undefined;

    beforeAll(async () => {
      const admin = sql("postgres");
      await admin.unsafe(`CREATE ROLE ${role} NOLOGIN`);
      await admin.end();
      // A second, empty cluster to restore into: the shared one holds other tests' databases.
      other = await startCluster();
    }, 60_000);

    afterAll(async () => {
      other?.stop();
      const admin = sql("postgres");
      await admin.unsafe(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }, 60_000);

    /** The cluster's dump by the plugin, without other test files' databases (through pg_options): they only make it slow. */
    const clusterDump = async () => {
      const admin = sql("postgres");
      const others = (await admin.unsafe(`SELECT datname FROM pg_database WHERE datname ~ '^[a-z0-9_]+$' AND datname NOT IN ('postgres', 'template0', 'template1', $1)`, [source])).map((r) => r.datname as string);
      await admin.end();
      const b = await pgPlugin("backup", endpoint(undefined, { pg_options: others.map((d) => `--exclude-database=${d}`).join(" ") }));
      expect(b.code).toBe(0);
      return b;
    };

    test("pg_dumpall out, psql in: the roles and databases arrive in another cluster, and a second restore replaces them", async () => {
      const b = await clusterDump();
      const text = b.stdout.toString();
      expect(text).toStartWith("--\n-- PostgreSQL database cluster dump");
      expect(text).toContain(`CREATE ROLE ${role}`);
      expect(text).toContain(`CREATE DATABASE ${source}`);

      const there = endpoint(undefined, { pg_port: other!.port });
      for (const round of [1, 2]) {
        const r = await pgPlugin("restore", there, b.stdout);
        expect({ round, code: r.code, stderr: r.stderr.includes("ERROR") ? r.stderr : "" }).toEqual({ round, code: 0, stderr: "" });
        expect(await fingerprint(source, other!.port)).toEqual(original);
      }
      const admin = sql("postgres", other!.port);
      expect(await admin.unsafe(`SELECT rolname FROM pg_roles WHERE rolname = $1`, [role])).toHaveLength(1);
      await admin.end();
    }, 60_000);

    test("through a pipe, psql reads the databases from the plugin's fd 0 itself: only the roles' head crosses the plugin", async () => {
      const b = await clusterDump();
      const input = osPipe();
      try {
        const proc = Bun.spawn([process.execPath, MAIN, "plugin", "postgres", "restore"], {
          cwd: ROOT, env: env({ SHIELD_ENDPOINT: JSON.stringify(endpoint(undefined, { pg_port: other!.port })) }), stdin: input.read, stdout: "pipe", stderr: "pipe",
        });
        input.closeRead();
        // Read as it comes: psql's notices (one per database it drops) must never wait on us.
        const said = new Response(proc.stderr).text();
        // Written on the thread pool: a blocking write here would stop this test's event loop,
        // reading of stderr included, while psql works through a full pipe.
        const put = (bytes: Uint8Array) => new Promise<void>((res, rej) => write(input.write, bytes, (err) => (err ? rej(err) : res())));
        // Most of the dump first: psql is at work on it while the rest waits.
        const cut = b.stdout.length - 1000;
        const writing = (async () => { for (let at = 0; at < cut; at += 65536) await put(b.stdout.subarray(at, Math.min(cut, at + 65536))); })();
        let psql: number | undefined;
        for (let i = 0; i < 400 && psql === undefined; i++) {
          psql = descendants(proc.pid).find((p) => /(^|\/)psql /.test(p.cmd) && p.cmd.includes("/dev/fd/3"))?.pid;
          if (psql === undefined) await Bun.sleep(25);
        }
        expect(psql).toBeDefined();
        expect(readlinkSync(`/proc/${psql}/fd/0`)).toBe(readlinkSync(`/proc/${proc.pid}/fd/0`));
        await writing;
        await put(b.stdout.subarray(cut));
        input.closeWrite();
        const [code, stderr] = await Promise.all([proc.exited, said]);
        expect({ code, stderr: stderr.includes("ERROR") ? stderr : "" }).toEqual({ code: 0, stderr: "" });
      } finally {
        input.close();
      }
      expect(await fingerprint(source, other!.port)).toEqual(original);
    }, 60_000);

    test("a full dump is refused by an endpoint naming a database", async () => {
      const b = await pgPlugin("backup", endpoint(undefined, { pg_options: "--globals-only" }));
      expect(b.code).toBe(0);
      const r = await pgPlugin("restore", endpoint(source), b.stdout);
      expect(r.code).toBe(4);
    });
  });

  test("the design's shell example with the compiled binary: postgres backup | fs store, then fs retrieve | postgres restore", () => {
    const shield = ensureBinary();
    const store = mkdtempSync(join(tmpdir(), "shield-store-"));
    const fsEp = JSON.stringify({ base_dir: store });
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const backup = spawnSync("bash", ["-c",
      `set -o pipefail; ${q(shield)} plugin postgres backup --endpoint ${q(JSON.stringify(endpoint(source)))} | ${q(shield)} plugin fs store --endpoint ${q(fsEp)}`,
    ], { encoding: "utf8", env: env() });
    expect(backup.stderr).not.toContain("error");
    expect(backup.status).toBe(0);
    const { key, size } = JSON.parse(backup.stdout);
    expect(size).toBeGreaterThan(3_000_000);

    const target = `${source}_from_binary`;
    const restore = spawnSync("bash", ["-c",
      `set -o pipefail; ${q(shield)} plugin fs retrieve --endpoint ${q(fsEp)} --key ${q(key)} | ${q(shield)} plugin postgres restore --endpoint ${q(JSON.stringify(endpoint(target)))}`,
    ], { encoding: "utf8", env: env() });
    expect(restore.status).toBe(0);
    expect(restore.stderr).toContain(`created database "${target}"`);
    rmSync(store, { recursive: true, force: true });
    return fingerprint(target).then((fp) => expect(fp).toEqual(original));
  }, 60_000);
});

// What an endpoint may make the tools do (README, "Confinement"): checked by
// validate alone, so no server is needed.
describe("postgres confinement", () => {
  const refusal = async (ep: object) => {
    const r = await pgPlugin("validate", ep);
    expect(r.code).toBe(13);
    return r.stderr.trim();
  };

  test("pg_options: only options choosing what is dumped; the refused option is named, whichever way it is written", async () => {
    const db = { pg_user: "u", pg_database: "app" };
    const cluster = { pg_user: "u" };
    const refused: [object, string, string][] = [
      [db, "--format=plain --file=/anywhere", "may not hold --format for pg_dump: Shield takes the dump from stdout"],
      [db, "--file=/etc/cron.d/x", "may not hold --file for pg_dump"],
      [db, "--file /etc/cron.d/x", "may not hold --file for pg_dump"],
      [db, "-f/etc/x", "may not hold -f for pg_dump"],
      [db, "-f /etc/x", "may not hold -f for pg_dump"],
      [db, "-Oxf/etc/x", "may not hold -f for pg_dump"],
      [db, "-F c", "may not hold -F for pg_dump"],
      [db, "-Fp", "may not hold -F for pg_dump"],
      [db, "-j 4", "may not hold -j for pg_dump"],
      [db, "-Z9", "may not hold -Z for pg_dump"],
      // getopt would take an abbreviation for --file: only whole names are accepted.
      [db, "--fil=/etc/x", "may not hold --fil for pg_dump: it is not one of the options accepted here"],
      [db, "--filter=/etc/shadow", "may not hold --filter for pg_dump: it makes the tool read a file"],
      [db, "-h evil.example.com", "may not hold -h for pg_dump: the connection comes from pg_host"],
      [db, "--dbname=host=evil sslkey=/root/key", "may not hold --dbname for pg_dump: the connection comes from"],
      [db, "-U postgres", "may not hold -U for pg_dump"],
      [db, "-o", "may not hold -o for pg_dump"],
      [db, "--version", "may not hold --version for pg_dump"],
      [db, "--no-owner=yes", "--no-owner takes no value"],
      [db, "--table", "--table needs a value"],
      [db, "other_db", `may not hold "other_db": it is not an option, and pg_dump would take it for the database to connect to`],
      [db, "-- x", `may not hold "--"`],
      [cluster, "-f /etc/x", "may not hold -f for pg_dumpall"],
      [cluster, "-l template1", "may not hold -l for pg_dumpall"],
      // pg_dumpall's -t is a flag (--tablespaces-only): a word after it is no table name.
      [cluster, "-t audit_log", `may not hold "audit_log"`],
    ];
    for (const [base, options, words] of refused) {
      const stderr = await refusal({ ...base, pg_options: options });
      expect(stderr.startsWith(`postgres: endpoint "pg_options" `)).toBe(true);
      expect(stderr).toContain(words);
    }
    const accepted: [object, string][] = [
      [db, "--exclude-table=audit_log -T 'a b' -n public -Ox --no-comments --rows-per-insert 100 --inserts"],
      // A value may look like an option: a table named "-f" is a table.
      [db, "-t -f -tfoo --section=data"],
      [cluster, "--globals-only -t --exclude-database=tmp* --no-role-passwords"],
    ];
    for (const [base, options] of accepted) expect((await pgPlugin("validate", { ...base, pg_options: options })).code).toBe(0);
  });

  describe("pg_bindir", () => {
    let dir: string;
    const tool = (name: string, mode = 0o755) => writeFileSync(join(dir, name), "#!/bin/sh\nexit 0\n", { mode });
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), "shield-pg-bin-"));
      chmodSync(dir, 0o755);
      for (const t of ["pg_dump", "pg_dumpall", "pg_restore", "psql"]) tool(t);
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const ep = (extra: object = {}) => ({ pg_user: "u", pg_database: "app", pg_bindir: dir, ...extra });

    test("a trusted directory holding the tools is valid", async () => {
      expect((await pgPlugin("validate", ep())).code).toBe(0);
    });

    test("written in normal form, without NUL or ..", async () => {
      expect(await refusal(ep({ pg_bindir: `${dir}/../${dir.split("/").pop()}` }))).toContain(`must not contain ".."`);
      expect(await refusal(ep({ pg_bindir: `${dir}/` }))).toBe(`postgres: endpoint "pg_bindir" must be written in normal form: "${dir}", not "${dir}/"`);
      expect(await refusal(ep({ pg_bindir: `${dir}\u0000` }))).toContain("NUL");
    });

    test("it must hold the dumping tool of the endpoint", async () => {
      rmSync(join(dir, "pg_dump"));
      expect(await refusal(ep())).toBe(`postgres: endpoint "pg_bindir" ${dir} holds no pg_dump`);
      // The cluster is dumped by pg_dumpall, which is there.
      expect((await pgPlugin("validate", ep({ pg_database: "" }))).code).toBe(0);
      rmSync(join(dir, "pg_dumpall"));
      expect(await refusal(ep({ pg_database: "" }))).toBe(`postgres: endpoint "pg_bindir" ${dir} holds no pg_dumpall`);
    });

    test("the directory and every tool in it writable by nobody else, and owned by root or Shield's user", async () => {
      chmodSync(dir, 0o775);
      expect(await refusal(ep())).toBe(`postgres: endpoint "pg_bindir" the directory ${dir} must not be writable by group or others (mode 775)`);
      chmodSync(dir, 0o755);
      chmodSync(join(dir, "psql"), 0o757);
      expect(await refusal(ep())).toBe(`postgres: endpoint "pg_bindir" the tool ${join(dir, "psql")} must not be writable by group or others (mode 757)`);
      chmodSync(join(dir, "psql"), 0o755);
      chmodSync(join(dir, "pg_dump"), 0o644);
      expect(await refusal(ep())).toContain(`${join(dir, "pg_dump")} is not executable`);
    });

    test.skipIf(process.getuid?.() !== 0)("a tool owned by another user is refused (needs root to chown)", async () => {
      chownSync(join(dir, "pg_restore"), 4242, 4242);
      expect(await refusal(ep())).toBe(`postgres: endpoint "pg_bindir" the tool ${join(dir, "pg_restore")} must be owned by root or by the user Shield runs as (its owner is uid 4242)`);
      chownSync(join(dir, "pg_restore"), 0, 0);
      chownSync(dir, 4242, 4242);
      expect(await refusal(ep())).toContain("must be owned by root or by the user Shield runs as");
    });

    test("a symlinked tool is judged by the file it leads to, and that file's directory", async () => {
      const elsewhere = mkdtempSync(join(tmpdir(), "shield-pg-real-"));
      try {
        chmodSync(elsewhere, 0o777);
        writeFileSync(join(elsewhere, "pg_dump"), "#!/bin/sh\n", { mode: 0o755 });
        rmSync(join(dir, "pg_dump"));
        symlinkSync(join(elsewhere, "pg_dump"), join(dir, "pg_dump"));
        expect(await refusal(ep())).toBe(`postgres: endpoint "pg_bindir" the directory ${elsewhere} must not be writable by group or others (mode 777)`);
      } finally {
        rmSync(elsewhere, { recursive: true, force: true });
      }
    });

    test("with SHIELD_ALLOW_PATH, tools may not live where operators can restore files", async () => {
      const r = await pgPluginEnv("validate", ep(), { SHIELD_ALLOW_PATH: tmpdir() });
      expect(r.code).toBe(13);
      expect(r.stderr.trim()).toBe(`postgres: endpoint "pg_bindir" ${dir} lies inside ${tmpdir()}, an allowed path for data: tools must live elsewhere`);
      expect((await pgPluginEnv("validate", ep(), { SHIELD_ALLOW_PATH: "/srv/backups" })).code).toBe(0);
    });
  });
});
