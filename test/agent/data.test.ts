// The agent's data port (src/agent/data.ts), in-process: a connection is taken only
// with the request's one-time token, from the core's address, once. And the relay's end
// of it (src/agent/data-receiver.ts), which splices what arrives into the store's FIFO.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataPort, helloLine, sameHost } from "../../src/agent/data.ts";
import { DataReceiver } from "../../src/agent/data-receiver.ts";
import { CLOSED_EARLY, gathering, socketWriter } from "../../src/agent/socket-writer.ts";
import { counted } from "../../src/pipeline/seal.ts";
import { sockaddr } from "../../src/agent/sockaddr.ts";
import { widenPipe } from "../../src/pipeline/fifo.ts";
import { freePort } from "../helpers/services.ts";

const token = () => randomBytes(32).toString("hex");

/** Dials the port, sends `hello`; resolves with the socket once it is closed by the far end, or after `ms` still open. */
function dial(port: number, hello: Buffer | string, ms = 300): Promise<{ closed: boolean; sock: Socket }> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    sock.on("error", () => {});
    sock.on("connect", () => sock.write(hello));
    const timer = setTimeout(() => resolve({ closed: false, sock }), ms);
    sock.on("close", () => { clearTimeout(timer); resolve({ closed: true, sock }); });
  });
}

describe("the data port", () => {
  let dp: DataPort;
  beforeAll(async () => { dp = await DataPort.listen("127.0.0.1", 0); });
  afterAll(async () => { await dp.close(); });

  test("the right token from the core's address is accepted, once; the bytes then flow", async () => {
    const t = token();
    const wait = dp.expect(t, "127.0.0.1");
    const core = await dial(dp.port, helloLine(t));
    expect(core.closed).toBe(false);
    const agentSide = await wait.connection;
    const got: Buffer[] = [];
    core.sock.on("data", (b: Buffer) => got.push(b));
    agentSide.end(Buffer.from("sealed archive bytes"));
    await new Promise((r) => core.sock.on("end", r));
    expect(Buffer.concat(got).toString()).toBe("sealed archive bytes");
    // Used: a second connection with it is dropped.
    expect((await dial(dp.port, helloLine(t))).closed).toBe(true);
  });

  test("a wrong token, a malformed first line, or another peer's address are dropped", async () => {
    const t = token();
    const wait = dp.expect(t, "127.0.0.1");
    expect((await dial(dp.port, helloLine(token()))).closed).toBe(true);
    expect((await dial(dp.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + "x".repeat(80))).closed).toBe(true);
    // The token sent with more behind it (nothing may come before the agent accepts).
    expect((await dial(dp.port, Buffer.concat([helloLine(t), Buffer.from("extra")]))).closed).toBe(true);
    wait.cancel();
    // Expected from another host: the right token from here is not enough.
    const t2 = token();
    const other = dp.expect(t2, "10.9.8.7");
    expect((await dial(dp.port, helloLine(t2))).closed).toBe(true);
    other.cancel();
    // Canceled: the token is no longer taken.
    expect((await dial(dp.port, helloLine(t))).closed).toBe(true);
  });

  describe("the agent's writer (socket-writer.ts)", () => {
    /** A data connection as the agent holds it, and the core's end, which reads only when told to. */
    async function pair() {
      const t = token();
      const wait = dp.expect(t, "127.0.0.1");
      const core = await dial(dp.port, helloLine(t));
      const agentSide = await wait.connection;
      core.sock.pause();
      const got: Buffer[] = [];
      core.sock.on("data", (b: Buffer) => got.push(b));
      return { agentSide, core: core.sock, got, ended: new Promise((r) => core.sock.on("end", r)) };
    }

    /** 24 MiB in writes of 1 MiB from one buffer, overwritten as soon as each write let go of it; the reader late. */
    async function sendReusing(write: (b: Uint8Array) => void | Promise<void>, core: Socket): Promise<Buffer> {
      const buf = Buffer.alloc(1 << 20);
      const sent: Buffer[] = [];
      setTimeout(() => core.resume(), 200);
      for (let i = 0; i < 24; i++) {
        randomBytes(buf.length).copy(buf);
        sent.push(Buffer.from(buf));
        await write(buf);
      }
      return Buffer.concat(sent);
    }

    test("every byte, in order, from a buffer reused as soon as a write returns, past a full socket", async () => {
      const { agentSide, core, got, ended } = await pair();
      const sent = await sendReusing(socketWriter(agentSide, () => agentSide.destroyed), core);
      agentSide.end();
      await ended;
      expect(Buffer.concat(got).equals(sent)).toBe(true);
    });

    test("where it cannot poll (another stream in this process), through the socket, each write awaited: the same bytes", async () => {
      const { agentSide, core, got, ended } = await pair();
      const sent = await counted(() => counted(() => sendReusing(socketWriter(agentSide, () => agentSide.destroyed), core)));
      agentSide.end();
      await ended;
      expect(Buffer.concat(got).equals(sent)).toBe(true);
    });

    test("gathered into writes of a MiB (the last one shorter): the same bytes, in order, past a full socket", async () => {
      const { agentSide, core, got, ended } = await pair();
      const sizes: number[] = [];
      const direct = socketWriter(agentSide, () => agentSide.destroyed);
      const onto = gathering((b) => { sizes.push(b.length); return direct(b); }, 1 << 20);
      // Pieces of every size, as the sealing loop's reads give them, from one buffer reused at once.
      const buf = Buffer.alloc(300_000);
      const sent: Buffer[] = [];
      setTimeout(() => core.resume(), 200);
      for (let i = 0, total = 0; total < (24 << 20) + 12345; i++) {
        const piece = buf.subarray(0, Math.min(1 + ((i * 7919) % buf.length), (24 << 20) + 12345 - total));
        randomBytes(piece.length).copy(piece);
        sent.push(Buffer.from(piece));
        total += piece.length;
        await onto.write(piece);
      }
      await onto.flush();
      await onto.flush(); // nothing left: no write
      agentSide.end();
      await ended;
      expect(Buffer.concat(got).equals(Buffer.concat(sent))).toBe(true);
      expect(sizes.slice(0, -1).every((n) => n === 1 << 20)).toBe(true);
      expect(sizes.at(-1)).toBe(12345);
    });

    test("gathered: a write that fails (the core's end gone) fails the write or the flush that made it", async () => {
      const { agentSide, core } = await pair();
      const onto = gathering(socketWriter(agentSide, () => agentSide.destroyed), 1 << 20);
      core.destroy();
      await new Promise((r) => agentSide.once("close", r));
      await onto.write(Buffer.alloc(1000)); // gathered, not yet sent
      await expect(onto.flush()).rejects.toThrow(CLOSED_EARLY);
      await expect(onto.write(Buffer.alloc(2 << 20))).rejects.toThrow(CLOSED_EARLY);
    });

    test("the core's end gone: a write says the connection closed before the archive's end", async () => {
      const { agentSide, core } = await pair();
      const write = socketWriter(agentSide, () => agentSide.destroyed);
      core.destroy();
      await new Promise((r) => agentSide.once("close", r));
      let err: Error | undefined;
      try {
        for (let i = 0; i < 100 && !err; i++) await write(Buffer.alloc(1 << 20));
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).toStartWith(CLOSED_EARLY);
    });
  });

  test("sameHost reads an IPv4-mapped address as the IPv4 one", () => {
    expect(sameHost("::ffff:10.1.2.3", "10.1.2.3")).toBe(true);
    expect(sameHost("10.1.2.3", "10.1.2.4")).toBe(false);
    expect(sameHost(undefined, "10.1.2.3")).toBe(false);
  });
});

// The relay's end (data-receiver.ts): the real data port on one side, a FIFO read by
// another process on the other, as the store's guard reads the relay's stdout.
describe("the relay's data receiver", () => {
  let dp: DataPort;
  let dir: string;
  let fifos = 0;
  beforeAll(async () => {
    dp = await DataPort.listen("127.0.0.1", 0);
    dir = mkdtempSync(join(tmpdir(), "shield-test-data-receiver-"));
  });
  afterAll(async () => {
    await dp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A FIFO whose reader (`reader`, a shell command reading stdin) is another process; its 1 MiB write end for the receiver. */
  function storePipe(reader = "cat"): { out: number; got: string; proc: Bun.Subprocess } {
    const path = join(dir, `fifo-${++fifos}`);
    expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
    const got = join(dir, `got-${fifos}`);
    const proc = Bun.spawn(["sh", "-c", `${reader} < ${path} > ${got}`]);
    const out = openSync(path, "w");
    widenPipe(out);
    return { out, got, proc };
  }

  test("every byte into the FIFO, in order, and a clean end counted", async () => {
    const t = token();
    const wait = dp.expect(t, "127.0.0.1");
    const store = storePipe();
    let failed = false;
    // By name, as an agent's address may be: resolved first.
    const rx = new DataReceiver("localhost", dp.port, t, store.out, () => { failed = true; });
    expect(await rx.connected).toBe(true);
    const agentSide = await wait.connection;
    const archive = randomBytes(24 << 20);
    agentSide.end(archive);
    const end = await rx.finished(10_000);
    closeSync(store.out);
    expect(await store.proc.exited).toBe(0);
    expect(end).toEqual({ clean: true, bytes: archive.length, error: undefined });
    expect(readFileSync(store.got).equals(archive)).toBe(true);
    expect(failed).toBe(false);
  });

  test("cut before its end (a reset): not clean, and the relay is told at once", async () => {
    const t = token();
    const wait = dp.expect(t, "127.0.0.1");
    const store = storePipe();
    let failed = false;
    const rx = new DataReceiver("127.0.0.1", dp.port, t, store.out, () => { failed = true; });
    expect(await rx.connected).toBe(true);
    const agentSide = await wait.connection;
    agentSide.write(randomBytes(3 << 20));
    await Bun.sleep(100);
    agentSide.resetAndDestroy();
    for (let i = 0; i < 100 && !failed; i++) await Bun.sleep(20);
    expect(failed).toBe(true);
    const end = await rx.finished(0);
    expect(end.clean).toBe(false);
    expect(end.error).toContain("ECONNRESET");
    closeSync(store.out);
    await store.proc.exited;
  });

  test("a store that stops reading: EPIPE, said as the store's, and the connection broken off", async () => {
    const t = token();
    const wait = dp.expect(t, "127.0.0.1");
    const store = storePipe("head -c 100000");
    let failed = false;
    const rx = new DataReceiver("127.0.0.1", dp.port, t, store.out, () => { failed = true; });
    expect(await rx.connected).toBe(true);
    const agentSide = await wait.connection;
    agentSide.on("error", () => {});
    const closed = new Promise((r) => agentSide.on("close", r));
    agentSide.write(randomBytes(8 << 20));
    for (let i = 0; i < 250 && !failed; i++) await Bun.sleep(20);
    expect(failed).toBe(true);
    expect(rx.storeError).toContain("EPIPE");
    expect((await rx.finished(0)).clean).toBe(false);
    await closed;
    closeSync(store.out);
  });

  test("nothing listening: not connected, and why", async () => {
    const store = storePipe();
    const rx = new DataReceiver("127.0.0.1", await freePort(), token(), store.out, () => {});
    expect(await rx.connected).toBe(false);
    expect(rx.error).toMatch(/^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    closeSync(store.out);
    await store.proc.exited;
  });
});

test("sockaddr: IPv4 and IPv6 in the kernel's layout, the port in network order; anything else refused", () => {
  const v4 = sockaddr("10.1.2.3", 5444)!;
  expect(v4.family).toBe(2);
  expect([...v4.bytes]).toEqual([2, 0, 0x15, 0x44, 10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
  const v6 = sockaddr("::1", 443)!;
  expect(v6.family).toBe(10);
  expect(v6.bytes.length).toBe(28);
  expect([...v6.bytes.subarray(0, 4)]).toEqual([10, 0, 1, 0xbb]);
  expect([...v6.bytes.subarray(8, 24)]).toEqual([...new Array(15).fill(0), 1]);
  expect([...sockaddr("2001:db8::ff00:42", 1)!.bytes.subarray(8, 24)]).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42]);
  expect([...sockaddr("::ffff:10.0.0.1", 1)!.bytes.subarray(20, 24)]).toEqual([10, 0, 0, 1]);
  for (const bad of ["localhost", "1.2.3", "1.2.3.256", "1::2::3", "12345::1", "1:2:3:4:5:6:7:8:9", ""]) expect(sockaddr(bad, 1), bad).toBeNull();
});
