// A private PostgreSQL for the tests, started from the binaries on this machine on
// its own port and data directory, shared by every test file of one `bun test`
// run, and stopped when the run exits. Each test asks for a fresh database.
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { freePort, requireOrSkip } from "./services.ts";

export interface PgServer { port: number; bindir: string; url(db: string): string }

/** The newest PostgreSQL on the machine: pg_config's, else Debian's /usr/lib/postgresql/N/bin. */
export function findPgBindir(): string | undefined {
  const fromConfig = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" });
  const candidates = [fromConfig.status === 0 ? fromConfig.stdout.trim() : ""];
  if (existsSync("/usr/lib/postgresql")) {
    const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  }
  return candidates.find((dir) => dir && existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl")));
}

export const pgBindir = findPgBindir();
/** True when the PostgreSQL tests can run; false (after a loud warning) when they skip. */
export const pgAvailable = requireOrSkip("PostgreSQL", pgBindir !== undefined, "initdb and pg_ctl (Debian: apt install postgresql)");

export interface PgCluster extends PgServer {
  /** Stops the cluster and removes its directory; safe to call twice. */
  stop(): void;
}

let shared: PgCluster | undefined;
let server: Promise<PgServer> | undefined;

/** The private server shared by every test file of the run. */
export function startPostgres(): Promise<PgServer> {
  return (server ??= startCluster().then((c) => (shared = c)));
}

/** Stops the shared server, if this process started one. */
export function stopPostgres(): void {
  shared?.stop();
  shared = undefined;
  server = undefined;
}

/** A new private cluster on its own port and directory (a test that needs an empty one starts its own). */
export async function startCluster(): Promise<PgCluster> {
  const bindir = pgBindir!;
  const dir = mkdtempSync(join(tmpdir(), "shield-test-pg-"));
  // initdb refuses to run as root: run the server as the postgres user then.
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const argv = asRoot ? ["runuser", "-u", "postgres", "--", join(bindir, cmd), ...args] : [join(bindir, cmd), ...args];
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
  };
  if (asRoot) {
    const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    chownSync(dir, Number(uid.stdout), Number(gid.stdout));
  }
  const data = join(dir, "data");
  const port = await freePort();
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
  run("pg_ctl", [
    "-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60",
    "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
    "start",
  ]);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  // For scripts (bench) that are not under `bun test`, whose preload stops the shared one.
  process.on("exit", stop);
  return { port, bindir, url: (db) => `postgres://postgres@127.0.0.1:${port}/${db}`, stop };
}

/**
 * Runs `during` while a transaction of `sql` holds an exclusive lock on `table`: a pg_dump or
 * pg_restore of it waits (on a lock, as a busy database can make it), and is released after.
 */
export async function whileLocked(sql: postgres.Sql, table: string, during: () => Promise<void>): Promise<void> {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const tx = sql.begin(async (tx) => { await tx.unsafe(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`); locked(); await held; });
  await isLocked;
  try {
    await during();
  } finally {
    release();
    await tx;
  }
}

let counter = 0;

/** A new, empty database on the private server; returns its URL. */
export async function freshDatabase(prefix = "shield"): Promise<string> {
  const pg = await startPostgres();
  const name = `${prefix}_${process.pid}_${++counter}_${Date.now() % 100000}`;
  const admin = postgres(pg.url("postgres"), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return pg.url(name);
}
