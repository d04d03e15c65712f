// A small Redis client: RESP2 over one TCP (or TLS) connection, commands sent
// one at a time or pipelined, and the raw byte stream of a replication sync.
//
// Why not an npm client: the backup over the network reads the replication
// stream (SYNC), which no client library exposes as a stream; with our own
// socket reading that stream, the plain commands are a few dozen more lines, and
// the password only ever travels inside the connection (AUTH), never in a
// process's arguments or environment.
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

/** An error reply: the server's own words (WRONGPASS ..., ERR ...). */
export class RedisError extends Error {}

/** The connection failed or closed; the message says where and when. */
export class ConnectionError extends Error {}

export type Reply = string | number | Buffer | null | Reply[] | RedisError;

export interface ConnectOptions {
  host: string;
  port: number;
  tls?: boolean;
  /** TLS: accept any certificate. */
  insecure?: boolean;
  user?: string;
  password?: string;
  /** For connect and for each reply waited on; 0: wait forever. */
  timeoutMs?: number;
  /** A unix socket instead of host:port (the private server of a network restore). */
  path?: string;
}

/** Buffered bytes beyond which the socket is paused until the reader catches up. */
const HIGH_WATER = 4 << 20;

export class RedisConnection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter?: () => void;
  private ended?: Error;
  private full = false;
  readonly where: string;

  private constructor(private readonly socket: Socket, where: string, private readonly timeoutMs: number) {
    this.where = where;
    socket.on("data", (b: Buffer) => {
      this.chunks.push(b);
      this.buffered += b.byteLength;
      if (this.buffered > HIGH_WATER) socket.pause();
      this.wake();
    });
    socket.on("end", () => { this.ended ??= new ConnectionError(`${this.where} closed the connection`); this.wake(); });
    socket.on("close", () => { this.ended ??= new ConnectionError(`${this.where} closed the connection`); this.wake(); });
    socket.on("error", (err) => { this.ended ??= new ConnectionError(`${this.where}: ${err.message}`); this.wake(); });
  }

  /** Connects, and signs in when a password is given (AUTH [user] password). */
  static async open(o: ConnectOptions): Promise<RedisConnection> {
    const where = o.path ?? `${o.host.includes(":") ? `[${o.host}]` : o.host}:${o.port}`;
    const timeoutMs = o.timeoutMs ?? 30_000;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const fail = (err: Error) => reject(new ConnectionError(`cannot connect to Redis at ${where}: ${err.message}`));
      const s: Socket = o.path
        ? netConnect({ path: o.path })
        : o.tls
          ? tlsConnect({ host: o.host, port: o.port, servername: /^[\d.:]+$/.test(o.host) ? undefined : o.host, rejectUnauthorized: !o.insecure })
          : netConnect({ host: o.host, port: o.port });
      const timer = timeoutMs ? setTimeout(() => { s.destroy(); fail(new Error(`no answer within ${timeoutMs / 1000} s`)); }, timeoutMs) : undefined;
      s.once(o.tls && !o.path ? "secureConnect" : "connect", () => { clearTimeout(timer); s.removeAllListeners("error"); resolve(s); });
      s.once("error", (err) => { clearTimeout(timer); fail(err); });
    });
    socket.setNoDelay(true);
    const conn = new RedisConnection(socket, `Redis at ${where}`, timeoutMs);
    if (o.password !== undefined) {
      const r = await conn.call(...(o.user ? ["AUTH", o.user, o.password] : ["AUTH", o.password]));
      if (r instanceof RedisError) { conn.close(); throw r; }
    }
    return conn;
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Waits for more bytes; throws when the connection ended or went quiet past the timeout. */
  private async more(timeoutMs = this.timeoutMs): Promise<void> {
    if (this.ended) throw this.ended;
    this.socket.resume();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    await new Promise<void>((resolve) => {
      this.waiter = resolve;
      if (timeoutMs) timer = setTimeout(() => { timedOut = true; this.wake(); }, timeoutMs);
    });
    clearTimeout(timer);
    if (timedOut && this.chunks.length === 0) throw new ConnectionError(`${this.where} did not answer within ${timeoutMs / 1000} s`);
    if (this.chunks.length === 0 && this.ended) throw this.ended;
  }

  /**
   * The first `n` buffered bytes (n <= buffered), taken off the buffer. Copies only
   * when they span chunks: a reply inside one chunk is a view of it (each chunk is
   * a fresh Buffer from the socket, never reused).
   */
  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.chunks[0]!;
    if (first.byteLength >= n) {
      out = first.subarray(0, n);
      if (first.byteLength === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const parts: Buffer[] = [];
      let need = n;
      while (need > 0) {
        const c = this.chunks[0]!;
        if (c.byteLength <= need) { parts.push(c); this.chunks.shift(); need -= c.byteLength; }
        else { parts.push(c.subarray(0, need)); this.chunks[0] = c.subarray(need); need = 0; }
      }
      out = Buffer.concat(parts, n);
    }
    this.buffered -= n;
    if (this.buffered <= HIGH_WATER) this.socket.resume();
    return out;
  }

  /** Where the first CRLF ends in the first chunk (merging chunks only while a line spans them), or -1. */
  private lineEnd(): number {
    for (;;) {
      const first = this.chunks[0];
      if (!first) return -1;
      const at = first.indexOf("\r\n");
      if (at >= 0) return at;
      if (this.chunks.length < 2) return -1;
      this.chunks.splice(0, 2, Buffer.concat([first, this.chunks[1]!]));
    }
  }

  /** One line without its CRLF. */
  async line(timeoutMs?: number): Promise<string> {
    for (;;) {
      const at = this.lineEnd();
      if (at >= 0) return this.take(at + 2).subarray(0, at).toString("utf8");
      await this.more(timeoutMs);
    }
  }

  private async exactly(n: number): Promise<Buffer> {
    while (this.buffered < n) await this.more();
    return this.take(n);
  }

  /** One reply; an error reply is returned (not thrown) so that pipelines can read on. */
  async reply(): Promise<Reply> {
    const head = await this.line();
    const kind = head[0];
    const rest = head.slice(1);
    switch (kind) {
      case "+": return rest;
      case "-": return new RedisError(rest);
      case ":": return Number(rest);
      case "$": {
        const n = Number(rest);
        if (n < 0) return null;
        const body = await this.exactly(n + 2);
        return body.subarray(0, n);
      }
      case "*": {
        const n = Number(rest);
        if (n < 0) return null;
        const items: Reply[] = [];
        for (let i = 0; i < n; i++) items.push(await this.reply());
        return items;
      }
      default:
        throw new ConnectionError(`${this.where} sent something that is not a Redis reply (${JSON.stringify(head.slice(0, 40))})`);
    }
  }

  /** Sends commands without waiting (a pipeline); read their replies with reply(). */
  send(...commands: (string | Buffer | number)[][]): void {
    const parts: Buffer[] = [];
    for (const args of commands) {
      parts.push(Buffer.from(`*${args.length}\r\n`));
      for (const a of args) {
        const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
        parts.push(Buffer.from(`$${b.byteLength}\r\n`), b, Buffer.from("\r\n"));
      }
    }
    // 'drain' comes only after a write that returned false: remember that one.
    if (!this.socket.write(Buffer.concat(parts))) this.full = true;
  }

  /** Waits until what was sent has left our buffers (a pipeline's backpressure). */
  async drained(): Promise<void> {
    if (!this.full) return;
    if (this.ended) throw this.ended;
    await new Promise<void>((resolve) => {
      const done = () => { this.full = false; this.socket.off("drain", done); this.socket.off("close", done); resolve(); };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
  }

  /** One command; its reply, an error reply included. */
  async call(...args: (string | Buffer | number)[]): Promise<Reply> {
    this.send(args);
    return this.reply();
  }

  /** One command whose error reply is thrown, in the server's words. */
  async must(...args: (string | Buffer | number)[]): Promise<Reply> {
    const r = await this.call(...args);
    if (r instanceof RedisError) throw new RedisError(`${this.where} refused ${String(args[0]).toUpperCase()}: ${r.message}`);
    return r;
  }

  /** INFO SECTION as name → value. */
  async info(section: string): Promise<Map<string, string>> {
    const r = await this.must("INFO", section);
    const map = new Map<string, string>();
    for (const l of String(r).split("\r\n")) {
      const at = l.indexOf(":");
      if (at > 0 && !l.startsWith("#")) map.set(l.slice(0, at), l.slice(at + 1));
    }
    return map;
  }

  /** CONFIG GET NAME: the value, or undefined when the server has no such setting. */
  async config(name: string): Promise<string | undefined> {
    const r = await this.must("CONFIG", "GET", name);
    return Array.isArray(r) && r.length >= 2 ? String(r[1]) : undefined;
  }

  /**
   * The bytes of a replication sync, after the command that started it: the
   * master first sends newlines while it prepares the RDB, then either
   * `$LENGTH\r\n` and that many bytes (an RDB written to its disk), or
   * `$EOF:<40 chars>\r\n`, the bytes, and the same 40 chars (a diskless sync).
   * Chunks are yielded as they come; the generator's consumer is the
   * backpressure: the socket is paused while our buffer is full. Throws when the
   * connection ends before the RDB's end.
   */
  async *rdbStream(prepareTimeoutMs: number): AsyncGenerator<Buffer> {
    let head: string;
    for (;;) {
      // Skip the keep-alive newlines.
      while (this.chunks.length && this.chunks[0]![0] === 0x0a) this.take(1);
      if (this.chunks.length && this.lineEnd() >= 0) { head = await this.line(); break; }
      await this.more(prepareTimeoutMs);
    }
    if (head.startsWith("-")) throw new RedisError(`${this.where} refused SYNC: ${head.slice(1)}`);
    if (!head.startsWith("$")) throw new ConnectionError(`${this.where} did not start a sync (it said ${JSON.stringify(head.slice(0, 60))})`);
    if (head.startsWith("$EOF:")) {
      const mark = Buffer.from(head.slice(5));
      if (mark.byteLength !== 40) throw new ConnectionError(`${this.where} sent a malformed sync header`);
      // Everything but the last 40 bytes seen may go out: they might be the mark.
      let total = 0;
      for (;;) {
        if (this.buffered > 40) {
          const out = this.take(Math.min(this.chunks[0]!.byteLength, this.buffered - 40));
          total += out.byteLength;
          yield out;
          continue;
        }
        if (this.buffered === 40 && Buffer.concat(this.chunks).equals(mark)) return;
        try {
          await this.more();
        } catch (err) {
          throw new ConnectionError(`${(err as Error).message} after ${total} bytes of the RDB, before its end`);
        }
      }
    }
    const length = Number(head.slice(1));
    if (!Number.isSafeInteger(length) || length < 0) throw new ConnectionError(`${this.where} sent a malformed sync header`);
    let left = length;
    while (left > 0) {
      if (this.buffered === 0) {
        try {
          await this.more();
        } catch (err) {
          throw new ConnectionError(`${(err as Error).message} after ${length - left} of the RDB's ${length} bytes`);
        }
        continue;
      }
      const out = this.take(Math.min(left, this.chunks[0]!.byteLength));
      left -= out.byteLength;
      yield out;
    }
  }
}
