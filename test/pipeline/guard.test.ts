// `shield guard` on its own, driven by this test as the daemon would drive it:
// real processes, the real fs store, a real FIFO. Closing the IPC channel is what
// the daemon's death looks like to a guard.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { closeSync, constants as C, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { FromGuard } from "../../src/pipeline/guard.ts";
import { ChunkSealer, DEFAULT_CHUNK_SIZE, decryptStream, encryptStream, HEADER_LENGTH, newDataKey, sealChunks, TAG_LENGTH } from "../../src/pipeline/encryption.ts";
import { MIN_SHARE_BYTES } from "../../src/pipeline/verify-file.ts";
import postgres from "postgres";
import { freshDatabase, pgAvailable, startPostgres, whileLocked } from "../helpers/postgres.ts";
import { eventually } from "../helpers/services.ts";
import { ensureFreshBinary } from "../helpers/daemon.ts";

const GUARD = resolve(import.meta.dir, "../../src/pipeline/guard.ts");
const MAIN = resolve(import.meta.dir, "../../src/main.ts");
let storeDir: string;

beforeAll(() => { storeDir = mkdtempSync(join(tmpdir(), "shield-test-guard-")); });
afterAll(() => rmSync(storeDir, { recursive: true, force: true }));

/** Blob files only (the store's .incoming temporaries excluded). */
const blobs = () => readdirSync(storeDir, { recursive: true }).map(String)
  .filter((f) => !f.startsWith(".incoming") && statSync(join(storeDir, f)).isFile());

/** `command`: the guard's own (by default the source run by bun; the compiled binary is [SHIELD_BIN, "guard"]). */
function guard(flags: string[], argv: string[], env: Record<string, string> = {}, stdout: "pipe" | number = "pipe", command = [process.execPath, GUARD]) {
  const messages: FromGuard[] = [];
  let notify = () => {};
  const proc = Bun.spawn([...command, ...flags, "--", ...argv], {
    // (Given an fd, the caller never reads proc.stdout: typed as the pipe it is otherwise.)
    stdin: "ignore", stdout: stdout as "pipe", stderr: "pipe", detached: true, serialization: "json",
    env: { PATH: process.env.PATH!, ...env },
    ipc: (m: FromGuard) => { messages.push(m); notify(); },
  });
  const next = async <K extends string>(key: K): Promise<any> => {
    for (;;) {
      const m = messages.find((x) => key in x);
      if (m) return (m as any)[key];
      await new Promise<void>((r) => { notify = r; setTimeout(r, 100); });
      if (proc.exitCode !== null) throw new Error(`guard exited (${proc.exitCode}) before sending ${key}: ${await new Response(proc.stderr).text()}`);
    }
  };
  return { proc, next, messages };
}

/** Opens the FIFO the guard made and writes into it, as the daemon does. */
async function feed(proc: Subprocess, path: string, bytes: Uint8Array): Promise<{ close(): Promise<void> }> {
  const fd = openSync(path, C.O_WRONLY | C.O_NONBLOCK);
  proc.send({ opened: true });
  const sink = Bun.file(fd).writer();
  sink.write(bytes);
  await sink.flush();
  return { close: async () => { await sink.end(); closeSync(fd); } };
}

const fsStore = (action: string) => [process.execPath, MAIN, "plugin", "fs", action];
const storeEnv = () => ({ SHIELD_ENDPOINT: JSON.stringify({ base_dir: storeDir }) });
const data = new Uint8Array(300_000).fill(7);

describe("shield guard", () => {
  test("a store whose daemon dies before the commit is killed: its input never ends, no blob", async () => {
    const { proc, next } = guard(["--held-input", "--store"], fsStore("store"), storeEnv());
    proc.send({ purge: fsStore("purge") });
    const fifo = await next("fifo");
    const input = await feed(proc, fifo, data);
    // What a dying daemon does: its end of the data closes, and so does the lifeline.
    await input.close();
    proc.disconnect();
    expect(await proc.exited).not.toBe(0);
    await Bun.sleep(200);
    expect(blobs()).toEqual([]);
    expect(existsSync(fifo)).toBe(false);
  });

  test("a store that committed while the daemon died before recording its key: the guard purges the blob", async () => {
    const { proc, next } = guard(["--held-input", "--store"], fsStore("store"), storeEnv());
    proc.send({ purge: fsStore("purge") });
    await (await feed(proc, await next("fifo"), data)).close();
    proc.send({ commit: true });
    const stored = await next("stored");
    expect(stored.code).toBe(0);
    const key = JSON.parse(stored.output).key;
    expect(existsSync(join(storeDir, key))).toBe(true);
    proc.disconnect(); // no ack: the daemon is gone
    await proc.exited;
    expect(await new Response(proc.stderr).text()).toContain(`purged blob ${key}: it was never recorded`);
    expect(existsSync(join(storeDir, key))).toBe(false);
  });

  test("an acknowledged key keeps its blob, complete", async () => {
    const { proc, next } = guard(["--held-input", "--store"], fsStore("store"), storeEnv());
    proc.send({ purge: fsStore("purge") });
    await (await feed(proc, await next("fifo"), data)).close();
    proc.send({ commit: true });
    const { code, output } = await next("stored");
    expect(code).toBe(0);
    proc.send({ ack: true });
    expect(await proc.exited).toBe(0);
    const key = JSON.parse(output).key;
    expect(readFileSync(join(storeDir, key)).equals(Buffer.from(data))).toBe(true);
  });

  describe("--in-process fs -- retrieve: a built-in store's retrieve inside its guard", () => {
    /** Stores `bytes` with the fs store run as a process of its own; its key. */
    const stored = async (bytes: Uint8Array) => {
      const p = Bun.spawn(fsStore("store"), { stdin: bytes, stdout: "pipe", stderr: "inherit", env: { PATH: process.env.PATH!, ...storeEnv() } });
      const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
      expect(code).toBe(0);
      return JSON.parse(out).key as string;
    };
    const big = new Uint8Array(8 << 20).map((_, i) => (i * 31) % 253);

    test("writes the blob on the guard's own stdout, byte for byte, with no process beside it", async () => {
      const key = await stored(big);
      const { proc } = guard(["--in-process", "fs"], ["retrieve", "--key", key], storeEnv());
      const reader = proc.stdout.getReader();
      const first = await reader.read();
      // Mid-blob (8 MiB, more than the pipe holds): the retrieve runs, and in the guard itself.
      expect(first.done).toBe(false);
      const children = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
        try { return readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ")[1] === String(proc.pid); } catch { return false; }
      });
      expect(children).toEqual([]);
      const chunks: Uint8Array[] = [first.value!];
      for (;;) { const r = await reader.read(); if (r.done) break; chunks.push(r.value); }
      expect(await proc.exited).toBe(0);
      expect(Buffer.concat(chunks).equals(Buffer.from(big))).toBe(true);
    });

    test("a key with no blob: the store's exit code (4) and its words on the guard's stderr", async () => {
      const key = "2026/01/01/00000000-0000-4000-8000-000000000000";
      const { proc } = guard(["--in-process", "fs"], ["retrieve", "--key", key], storeEnv());
      const [code, err, out] = await Promise.all([proc.exited, new Response(proc.stderr).text(), new Response(proc.stdout).text()]);
      expect(code).toBe(4);
      expect(err).toContain(`no blob under key ${key}`);
      expect(out).toBe("");
    });

    for (const [how, stop, expected] of [
      ["a cancel (SIGTERM to the group)", (p: Subprocess) => process.kill(-p.pid, "SIGTERM"), 143],
      ["the daemon's death (the lifeline closes)", (p: Subprocess) => p.disconnect(), 137],
    ] as const) {
      test(`${how} stops a retrieve blocked on a reader that does not read`, async () => {
        const key = await stored(big);
        // Its stdout a FIFO that nobody reads (held open here): the retrieve fills it and blocks.
        const dir = mkdtempSync(join(tmpdir(), "shield-test-retrieve-"));
        expect(Bun.spawnSync(["mkfifo", join(dir, "out")]).exitCode).toBe(0);
        const out = openSync(join(dir, "out"), C.O_RDWR);
        try {
          const { proc } = guard(["--in-process", "fs"], ["retrieve", "--key", key], storeEnv(), out);
          await Bun.sleep(300);
          expect(proc.exitCode).toBeNull();
          stop(proc);
          expect(await proc.exited).toBe(expected);
        } finally {
          closeSync(out);
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  });

  test("a stage that is not writing dies with the daemon, with everything it started", async () => {
    const { proc } = guard([], ["sh", "-c", "sleep 37; echo never"]);
    await Bun.sleep(300);
    const sleeping = () => readdirSync("/proc").filter((p) => /^\d+$/.test(p)).some((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, "utf8") === "sleep\u000037\u0000"; } catch { return false; }
    });
    expect(sleeping()).toBe(true);
    const lost = Date.now();
    proc.disconnect();
    await proc.exited;
    while (sleeping()) {
      expect(Date.now() - lost).toBeLessThan(1000);
      await Bun.sleep(20);
    }
  });

  /** Whether a process with exactly this command line runs. */
  const running = (...argv: string[]) => readdirSync("/proc").filter((p) => /^\d+$/.test(p)).some((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, "utf8") === argv.join("\u0000") + "\u0000"; } catch { return false; }
  });
  async function goneWithin(ms: number, ...argv: string[]): Promise<void> {
    const from = Date.now();
    while (running(...argv)) {
      if (Date.now() - from > ms) throw new Error(`${argv.join(" ")} still runs ${ms} ms after the daemon died`);
      await Bun.sleep(20);
    }
  }

  test("a committed stage dies with the daemon too: the stream it finishes is nobody's now", async () => {
    // A restoring target that has its whole (verified, committed) input and still applies it.
    const { proc, next } = guard(["--held-input"], ["sh", "-c", "cat >/dev/null; sleep 38"]);
    await (await feed(proc, await next("fifo"), data)).close();
    proc.send({ commit: true });
    while (!running("sleep", "38")) await Bun.sleep(20);
    proc.disconnect();
    expect(await proc.exited).toBe(137);
    await goneWithin(1000, "sleep", "38");
  });

  test("a committed store gets a moment to finish, then dies with the daemon all the same", async () => {
    const { proc, next } = guard(["--held-input", "--store"], ["sh", "-c", `cat >/dev/null; sleep 39; echo '{"key":"never"}'`]);
    proc.send({ purge: ["sh", "-c", "echo purged >&2"] });
    await (await feed(proc, await next("fifo"), data)).close();
    proc.send({ commit: true });
    while (!running("sleep", "39")) await Bun.sleep(20);
    const lost = Date.now();
    proc.disconnect();
    expect(await proc.exited).toBe(137);
    await goneWithin(500, "sleep", "39");
    // The grace (1.5 s), well within the 5 s every process of a pipeline has.
    expect(Date.now() - lost).toBeGreaterThan(1000);
    expect(Date.now() - lost).toBeLessThan(4500);
    expect(await new Response(proc.stderr).text()).not.toContain("purged");
  });

  test("the stage's exit code is the guard's", async () => {
    const { proc } = guard([], ["sh", "-c", "exit 5"]);
    expect(await proc.exited).toBe(5);
    const missing = guard([], ["/nonexistent/plugin"]);
    expect(await missing.proc.exited).toBe(127);
    expect(await new Response(missing.proc.stderr).text()).toContain("cannot start /nonexistent/plugin");
  });

  describe("--seal: the store's guard encrypts, counts and hashes what it passes on", () => {
    /** A FIFO as the daemon makes it: alone in a directory, held open read-write until the guard reports. */
    function daemonFifo() {
      const dir = mkdtempSync(join(tmpdir(), "shield-test-seal-"));
      const path = join(dir, "input");
      expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
      return { dir, path, fd: openSync(path, C.O_RDWR) };
    }
    const sealing = (key: Uint8Array | null, inProcess = false) => {
      const fifo = daemonFifo();
      const g = guard(["--held-fifo", fifo.path, "--seal", ...(inProcess ? ["--in-process", "fs"] : []), "--store"], inProcess ? ["store"] : fsStore("store"), storeEnv());
      g.proc.send({ purge: fsStore("purge") });
      g.proc.send({ seal: { key: key && Buffer.from(key).toString("base64") } });
      return { ...g, fifo };
    };
    /** Writes the data as the stage upstream would, once the daemon let go of its hold (as it does once the guard reported). */
    async function upstreamWrites(g: ReturnType<typeof sealing>, bytes: Uint8Array) {
      expect(await g.next("fifo")).toBe(g.fifo.path);
      const fd = openSync(g.fifo.path, C.O_WRONLY | C.O_NONBLOCK);
      closeSync(g.fifo.fd);
      g.proc.send({ opened: true });
      const sink = Bun.file(fd).writer();
      try {
        sink.write(bytes);
        await sink.end();
      } catch {
        // A store that stopped reading: the guard's read end closed (EPIPE).
      }
      closeSync(fd);
    }
    const payload = new Uint8Array(1_000_003).map((_, i) => (i * 7919) % 251);

    for (const [mode, inProcess] of [["the store as a process", false], ["the built-in store inside the guard", true]] as const) {
      test(`encrypted: the blob decrypts to the input, and the reported size and SHA-256 are the blob's (${mode})`, async () => {
        const key = newDataKey();
        const g = sealing(key, inProcess);
        await upstreamWrites(g, payload);
        const sealed = await g.next("sealed");
        expect(sealed.bytesIn).toBe(payload.length);
        g.proc.send({ commit: true });
        const { code, output } = await g.next("stored");
        expect(code).toBe(0);
        g.proc.send({ ack: true });
        expect(await g.proc.exited).toBe(0);
        const blob = readFileSync(join(storeDir, JSON.parse(output).key));
        expect(sealed.bytes).toBe(blob.length);
        expect(sealed.sha256).toBe(new Bun.CryptoHasher("sha256").update(blob).digest("hex"));
        // Nothing of the plaintext in the blob, and exactly the plaintext out of it.
        expect(blob.indexOf(Buffer.from(payload.subarray(1000, 1064)))).toBe(-1);
        const plain = new Uint8Array(await new Response(new Response(blob).body!.pipeThrough(decryptStream(key))).arrayBuffer());
        expect(Buffer.from(plain).equals(Buffer.from(payload))).toBe(true);
        expect(existsSync(g.fifo.dir)).toBe(false);
      });

      test(`not encrypted: the blob is the input, counted and hashed (${mode})`, async () => {
        const g = sealing(null, inProcess);
        await upstreamWrites(g, payload);
        const sealed = await g.next("sealed");
        g.proc.send({ commit: true });
        const { output } = await g.next("stored");
        g.proc.send({ ack: true });
        expect(await g.proc.exited).toBe(0);
        const blob = readFileSync(join(storeDir, JSON.parse(output).key));
        expect(blob.equals(Buffer.from(payload))).toBe(true);
        expect(sealed).toEqual({ bytesIn: payload.length, bytes: payload.length, sha256: new Bun.CryptoHasher("sha256").update(payload).digest("hex") });
      });

      test(`sealed but never committed: the daemon's death kills the store before its input ends, no blob (${mode})`, async () => {
        const before = blobs();
        const g = sealing(newDataKey(), inProcess);
        await upstreamWrites(g, payload);
        await g.next("sealed");
        g.proc.disconnect();
        expect(await g.proc.exited).not.toBe(0);
        await Bun.sleep(200);
        expect(blobs()).toEqual(before);
      });
    }

    /** The processes whose parent is `pid`. */
    const childrenOf = (pid: number) => readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
      try { return readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ")[1] === String(pid); } catch { return false; }
    });
    const incoming = () => { try { return readdirSync(join(storeDir, ".incoming")); } catch { return []; } };

    test("--in-process runs the built-in store in the guard itself: no process beside it", async () => {
      const g = sealing(newDataKey(), true);
      await upstreamWrites(g, payload);
      await g.next("sealed");
      expect(childrenOf(g.proc.pid)).toEqual([]);
      g.proc.send({ commit: true });
      const { code, output, complete } = await g.next("stored");
      expect({ code, complete }).toEqual({ code: 0, complete: true });
      g.proc.send({ ack: true });
      expect(await g.proc.exited).toBe(0);
      expect(existsSync(join(storeDir, JSON.parse(output).key))).toBe(true);
    });

    test("--in-process, canceled (SIGTERM to the group): the store removes its temporary file, no blob", async () => {
      // (A killed daemon's tests above leave theirs behind, for the store's sweep.)
      const before = { blobs: blobs(), incoming: incoming() };
      const g = sealing(newDataKey(), true);
      await upstreamWrites(g, payload);
      await g.next("sealed");
      expect(incoming().length).toBe(before.incoming.length + 1);
      process.kill(-g.proc.pid, "SIGTERM");
      expect(await g.proc.exited).toBe(143);
      expect(incoming()).toEqual(before.incoming);
      expect(blobs()).toEqual(before.blobs);
    });

    test("--in-process, canceled at once (the stage may not have started): exit 143, nothing left behind", async () => {
      const before = { blobs: blobs(), incoming: incoming() };
      for (const delay of [0, 10, 20, 30, 60]) {
        const g = sealing(newDataKey(), true);
        await Bun.sleep(delay);
        process.kill(-g.proc.pid, "SIGTERM");
        closeSync(g.fifo.fd);
        expect(await g.proc.exited).toBe(143);
        // (Its FIFO's directory: the guard's if it got that far, else the daemon's to remove.)
        rmSync(g.fifo.dir, { recursive: true, force: true });
      }
      expect(incoming()).toEqual(before.incoming);
      expect(blobs()).toEqual(before.blobs);
    });

    test("the data key reaches the guard by message only, never in its arguments or environment", async () => {
      const key = newDataKey();
      const b64 = Buffer.from(key).toString("base64");
      const g = sealing(key);
      expect(await g.next("fifo")).toBe(g.fifo.path);
      for (const f of ["cmdline", "environ"]) expect(readFileSync(`/proc/${g.proc.pid}/${f}`, "latin1")).not.toContain(b64);
      closeSync(g.fifo.fd);
      g.proc.disconnect();
      await g.proc.exited;
    });

    test("a store that stops reading: the guard says why it could not seal, and exits with the store's code", async () => {
      const fifo = daemonFifo();
      const g = guard(["--held-fifo", fifo.path, "--seal", "--store"], ["sh", "-c", "head -c 10 >/dev/null; exit 3"]);
      g.proc.send({ purge: ["true"] });
      g.proc.send({ seal: { key: null } });
      await upstreamWrites({ ...g, fifo }, payload);
      // Whether the guard meets EPIPE before it reports the store's exit is a race; the outcome is not.
      expect(await g.next("stored")).toEqual({ code: 3, output: "", complete: false });
      expect(await g.proc.exited).toBe(3);
    });

    test("a store that exits 0 with a key before the end of its input is reported incomplete, and its blob purged", async () => {
      const fifo = daemonFifo();
      const purged = join(storeDir, "purged-key");
      const g = guard(["--held-fifo", fifo.path, "--seal", "--store"], ["sh", "-c", `head -c 10 >/dev/null; echo '{"key":"early"}'`]);
      g.proc.send({ purge: ["sh", "-c", `echo "$2" > ${purged}`, "purge"] });
      g.proc.send({ seal: { key: null } });
      await upstreamWrites({ ...g, fifo }, payload);
      expect(await g.next("stored")).toEqual({ code: 0, output: '{"key":"early"}\n', complete: false });
      g.proc.send({ ack: false }); // what the daemon answers to an incomplete store
      expect(await g.proc.exited).toBe(0);
      expect(readFileSync(purged, "utf8").trim()).toBe("early");
      rmSync(purged);
    });

    test("--seal without a FIFO from the daemon is refused", async () => {
      const { proc } = guard(["--held-input", "--seal"], ["cat"]);
      expect(await proc.exited).toBe(1);
      expect(await new Response(proc.stderr).text()).toContain("--seal needs --held-fifo");
    });
  });
});

// A built-in target's backup run inside its guard (--in-process NAME alone): the
// guard's stdout is the dump's, and pg_dump is in the guard's group, so a cancel
// (SIGTERM to the group) and the daemon's death reach it as they reach a spawned stage.
describe.skipIf(!pgAvailable)("shield guard --in-process: a built-in target's backup", () => {
  let url: string;
  let sql: postgres.Sql;
  let env: Record<string, string>;
  beforeAll(async () => {
    url = await freshDatabase("guard_inproc");
    const pg = await startPostgres();
    sql = postgres(url, { max: 2, onnotice: () => {} });
    await sql`CREATE TABLE t (id int PRIMARY KEY, v text)`;
    await sql`INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 1000) i`;
    env = { SHIELD_ENDPOINT: JSON.stringify({ pg_host: "127.0.0.1", pg_port: String(pg.port), pg_user: "postgres", pg_database: new URL(url).pathname.slice(1), pg_bindir: pg.bindir }) };
  });
  afterAll(async () => { await sql?.end(); });

  /** The command lines of the processes in a process group. */
  const inGroup = (pgid: number) => {
    const r = Bun.spawnSync(["pgrep", "-a", "-g", String(pgid)]);
    return r.stdout.toString().split("\n").filter(Boolean);
  };
  // The postgres plugin names its connections "shield".
  const waitingOnLock = async () =>
    (await sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'shield'`)[0]!.n > 0;
  /** Resolves once a pg_dump waits on the lock that whileLocked holds. */
  const untilWaitingOnLock = () => eventually(waitingOnLock, 20_000, "pg_dump to wait on the lock", 20);
  const locked = (during: () => Promise<void>) => whileLocked(sql, "t", during);

  test("writes the dump on the guard's own stdout and exits as the action did", async () => {
    const { proc } = guard(["--in-process", "postgres"], ["backup"], env);
    const [out, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), proc.exited]);
    expect(code).toBe(0);
    expect(Buffer.from(out).subarray(0, 5).toString()).toBe("PGDMP");
  });

  for (const [how, stop, expected] of [
    ["a cancel (SIGTERM to the group)", (p: Subprocess) => process.kill(-p.pid, "SIGTERM"), 143],
    ["the daemon's death (the lifeline closes)", (p: Subprocess) => p.disconnect(), 137],
  ] as const) {
    test(`${how} stops pg_dump too, even while it waits on a lock`, () => locked(async () => {
      const { proc } = guard(["--in-process", "postgres"], ["backup"], env);
      void new Response(proc.stdout).arrayBuffer();
      await untilWaitingOnLock();
      // pg_dump runs in the guard's process group (the guard leads it, as under the daemon).
      expect(inGroup(proc.pid).some((cmd) => cmd.includes("pg_dump"))).toBe(true);
      stop(proc);
      expect(await proc.exited).toBe(expected);
      // Nothing of the group is left. (Not its server backend: killed by SIGKILL, pg_dump
      // cannot cancel its query, and a backend waiting on a lock notices only once it gets it.)
      for (let i = 0; i < 100 && inGroup(proc.pid).length; i++) await Bun.sleep(50);
      expect(inGroup(proc.pid)).toEqual([]);
    }));
  }

  /** The dump of the test's database, as the in-process backup writes it. */
  const dumped = async () => {
    const { proc } = guard(["--in-process", "postgres"], ["backup"], env);
    const [out, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), proc.exited]);
    expect(code).toBe(0);
    return new Uint8Array(out);
  };
  /** The endpoint of another database of the same server. */
  const into = (db: string) => {
    const ep = JSON.parse(env.SHIELD_ENDPOINT!);
    return { SHIELD_ENDPOINT: JSON.stringify({ ...ep, pg_database: db }) };
  };
  /** A new, empty database: its name and the rows of its table t (null: no such table). */
  const emptyDatabase = async (prefix: string) => {
    const dbUrl = await freshDatabase(prefix);
    return { db: new URL(dbUrl).pathname.slice(1), rows: () => rowsIn(dbUrl) };
  };
  const rowsIn = async (dbUrl: string): Promise<number | null> => {
    const other = postgres(dbUrl, { max: 1, onnotice: () => {} });
    try {
      const tables = (await other`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 't'`)[0]!.n as number;
      return tables ? (await other`SELECT count(*)::int AS n FROM t`)[0]!.n as number : null;
    } finally {
      await other.end();
    }
  };
  const pgRestoreIn = (pgid: number) => inGroup(pgid).map((l) => l.split(" ")).find((w) => w[1]?.endsWith("pg_restore"))?.[0];

  test("a restore on its held input: pg_restore reads the guard's FIFO (the guard's fd 0) itself", async () => {
    const dump = await dumped();
    const { db, rows } = await emptyDatabase("guard_inproc_restore");
    const { proc, next } = guard(["--held-input", "--in-process", "postgres"], ["restore"], into(db));
    const fd = openSync(await next("fifo"), C.O_WRONLY | C.O_NONBLOCK);
    proc.send({ opened: true });
    const sink = Bun.file(fd).writer();
    // Half of it first: pg_restore waits for the rest, and can be looked at meanwhile.
    const half = Math.floor(dump.length / 2);
    sink.write(dump.subarray(0, half));
    await sink.flush();
    let pid: string | undefined;
    for (let i = 0; i < 400 && !(pid = pgRestoreIn(proc.pid)); i++) await Bun.sleep(25);
    expect(pid).toBeDefined();
    // The guard's fd 0 is the held FIFO, and pg_restore was handed that very fd.
    expect(readlinkSync(`/proc/${pid}/fd/0`)).toBe(readlinkSync(`/proc/${proc.pid}/fd/0`));
    expect(readlinkSync(`/proc/${proc.pid}/fd/0`)).toMatch(/^(pipe:|\/)/);
    sink.write(dump.subarray(half));
    await sink.end();
    closeSync(fd);
    proc.send({ commit: true });
    expect(await proc.exited).toBe(0);
    expect(await rows()).toBe(1000);
  });

  for (const [how, stop, expected] of [
    ["a cancel (SIGTERM to the group)", (p: Subprocess) => process.kill(-p.pid, "SIGTERM"), 143],
    ["the daemon's death (the lifeline closes)", (p: Subprocess) => p.disconnect(), 137],
  ] as const) test(`a restore on its held input stopped mid-stream by ${how}: gone with pg_restore, nothing of it applied`, async () => {
    const dump = await dumped();
    const { db, rows } = await emptyDatabase("guard_inproc_stopped");
    const { proc, next } = guard(["--held-input", "--in-process", "postgres"], ["restore"], into(db));
    // Half of the dump: pg_restore waits for the rest.
    const input = await feed(proc, await next("fifo"), dump.subarray(0, Math.floor(dump.length / 2)));
    for (let i = 0; i < 400 && !pgRestoreIn(proc.pid); i++) await Bun.sleep(25);
    await input.close();
    stop(proc);
    expect(await proc.exited).toBe(expected);
    for (let i = 0; i < 100 && inGroup(proc.pid).length; i++) await Bun.sleep(50);
    expect(inGroup(proc.pid)).toEqual([]);
    expect(await rows()).toBeNull();
  });

  // --with-source: the store's guard (built-in fs, sealing) runs the backup beside the store.
  // Uncompressed here: pg_dump writes into the guard's own input, the FIFO the daemon made.
  describe("--with-source: the store's guard runs the backup beside the store", () => {
    const withSource = (storeEndpoint: object, compress?: "zstd") => {
      const dir = mkdtempSync(join(tmpdir(), "shield-test-beside-"));
      const path = join(dir, "input");
      expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
      const hold = openSync(path, C.O_RDWR);
      const g = guard(["--held-fifo", path, "--seal", "--in-process", "fs", "--store", "--with-source"], ["store"], env);
      g.proc.send({ purge: fsStore("purge") });
      const source = { name: "postgres", args: ["backup"], output: path, compress };
      g.proc.send({ seal: { key: null, env: { PATH: process.env.PATH!, SHIELD_ENDPOINT: JSON.stringify(storeEndpoint) }, source } });
      /** Lets go of the daemon's hold once the guard took its input, as the daemon does. */
      const started = async () => {
        expect(await g.next("fifo")).toBe(path);
        closeSync(hold);
        g.proc.send({ opened: true });
      };
      return { ...g, started, dir };
    };

    test("pg_dump writes into the FIFO it is given, not fd 1; its exit is reported once the guard let go of that FIFO (the reader sees the end); the store keeps the dump; the store's endpoint never reaches pg_dump's environment", async () => {
      const before = blobs();
      const g = withSource({ base_dir: storeDir });
      await g.started();
      // What pg_dump inherits is the guard's environment: the target's, never the store's.
      expect(readFileSync(`/proc/${g.proc.pid}/environ`, "utf8")).not.toContain(storeDir);
      expect(await g.next("sourceExited")).toBe(0);
      // Had the guard kept its write end, its own input would never end, and nothing would be sealed.
      const sealed = await g.next("sealed");
      g.proc.send({ commit: true });
      const { code, output, complete } = await g.next("stored");
      expect({ code, complete }).toEqual({ code: 0, complete: true });
      g.proc.send({ ack: true });
      expect(await g.proc.exited).toBe(0);
      // Nothing came out on the guard's own stdout.
      expect((await new Response(g.proc.stdout).arrayBuffer()).byteLength).toBe(0);
      const blob = readFileSync(join(storeDir, JSON.parse(output).key));
      expect(blob.subarray(0, 5).toString()).toBe("PGDMP");
      expect(sealed.bytesIn).toBe(blob.length);
      expect(blobs().length).toBe(before.length + 1);
      rmSync(g.dir, { recursive: true, force: true });
    });

    test("compress: the guard compresses pg_dump's output itself (a small dump: no zstd process); the blob is a zstd stream of the dump; the raw size comes with the exit", async () => {
      const g = withSource({ base_dir: storeDir }, "zstd");
      await g.started();
      const exited = await g.next("sourceExited");
      const report = g.messages.find((m) => "sourceExited" in m) as { sourceExited: number; rawBytes?: number };
      expect(exited).toBe(0);
      expect(inGroup(g.proc.pid).filter((cmd) => / zstd /.test(` ${cmd} `))).toEqual([]);
      const sealed = await g.next("sealed");
      g.proc.send({ commit: true });
      const { code, output } = await g.next("stored");
      expect(code).toBe(0);
      g.proc.send({ ack: true });
      expect(await g.proc.exited).toBe(0);
      const blob = join(storeDir, JSON.parse(output).key);
      expect(readFileSync(blob).subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
      expect(sealed.bytesIn).toBe(readFileSync(blob).length);
      const dump = Bun.spawnSync(["zstd", "-d", "-c", blob]).stdout;
      expect(dump.subarray(0, 5).toString()).toBe("PGDMP");
      expect(report.rawBytes).toBe(dump.length);
      // One frame, made in the guard.
      expect(Bun.spawnSync(["zstd", "-lv", blob]).stdout.toString()).toContain("# Zstandard Frames: 1\n");
      rmSync(g.dir, { recursive: true, force: true });
    });

    for (const [how, stop, expected] of [
      ["the daemon's death (the lifeline closes)", (p: Subprocess) => p.disconnect(), 137],
      ["a cancel (SIGTERM to the group)", (p: Subprocess) => process.kill(-p.pid, "SIGTERM"), 143],
      // The store's endpoint names no directory: it fails at once, whether pg_dump has started yet or not.
      ["the store failing first", undefined, 13],
    ] as const) for (const compress of [undefined, "zstd"] as const) {
      test(`${how} stops pg_dump beside the store, even one waiting on a lock; no blob${compress ? " (compressed by the guard)" : ""}`, () => locked(async () => {
        const before = blobs();
        const g = withSource(stop ? { base_dir: storeDir } : { base_dir: "relative/dir" }, compress);
        if (stop) {
          await untilWaitingOnLock();
          expect(inGroup(g.proc.pid).some((cmd) => cmd.includes("pg_dump"))).toBe(true);
          await g.started();
          stop(g.proc);
        }
        // While the lock is still held: nothing waits for pg_dump.
        expect(await g.proc.exited).toBe(expected);
        for (let i = 0; i < 100 && inGroup(g.proc.pid).length; i++) await Bun.sleep(50);
        expect(inGroup(g.proc.pid)).toEqual([]);
        expect(blobs()).toEqual(before);
        if (!stop) {
          // The store's words came by message; fd 2 is the target's alone.
          expect(await new Response(g.proc.stderr).text()).not.toContain("base_dir");
          expect(g.messages.flatMap((m) => ("said" in m ? [m.said] : [])).join("\n")).toContain("base_dir");
          expect((await g.next("stored")).code).toBe(13);
        }
        rmSync(g.dir, { recursive: true, force: true });
      }));
    }
  });

  test("refuses a built-in it cannot run so (a store has no backup)", async () => {
    const { proc } = guard(["--in-process", "fs"], ["backup"], env);
    expect(await proc.exited).toBe(3);
    expect(await new Response(proc.stderr).text()).toContain("--in-process fs: no built-in store of that name");
  });
});

// --unseal: the retrieve's guard of a restore. The "store" here is any command (cat,
// sh) writing the blob on its stdout, or the built-in fs store run in the guard; the
// guard's stdout is the pipe the stage downstream would read.
describe("shield guard --unseal: a restore's read of the blob, checked and decrypted in the retrieve's guard", () => {
  const plain = new Uint8Array(5 * DEFAULT_CHUNK_SIZE + 1234).map((_, i) => (i * 37 + (i >> 9)) % 251);
  const key = newDataKey();
  let dir: string;
  let sealedBlob: Buffer;
  const file = (name: string, bytes: Uint8Array) => { const p = join(dir, name); Bun.write(p, bytes); return p; };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shield-test-unseal-"));
    sealedBlob = Buffer.from(await new Response(new Blob([plain]).stream().pipeThrough(encryptStream(key))).arrayBuffer());
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let fifos = 0;
  function unsealing(argv: string[], dataKey: Uint8Array | null, flags: string[] = [], env: Record<string, string> = {}, message?: { key: string | null; rate?: number; discard?: boolean; lend?: boolean }, command?: string[]) {
    // The guard's stdout is a FIFO, as the daemon gives it (Run.fifo); `cat` reads it, as the stage downstream would.
    const path = join(dir, `out-${++fifos}`);
    expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
    // The read end is cat's stdin, open before the guard starts: a cat that opened the FIFO
    // by name only once it ran could come after the guard's own open of it, which then found
    // no reader (ENXIO; seen on a loaded machine). Opened in os-pipe.ts's order, nothing blocks.
    const probe = openSync(path, C.O_RDONLY | C.O_NONBLOCK);
    const out = openSync(path, C.O_WRONLY);
    const readEnd = openSync(path, C.O_RDONLY);
    const reader = Bun.spawn(["cat"], { stdin: readEnd, stdout: "pipe" });
    closeSync(readEnd);
    closeSync(probe);
    const g = guard(["--unseal", ...flags], argv, env, out, command);
    closeSync(out);
    g.proc.send({ unseal: message ?? { key: dataKey && Buffer.from(dataKey).toString("base64") } });
    const got: Uint8Array[] = [];
    const done = (async () => { for await (const c of reader.stdout) got.push(c); })();
    return { ...g, received: () => Buffer.concat(got), done };
  }
  const stopped = async (proc: Subprocess) => { process.kill(-proc.pid, "SIGTERM"); return proc.exited; };
  /** The processes of a process group, "PID COMMAND" each. */
  const inGroup = (pgid: number) => Bun.spawnSync(["pgrep", "-a", "-g", String(pgid)]).stdout.toString().split("\n").filter(Boolean);

  test("encrypted: the plaintext goes on; the store's exit and the counts come back (not hashed); the guard exits 0 on the daemon's commit, not before", async () => {
    const g = unsealing(["cat", file("enc", sealedBlob)], key);
    expect(await g.next("unsealed")).toEqual({ code: 0, bytes: sealedBlob.length, bytesOut: plain.length, sha256: null });
    // Its exit must not reach the daemon before its report (IPC is asynchronous): it waits for the word.
    expect(await Promise.race([g.proc.exited, Bun.sleep(300).then(() => "waiting")])).toBe("waiting");
    g.proc.send({ commit: true });
    expect(await g.proc.exited).toBe(0);
    await g.done;
    expect(g.received().equals(Buffer.from(plain))).toBe(true);
  });

  test("unencrypted: counted and hashed; the last MiB goes on only after the daemon's commit", async () => {
    const big = new Uint8Array(3 << 20).map((_, i) => (i * 13) % 241);
    const g = unsealing(["cat", file("plain", big)], null);
    const u = await g.next("unsealed");
    expect(u).toEqual({ code: 0, bytes: big.length, bytesOut: big.length, sha256: new Bun.CryptoHasher("sha256").update(big).digest("hex") });
    await Bun.sleep(200);
    expect(g.received().length).toBe(big.length - (1 << 20));
    expect(g.proc.exitCode).toBeNull();
    g.proc.send({ commit: true });
    expect(await g.proc.exited).toBe(0);
    await g.done;
    expect(g.received().equals(Buffer.from(big))).toBe(true);
  });

  test("a chunk that fails authentication: refused, and nothing of it (nor what follows) goes on", async () => {
    const frame = DEFAULT_CHUNK_SIZE + TAG_LENGTH;
    const bad = Buffer.from(sealedBlob);
    bad[HEADER_LENGTH + 3 * frame + 100]! ^= 1;
    const g = unsealing(["cat", file("bad", bad)], key);
    const failed = await g.next("unsealFailed");
    expect(failed).toEqual({ message: "archive chunk 3 failed authentication: the archive is corrupted, truncated or reordered", refused: true });
    // It waits to be stopped (the daemon does it); until then, nothing more is written.
    await Bun.sleep(100);
    expect(g.proc.exitCode).toBeNull();
    expect(await stopped(g.proc)).toBe(143);
    await g.done;
    expect(g.received().length).toBeLessThanOrEqual(3 * DEFAULT_CHUNK_SIZE);
    expect(g.received().equals(Buffer.from(plain.subarray(0, g.received().length)))).toBe(true);
  });

  test("a blob cut short at a chunk boundary: refused at its end, with the store's exit code; the last chunk never goes on", async () => {
    const cut = sealedBlob.subarray(0, HEADER_LENGTH + 2 * (DEFAULT_CHUNK_SIZE + TAG_LENGTH));
    const g = unsealing(["cat", file("cut", cut)], key);
    expect(await g.next("unsealFailed")).toEqual({ message: "truncated archive: final chunk missing after 2 chunks", refused: true, code: 0 });
    expect(await stopped(g.proc)).toBe(143);
    await g.done;
    expect(g.received().equals(Buffer.from(plain.subarray(0, 2 * DEFAULT_CHUNK_SIZE)))).toBe(true);
  });

  test("a store failing part way: its exit code comes back (encrypted: with the refusal; unencrypted: with the counts), and the held tail never goes on", async () => {
    const enc = file("enc2", sealedBlob);
    const e = unsealing(["sh", "-c", `head -c 100000 ${enc}; exit 5`], key);
    expect(await e.next("unsealFailed")).toMatchObject({ refused: true, code: 5 });
    expect(await stopped(e.proc)).toBe(143);
    const raw = file("raw", plain);
    const u = unsealing(["sh", "-c", `head -c 100000 ${raw}; exit 5`], null);
    expect(await u.next("unsealed")).toMatchObject({ code: 5, bytes: 100000 });
    // No commit comes for a store that failed: the guard exits with its code, the tail unwritten.
    expect(await u.proc.exited).toBe(5);
    await u.done;
    expect(u.received().length).toBe(0);
  });

  test("the daemon's death: mid-read, the store and the guard are killed; after the read, the held tail is never written", async () => {
    const raw = file("raw2", plain);
    const mid = unsealing(["sh", "-c", `cat ${raw}; exec sleep 30`], null);
    // The store wrote the whole blob and waits; everything but the tail went on, which the guard holds.
    for (let i = 0; i < 100 && !inGroup(mid.proc.pid).some((p) => p.includes("sleep")); i++) await Bun.sleep(20);
    await Bun.sleep(200);
    mid.proc.disconnect();
    expect(await mid.proc.exited).toBe(137);
    for (let i = 0; i < 100 && inGroup(mid.proc.pid).length; i++) await Bun.sleep(50);
    expect(inGroup(mid.proc.pid)).toEqual([]);
    await mid.done;
    expect(mid.received().length).toBe(Math.max(0, plain.length - (1 << 20)));
    const after = unsealing(["cat", raw], null);
    await after.next("unsealed");
    after.proc.disconnect();
    expect(await after.proc.exited).toBe(137);
    await after.done;
    expect(after.received().length).toBe(0);
  });

  test("the verify pass (discard): nothing goes on, the counts come back", async () => {
    const g = guard(["--unseal"], ["cat", file("enc3", sealedBlob)]);
    g.proc.send({ unseal: { key: Buffer.from(key).toString("base64"), discard: true } });
    expect(await g.next("unsealed")).toEqual({ code: 0, bytes: sealedBlob.length, bytesOut: plain.length, sha256: null });
    g.proc.send({ commit: true });
    expect(await g.proc.exited).toBe(0);
    expect((await new Response(g.proc.stdout).arrayBuffer()).byteLength).toBe(0);
  });

  test("the built-in fs store's retrieve, a process of its own: the same plaintext, and the end of the blob seen", async () => {
    const g = unsealing([...fsStore("retrieve"), "--key", await storedInFs(sealedBlob)], key, [], storeEnv());
    expect(await g.next("unsealed")).toEqual({ code: 0, bytes: sealedBlob.length, bytesOut: plain.length, sha256: null });
    g.proc.send({ commit: true });
    expect(await g.proc.exited).toBe(0);
    await g.done;
    expect(g.received().equals(Buffer.from(plain))).toBe(true);
  });

  /** The blob `bytes` put in the fs store through its own `store`; its key. */
  async function storedInFs(bytes: Uint8Array): Promise<string> {
    const p = Bun.spawn(fsStore("store"), { stdin: bytes, stdout: "pipe", stderr: "inherit", env: { PATH: process.env.PATH!, ...storeEnv() } });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(0);
    return JSON.parse(out).key;
  }

  const blobOpen = (pid: number, storeKey: string) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`).endsWith(storeKey); } catch { return false; } });
    } catch { return false; }
  };

  /** Waits (up to 2 s) until the guard `pid` has the blob under `storeKey` open. */
  const untilReading = async (pid: number, storeKey: string) => {
    for (let i = 0; i < 100 && !blobOpen(pid, storeKey); i++) await Bun.sleep(20);
  };

  test("the built-in fs store's retrieve in the guard (--in-process fs): the guard itself reads the blob's file, no process beside it; the same plaintext", async () => {
    const key2 = await storedInFs(sealedBlob);
    const g = unsealing(["retrieve", "--key", key2], null, ["--in-process", "fs"], storeEnv(), { key: Buffer.from(key).toString("base64"), rate: 100_000 });
    // Mid-read (a bandwidth limit makes it last): the blob is open in the guard, and nothing else runs in its group.
    await untilReading(g.proc.pid, key2);
    expect(blobOpen(g.proc.pid, key2)).toBe(true);
    expect(inGroup(g.proc.pid).map((p) => p.split(" ")[0])).toEqual([String(g.proc.pid)]);
    expect(await g.next("unsealed")).toEqual({ code: 0, bytes: sealedBlob.length, bytesOut: plain.length, sha256: null });
    g.proc.send({ commit: true });
    expect(await g.proc.exited).toBe(0);
    await g.done;
    expect(g.received().equals(Buffer.from(plain))).toBe(true);
  });

  test("--in-process fs, unencrypted: hashed, the last MiB held until the commit; the verify pass (discard) passes nothing on", async () => {
    const big = new Uint8Array(3 << 20).map((_, i) => (i * 7) % 253);
    const key2 = await storedInFs(big);
    const sha256 = new Bun.CryptoHasher("sha256").update(big).digest("hex");
    const v = guard(["--unseal", "--in-process", "fs"], ["retrieve", "--key", key2], storeEnv());
    v.proc.send({ unseal: { key: null, discard: true } });
    expect(await v.next("unsealed")).toEqual({ code: 0, bytes: big.length, bytesOut: big.length, sha256 });
    v.proc.send({ commit: true });
    expect(await v.proc.exited).toBe(0);
    expect((await new Response(v.proc.stdout).arrayBuffer()).byteLength).toBe(0);
    const g = unsealing(["retrieve", "--key", key2], null, ["--in-process", "fs"], storeEnv());
    expect(await g.next("unsealed")).toEqual({ code: 0, bytes: big.length, bytesOut: big.length, sha256 });
    await Bun.sleep(200);
    expect(g.received().length).toBe(big.length - (1 << 20));
    g.proc.send({ commit: true });
    expect(await g.proc.exited).toBe(0);
    await g.done;
    expect(g.received().equals(Buffer.from(big))).toBe(true);
  });

  test("--in-process fs, no blob under the key: refused as an empty blob, with the store's exit code (4) and its words", async () => {
    const missing = "2020/01/01/00000000-0000-0000-0000-000000000000";
    const g = unsealing(["retrieve", "--key", missing], key, ["--in-process", "fs"], storeEnv());
    expect(await g.next("unsealFailed")).toEqual({ message: "empty input: not a Shield encrypted archive", refused: true, code: 4 });
    expect(await stopped(g.proc)).toBe(143);
    expect(await new Response(g.proc.stderr).text()).toContain(`fs: no blob under key ${missing}`);
    await g.done;
    expect(g.received().length).toBe(0);
  });

  test("--in-process fs, a blob altered in the store: refused at the chunk, and nothing of the read it is in goes on", async () => {
    const bad = Buffer.from(sealedBlob);
    bad[HEADER_LENGTH + 2 * (DEFAULT_CHUNK_SIZE + TAG_LENGTH) + 5]! ^= 1;
    const key2 = await storedInFs(bad);
    const g = unsealing(["retrieve", "--key", key2], key, ["--in-process", "fs"], storeEnv());
    expect(await g.next("unsealFailed")).toEqual({ message: "archive chunk 2 failed authentication: the archive is corrupted, truncated or reordered", refused: true });
    expect(await stopped(g.proc)).toBe(143);
    await g.done;
    // Chunks 0-2 came in one read of the file: the read's frames go on together or not at all.
    expect(g.received().length).toBe(0);
  });

  test("--in-process fs, something other than a file under the key (a FIFO): refused by the store (exit 4), never read", async () => {
    const key2 = await storedInFs(new Uint8Array([1]));
    const path = join(storeDir, key2);
    rmSync(path);
    expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
    const g = unsealing(["retrieve", "--key", key2], key, ["--in-process", "fs"], storeEnv());
    expect(await g.next("unsealFailed")).toEqual({ message: "empty input: not a Shield encrypted archive", refused: true, code: 4 });
    expect(await stopped(g.proc)).toBe(143);
    expect(await new Response(g.proc.stderr).text()).toContain("is not a regular file");
    rmSync(path);
  });

  test("--in-process fs, a cancel mid-read (SIGTERM to the group): the guard goes at once, having passed on only authenticated chunks", async () => {
    const key2 = await storedInFs(sealedBlob);
    const g = unsealing(["retrieve", "--key", key2], null, ["--in-process", "fs"], storeEnv(), { key: Buffer.from(key).toString("base64"), rate: 50_000 });
    await untilReading(g.proc.pid, key2);
    expect(await stopped(g.proc)).toBe(143);
    await g.done;
    expect(g.received().equals(Buffer.from(plain.subarray(0, g.received().length)))).toBe(true);
    expect(g.received().length).toBeLessThan(plain.length);
  });

  test("--in-process fs, the daemon's death mid-read: the guard is killed at once, nothing left in its group", async () => {
    const key2 = await storedInFs(sealedBlob);
    const g = unsealing(["retrieve", "--key", key2], null, ["--in-process", "fs"], storeEnv(), { key: Buffer.from(key).toString("base64"), rate: 50_000 });
    await untilReading(g.proc.pid, key2);
    g.proc.disconnect();
    expect(await g.proc.exited).toBe(137);
    for (let i = 0; i < 100 && inGroup(g.proc.pid).length; i++) await Bun.sleep(50);
    expect(inGroup(g.proc.pid)).toEqual([]);
    await g.done;
    expect(g.received().length).toBeLessThan(plain.length);
  });

  // A large blob's file is read on the guard's threads (threads.ts): the verify pass on
  // every core (verify-file.ts), the restore proper on a thread of its own. In the compiled
  // binary too, where the threads' module must be one of the build's entry points
  // (package.json), or the guard does it all on its own thread, saying so.
  test.skipIf(availableParallelism() < 2)("the compiled binary's threads over a blob of two shares: the verify pass's second share and the restore proper on worker threads, a flipped chunk refused", async () => {
    const S = DEFAULT_CHUNK_SIZE;
    const chunks = Math.ceil((2 * MIN_SHARE_BYTES) / S) + 5;
    const sealer = new ChunkSealer(key, { chunkSize: S });
    // Each chunk's bytes its own (a page lent and written over too soon would show).
    const bigPlain = Buffer.alloc(chunks * S + 77);
    new Uint32Array(bigPlain.buffer, bigPlain.byteOffset, (chunks * S) / 4).forEach((_, i, a) => (a[i] = i));
    const big = Buffer.concat([sealer.header, sealChunks(sealer, bigPlain.subarray(0, chunks * S)), sealer.seal(bigPlain.subarray(chunks * S), true)]);
    const bad = Buffer.from(big);
    bad[HEADER_LENGTH + (chunks - 3) * (S + TAG_LENGTH) + 100]! ^= 4;
    const binary = [ensureFreshBinary(), "guard"];
    const verify = async (blob: Buffer) => {
      const g = guard(["--unseal", "--in-process", "fs"], ["retrieve", "--key", await storedInFs(blob)], storeEnv(), "pipe", binary);
      g.proc.send({ unseal: { key: Buffer.from(key).toString("base64"), discard: true } });
      return g;
    };
    const good = await verify(big);
    expect(await good.next("unsealed")).toEqual({ code: 0, bytes: big.length, bytesOut: chunks * S + 77, sha256: null });
    good.proc.send({ commit: true });
    expect(await good.proc.exited).toBe(0);
    expect(await new Response(good.proc.stderr).text()).not.toContain("thread of the verify pass failed");
    const restored = unsealing(["retrieve", "--key", await storedInFs(big)], key, ["--in-process", "fs"], storeEnv(), undefined, binary);
    expect(await restored.next("unsealed")).toEqual({ code: 0, bytes: big.length, bytesOut: bigPlain.length, sha256: null });
    restored.proc.send({ commit: true });
    expect(await restored.proc.exited).toBe(0);
    await restored.done;
    expect(restored.received().equals(bigPlain)).toBe(true);
    expect(await new Response(restored.proc.stderr).text()).not.toContain("could not begin");
    // Read by a decompressor of ours, the plaintext's pages are lent to the FIFO (lend.ts): `cat` copies as zstd does.
    const lent = unsealing(["retrieve", "--key", await storedInFs(big)], key, ["--in-process", "fs"], storeEnv(), { key: Buffer.from(key).toString("base64"), lend: true }, binary);
    expect(await lent.next("unsealed")).toEqual({ code: 0, bytes: big.length, bytesOut: bigPlain.length, sha256: null });
    lent.proc.send({ commit: true });
    expect(await lent.proc.exited).toBe(0);
    await lent.done;
    expect(lent.received().equals(bigPlain)).toBe(true);
    const refused = await verify(bad);
    expect(await refused.next("unsealFailed")).toEqual({
      message: `archive chunk ${chunks - 3} failed authentication: the archive is corrupted, truncated or reordered`, refused: true,
    });
    expect(await stopped(refused.proc)).toBe(143);
  }, 60_000);

  test("--unseal --in-process of a store whose blobs are not local files is refused: a cloud store's writers of fd 1 could keep the FIFO open past the end of the blob", async () => {
    const { proc } = guard(["--unseal", "--in-process", "s3"], ["retrieve", "--key", "x"]);
    expect(await proc.exited).toBe(1);
    expect(await new Response(proc.stderr).text()).toContain("--unseal --in-process s3: not a built-in store whose blobs are local files");
  });

  test("--unseal with a held input, --seal or --store is refused", async () => {
    const { proc } = guard(["--unseal", "--store"], ["cat", "/dev/null"]);
    expect(await proc.exited).toBe(1);
    expect(await new Response(proc.stderr).text()).toContain("--unseal is for a store's retrieve alone");
  });
});
