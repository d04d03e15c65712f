// The relay's end of a backup's data connection (data.ts): dials the agent's data port,
// presents the token, and moves what arrives into the store's FIFO (the relay's stdout)
// with splice(2), from the socket's buffers into the pipe inside the kernel: no copy into
// this process and no JavaScript per chunk. Read through node:net and written with a
// FileSink, the relay took 255–337 ms of CPU per 182 MiB archive, a third of what a
// backup through an agent spends beyond a local one; spliced, the core's part of such a
// backup went from 0.7 to 0.5 s of CPU (bench/DATAPATH.md, "Seventeenth session").
//
// The socket is made and dialled here (libc.ts: node:net gives no descriptor to splice
// from). Everything else is the connection's contract as before: the relay fails unless
// it ended cleanly (the agent's FIN) with as many bytes as the agent says it sent; a
// connection cut before that fails the request; a store that stops reading stops it too.
// Backpressure is the kernel's: a full FIFO leaves the bytes in the socket, whose window
// then holds the agent back.
import { closeSync, writeSync } from "node:fs";
import { errnoName, libc, POLLIN, POLLOUT, SPLICE_F_MOVE, SPLICE_F_NONBLOCK } from "../libc.ts";
import { waitFor, YIELD_EVERY_MS } from "../pipeline/seal.ts";
import { helloLine } from "./data.ts";
import { sockaddr } from "./sockaddr.ts";

/** How long the data port has to answer. */
const CONNECT_MS = 5000;
/** The most one splice(2) moves: the FIFO's size (fifo.ts). */
const MOVE_MAX = 1 << 20;
/**
 * How long one wait holds the relay's thread before its event loop's turn: longer than a
 * guard's (seal.ts WAIT_TURN_MS), since nothing on the loop here is urgent (the SSH
 * channel's keepalives and the agent's words), and a poll returns as soon as bytes or
 * room come. Every turn costs ~180 µs of CPU on a slow 2-vCPU host: with 10 ms turns a
 * 1 GiB database backup took ~1,000 of them while the agent was busy elsewhere (strace -c:
 * 1,040 splices that found nothing, 2,081 polls), most of the relay's ~0.2 s of CPU.
 */
const TURN_MS = 100;
const EAGAIN = 11;
const EINTR = 4;
const EPIPE = 32;

export class DataReceiver {
  /** true once connected and the token sent; false: it cannot be reached (see `error`). */
  readonly connected: Promise<boolean>;
  /** Why it could not be reached, or why it broke. */
  error: string | undefined;
  /** Set when the store's FIFO stopped taking the archive (its reader is gone). */
  storeError: string | undefined;
  private fd = -1;
  private bytes = 0;
  /** The agent ended the connection: every byte it sent is in the FIFO. */
  private ended = false;
  /** We broke it off (destroy). */
  private broken = false;
  private moving: Promise<void> = Promise.resolve();

  /**
   * Dials `host`:`port`, then moves what arrives into `out` (a pipe's write end). `onFail`:
   * the connection broke before its end, or the store stopped taking it.
   */
  constructor(host: string, port: number, token: string, private readonly out: number, onFail: () => void) {
    this.connected = this.connect(host, port, token).then((ok) => {
      if (ok) {
        this.moving = this.move().then(
          () => { if (!this.ended && !this.broken) onFail(); },
          (err) => { this.error ??= (err as Error).message; onFail(); },
        );
      }
      return ok;
    });
  }

  /** Waits up to `ms` for the end (the agent ends the connection before it reports). */
  async finished(ms: number): Promise<{ clean: boolean; bytes: number; error?: string }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.moving, new Promise<void>((r) => { timer = setTimeout(r, ms); })]);
    clearTimeout(timer);
    const clean = this.ended;
    if (!clean) this.destroy();
    return { clean, bytes: this.bytes, error: clean ? undefined : this.error ?? "was cut before its end" };
  }

  /** Breaks the connection off: the agent sees it cut. */
  destroy(): void {
    if (this.broken) return;
    this.broken = true;
    if (this.fd >= 0) libc()?.shutdown(this.fd);
    this.close();
  }

  private close(): void {
    if (this.fd < 0) return;
    try { closeSync(this.fd); } catch { /* already gone */ }
    this.fd = -1;
  }

  private async connect(host: string, port: number, token: string): Promise<boolean> {
    const c = libc();
    if (!c) return this.unreachable("no libc to make a socket with");
    let to = sockaddr(host, port);
    if (!to) {
      try {
        const { lookup } = await import("node:dns/promises");
        to = sockaddr((await lookup(host)).address, port);
      } catch (err) {
        return this.unreachable((err as Error).message);
      }
      if (!to) return this.unreachable(`${host} resolves to no address a socket can dial`);
    }
    const fd = c.tcpConnect(to);
    if (fd < 0) return this.unreachable(`connect ${errnoName(-fd)} ${host}:${port}`);
    this.fd = fd;
    // The connect completes when the socket polls writable; its result is SO_ERROR.
    const deadline = performance.now() + CONNECT_MS;
    while (c.poll(fd, POLLOUT, 0) === 0) {
      if (this.broken) return false;
      if (performance.now() > deadline) return this.unreachable(`no answer within ${CONNECT_MS / 1000} s`);
      if (!(await waitFor(fd, POLLOUT))) await Bun.sleep(5);
    }
    if (this.broken) return false;
    const failed = c.connected(fd);
    if (failed) return this.unreachable(`connect ${errnoName(failed)} ${host}:${port}`);
    // A few dozen bytes into an empty socket: taken whole.
    const hello = helloLine(token);
    try {
      if (writeSync(fd, hello) !== hello.length) return this.unreachable("the token could not be sent whole");
    } catch (err) {
      return this.unreachable((err as Error).message);
    }
    return true;
  }

  private unreachable(why: string): false {
    this.error ??= why;
    this.destroy();
    return false;
  }

  /** Moves every byte that arrives into `out` until the agent ends the connection; throws if it breaks. */
  private async move(): Promise<void> {
    const c = libc()!;
    let lastYield = performance.now();
    for (;;) {
      if (this.broken) return;
      const n = c.splice(this.fd, this.out, MOVE_MAX, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        this.bytes += n;
        // The event loop's turn now and then: SSH's keepalives, the agent's words.
        if (performance.now() - lastYield >= YIELD_EVERY_MS) {
          await new Promise((r) => setImmediate(r));
          lastYield = performance.now();
        }
        continue;
      }
      if (n === 0) {
        this.ended = true;
        this.close();
        return;
      }
      if (n === -EINTR) continue;
      if (n === -EPIPE) {
        this.storeError = "EPIPE: the store stopped reading";
        throw new Error(this.storeError);
      }
      if (n !== -EAGAIN) throw new Error(`the data connection broke: ${errnoName(-n)}`);
      // Nothing on the socket yet, or the FIFO full (the store is behind): wait for that one.
      const full = c.poll(this.out, POLLOUT, 0) === 0;
      if (!(await waitFor(full ? this.out : this.fd, full ? POLLOUT : POLLIN, TURN_MS))) await Bun.sleep(1);
      lastYield = performance.now();
    }
  }
}
