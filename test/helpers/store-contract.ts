// What every store must do, as tests any store's test file can run against its
// own real server: `storeContract(sut)`. In the spirit of restic's backend test
// suite. The store is run as the daemon runs it, `shield plugin NAME ACTION` with
// the endpoint in SHIELD_ENDPOINT (and, for the cases the daemon's guard decides,
// under a real `shield guard`). Written for the azure store first; meant to be
// the shared store conformance suite (fs, s3, the example shell store).
import { describe, expect, test } from "bun:test";
import type { FileSink, Subprocess } from "bun";
import { randomBytes } from "node:crypto";
import { closeSync, constants as C, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { FromGuard } from "../../src/pipeline/guard.ts";

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");
const GUARD = join(ROOT, "src/pipeline/guard.ts");
export const MiB = 1024 * 1024;

export interface StoreUnderTest {
  /** The plugin's name (`shield plugin NAME`). */
  plugin: string;
  /** A valid endpoint to a store of its own (nothing else writes there meanwhile). */
  endpoint(): Record<string, unknown>;
  /** The keys of every complete blob in the store now (uncommitted uploads are not blobs). */
  blobs(): Promise<string[]>;
  /** The size of the streamed large round trip (restic's suite: 1 GiB; smaller where the server is slow). */
  largeSize: number;
  /** Peak RSS a store or retrieve process of largeSize stays under (well below largeSize + the runtime). */
  memoryBound: number;
  /** Endpoints validate must refuse, with the exit code and a word of the message. */
  invalid: { endpoint: Record<string, unknown>; code: 12 | 13; says: string }[];
  /** A well-formed key that names no blob. */
  missingKey(): string;
  /** An endpoint with a wrong credential: the live test must fail. */
  wrongCredential(): Record<string, unknown>;
}

export interface Run { code: number; stdout: Buffer; stderr: string }

function env(endpoint: object): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) out[k] = v;
  return { ...out, SHIELD_ENDPOINT: JSON.stringify(endpoint) };
}

export function spawnPlugin(plugin: string, args: string[], endpoint: object, stdin: Uint8Array | "pipe" | "ignore" = "ignore") {
  return Bun.spawn([process.execPath, MAIN, "plugin", plugin, ...args], {
    cwd: ROOT, env: env(endpoint), stdin, stdout: "pipe", stderr: "pipe",
  });
}

export async function runPlugin(plugin: string, args: string[], endpoint: object, stdin?: Uint8Array): Promise<Run> {
  const proc = spawnPlugin(plugin, args, endpoint, stdin ?? "ignore");
  const [out, stderr, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout: Buffer.from(out), stderr };
}

/** The key a successful store printed. */
export function keyOf(r: Run): string {
  if (r.code !== 0) throw new Error(`store failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout.toString()).key;
}

/** Peak resident memory of a process so far (VmHWM), in bytes; 0 once it is gone. */
export function peakRss(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Streams `size` random bytes into a running store, hashing them; never all in memory. */
async function feedRandom(sink: FileSink, size: number): Promise<string> {
  const hash = new Bun.CryptoHasher("sha256");
  for (let sent = 0; sent < size;) {
    const chunk = randomBytes(Math.min(4 * MiB, size - sent));
    hash.update(chunk);
    sink.write(chunk);
    await sink.flush();
    sent += chunk.byteLength;
  }
  await sink.end();
  return hash.digest("hex");
}

/** A guard driven as the daemon drives it (test/pipeline/guard.test.ts does the same for fs). */
function guard(flags: string[], argv: string[], endpoint: object) {
  const messages: FromGuard[] = [];
  let notify = () => {};
  const proc = Bun.spawn([process.execPath, GUARD, ...flags, "--", ...argv], {
    stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true, serialization: "json",
    env: { PATH: process.env.PATH!, SHIELD_ENDPOINT: JSON.stringify(endpoint) },
    ipc: (m: FromGuard) => { messages.push(m); notify(); },
  });
  const next = async (key: string): Promise<any> => {
    for (;;) {
      const m = messages.find((x) => key in x);
      if (m) return (m as any)[key];
      await new Promise<void>((r) => { notify = r; setTimeout(r, 100); });
      if (proc.exitCode !== null) throw new Error(`guard exited (${proc.exitCode}) before sending ${key}: ${await new Response(proc.stderr).text()}`);
    }
  };
  return { proc, next };
}

export function storeContract(sut: StoreUnderTest): void {
  const run = (args: string[], stdin?: Uint8Array, endpoint = sut.endpoint()) => runPlugin(sut.plugin, args, endpoint, stdin);
  const storeCmd = (action: string) => [process.execPath, MAIN, "plugin", sut.plugin, action];

  describe(`${sut.plugin}: store then retrieve is byte-identical`, () => {
    for (const [label, size] of [["0 B", 0], ["1 B", 1], ["5 MiB + 1", 5 * MiB + 1]] as const) {
      test(label, async () => {
        const data = randomBytes(size);
        const s = await run(["store"], data);
        const key = keyOf(s);
        expect(JSON.parse(s.stdout.toString()).size).toBe(size);
        expect(await sut.blobs()).toContain(key);
        const r = await run(["retrieve", "--key", key]);
        expect(r.code).toBe(0);
        expect(r.stdout.byteLength).toBe(size);
        expect(Buffer.compare(r.stdout, data)).toBe(0);
      });
    }

    test(`${sut.largeSize / MiB} MiB, streamed both ways (never whole in memory)`, async () => {
      const proc = spawnPlugin(sut.plugin, ["store"], sut.endpoint(), "pipe");
      let peak = 0;
      const watch = setInterval(() => { peak = Math.max(peak, peakRss(proc.pid)); }, 100);
      const [sha, out, err, code] = await Promise.all([
        feedRandom(proc.stdin as FileSink, sut.largeSize), new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited,
      ]);
      clearInterval(watch);
      expect({ code, err }).toEqual({ code: 0, err: "" });
      const key = JSON.parse(out).key;
      expect(JSON.parse(out).size).toBe(sut.largeSize);

      const r = spawnPlugin(sut.plugin, ["retrieve", "-k", key], sut.endpoint());
      let rPeak = 0;
      const rWatch = setInterval(() => { rPeak = Math.max(rPeak, peakRss(r.pid)); }, 100);
      const hash = new Bun.CryptoHasher("sha256");
      let got = 0;
      for await (const chunk of r.stdout as ReadableStream<Uint8Array>) { hash.update(chunk); got += chunk.byteLength; }
      expect(await r.exited).toBe(0);
      clearInterval(rWatch);
      expect(got).toBe(sut.largeSize);
      expect(hash.digest("hex")).toBe(sha);
      console.log(`${sut.plugin}: ${sut.largeSize / MiB} MiB round trip; peak RSS store ${(peak / MiB).toFixed(0)} MiB, retrieve ${(rPeak / MiB).toFixed(0)} MiB`);
      // Bounded memory: a few blocks in flight, not the archive.
      expect(peak).toBeLessThan(sut.memoryBound);
      expect(rPeak).toBeLessThan(sut.memoryBound);
      expect((await run(["purge", "-k", key])).code).toBe(0);
    });
  });

  describe(`${sut.plugin}: keys, purge and the missing`, () => {
    test("a key is printed only once its blob is complete; before the input ends there is no blob", async () => {
      const before = await sut.blobs();
      const proc = spawnPlugin(sut.plugin, ["store"], sut.endpoint(), "pipe");
      const sink = proc.stdin as FileSink;
      const data = randomBytes(12 * MiB + 7);
      sink.write(data.subarray(0, 11 * MiB));
      await sink.flush();
      await Bun.sleep(1500); // blocks are staged meanwhile
      expect(proc.exitCode).toBeNull();
      expect(await sut.blobs()).toEqual(before);
      sink.write(data.subarray(11 * MiB));
      await sink.end();
      const out = await new Response(proc.stdout).text();
      expect(await proc.exited).toBe(0);
      const key = JSON.parse(out).key;
      // The moment the key is out, the blob is there, whole.
      const r = await run(["retrieve", "-k", key]);
      expect(Buffer.compare(r.stdout, data)).toBe(0);
    });

    test("purge is idempotent; a purged key retrieves as missing (4)", async () => {
      const key = keyOf(await run(["store"], Buffer.from("to be purged")));
      expect((await run(["purge", "-k", key])).code).toBe(0);
      expect(await sut.blobs()).not.toContain(key);
      const again = await run(["purge", "-k", key]);
      expect(again.code).toBe(0);
      const r = await run(["retrieve", "-k", key]);
      expect(r.code).toBe(4);
      expect(r.stdout.byteLength).toBe(0);
    });

    test("retrieve of a key with no blob fails with exit 4, nothing on stdout", async () => {
      const key = sut.missingKey();
      const r = await run(["retrieve", "-k", key]);
      expect(r.code).toBe(4);
      expect(r.stdout.byteLength).toBe(0);
      expect(r.stderr).toContain(key);
    });

    test("concurrent stores do not collide: distinct keys, each its own bytes", async () => {
      const inputs = [1, 2, 3, 4].map((i) => randomBytes(i * MiB + i));
      const keys = (await Promise.all(inputs.map((d) => run(["store"], d)))).map(keyOf);
      expect(new Set(keys).size).toBe(4);
      const back = await Promise.all(keys.map((k) => run(["retrieve", "-k", k])));
      back.forEach((r, i) => expect(Buffer.compare(r.stdout, inputs[i]!)).toBe(0));
      await Promise.all(keys.map((k) => run(["purge", "-k", k])));
    });
  });

  describe(`${sut.plugin}: a store that does not reach its commit leaves no blob`, () => {
    test("the daemon dies before the commit: the guard kills the store while its input is still open", async () => {
      const before = await sut.blobs();
      const { proc, next } = guard(["--held-input", "--store"], storeCmd("store"), sut.endpoint());
      proc.send({ purge: storeCmd("purge") });
      const fifo = await next("fifo");
      const fd = openSync(fifo, C.O_WRONLY | C.O_NONBLOCK);
      proc.send({ opened: true });
      const sink = Bun.file(fd).writer();
      sink.write(randomBytes(9 * MiB));
      await sink.flush();
      await Bun.sleep(500);
      // What a dying daemon does: its end of the data closes, and so does the lifeline.
      await sink.end();
      closeSync(fd);
      proc.disconnect();
      expect(await proc.exited).not.toBe(0);
      await Bun.sleep(300);
      expect(await sut.blobs()).toEqual(before);
    });

    test("the built-in store inside its guard (--seal --in-process): never committed, no blob", async () => {
      const before = await sut.blobs();
      const dir = mkdtempSync(join(tmpdir(), "shield-test-contract-"));
      const path = join(dir, "input");
      expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
      const hold = openSync(path, C.O_RDWR);
      // A built-in runs inside its guard by name (plugin-host/in-process.ts), given the arguments of its action.
      const g = guard(["--held-fifo", path, "--seal", "--in-process", sut.plugin, "--store"], ["store"], sut.endpoint());
      g.proc.send({ purge: storeCmd("purge") });
      g.proc.send({ seal: { key: null } });
      expect(await g.next("fifo")).toBe(path);
      const fd = openSync(path, C.O_WRONLY | C.O_NONBLOCK);
      closeSync(hold);
      g.proc.send({ opened: true });
      const sink = Bun.file(fd).writer();
      sink.write(randomBytes(3 * MiB));
      await sink.end();
      closeSync(fd);
      await g.next("sealed");
      g.proc.disconnect();
      expect(await g.proc.exited).not.toBe(0);
      rmSync(dir, { recursive: true, force: true });
      await Bun.sleep(300);
      expect(await sut.blobs()).toEqual(before);
    });

    for (const sig of ["SIGTERM", "SIGKILL"] as const) {
      test(`a store stopped by ${sig} mid-stream leaves no blob and prints no key`, async () => {
        const before = await sut.blobs();
        const proc: Subprocess = spawnPlugin(sut.plugin, ["store"], sut.endpoint(), "pipe");
        const sink = proc.stdin as FileSink;
        sink.write(randomBytes(10 * MiB));
        await sink.flush();
        await Bun.sleep(1000);
        proc.kill(sig);
        expect(await proc.exited).not.toBe(0);
        expect(await new Response(proc.stdout as ReadableStream).text()).toBe("");
        await Bun.sleep(300);
        expect(await sut.blobs()).toEqual(before);
      });
    }
  });

  describe(`${sut.plugin}: validate and test`, () => {
    test("a valid endpoint validates (0) without showing a secret", async () => {
      const r = await run(["validate"]);
      expect(r.code).toBe(0);
      const info = JSON.parse((await run(["info"])).stdout.toString());
      const secrets = info.fields.filter((f: { type: string }) => f.type === "password").map((f: { name: string }) => f.name);
      expect(secrets.length).toBeGreaterThan(0);
      const ep = sut.endpoint();
      for (const name of secrets) if (typeof ep[name] === "string") expect(r.stdout.toString()).not.toContain(ep[name] as string);
    });

    test("bad endpoints are refused: 12 for a missing field, 13 for a bad value, one clear line", async () => {
      for (const bad of sut.invalid) {
        const r = await run(["validate"], undefined, bad.endpoint);
        expect({ endpoint: bad.endpoint, code: r.code }).toEqual({ endpoint: bad.endpoint, code: bad.code });
        expect(r.stderr).toContain(bad.says);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
      }
    });

    test("test does a live check: can connect, write and delete; leaves nothing", async () => {
      const before = await sut.blobs();
      const r = await run(["test"]);
      expect(r.code).toBe(0);
      expect(r.stdout.toString()).toContain("ok");
      expect(await sut.blobs()).toEqual(before);
    });

    test("test with a wrong credential fails, saying why", async () => {
      const r = await run(["test"], undefined, sut.wrongCredential());
      expect(r.code).not.toBe(0);
      expect(r.stderr.length).toBeGreaterThan(0);
    });
  });
}
