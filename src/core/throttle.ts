// Slows down password guessing. Failed sign-ins (HTTP Basic on the API, and so
// the web UI's sign-in, which goes through it) are counted per (user name, client
// address) and per client address; past a few free failures each one more doubles
// the wait before the next try, up to a cap of minutes. Keyed by address, an
// attacker elsewhere cannot lock a real admin out (the admin's own address has
// clean counts), and one at the same address only for the cap at most. A success
// clears the counts of its address. A try while a wait runs is refused (429 with
// Retry-After) without checking the password, so guessing gains nothing by it,
// and is not counted, so the wait does not grow past what failures earned.
// Counts live in this daemon's memory: several daemons on one catalog count apart.

export interface ThrottleOptions {
  /** Failures of one user name from one address before any wait (default 5). */
  freePerUser?: number;
  /** Failures from one address, over every user name, before any wait (default 20: a few people behind one NAT). */
  freePerAddress?: number;
  /** The first wait, doubled by each failure after it (default 1 s). */
  firstWaitMs?: number;
  /** The longest wait (default 5 min). */
  maxWaitMs?: number;
  /** Counts with no failure for this long are forgotten (default 15 min). */
  forgetAfterMs?: number;
  /** Counts kept at most (default 100,000): the oldest go first, so memory stays bounded under a flood. */
  maxEntries?: number;
}

interface Count { failures: number; last: number; until: number }

export class SignInThrottle {
  private readonly counts = new Map<string, Count>();
  private readonly o: Required<ThrottleOptions>;

  constructor(opts: ThrottleOptions = {}) {
    this.o = {
      freePerUser: 5, freePerAddress: 20, firstWaitMs: 1000, maxWaitMs: 5 * 60_000, forgetAfterMs: 15 * 60_000, maxEntries: 100_000,
      ...opts,
    };
  }

  private keys(name: string, address: string): [key: string, free: number][] {
    return [[`u\0${address}\0${name}`, this.o.freePerUser], [`a\0${address}`, this.o.freePerAddress]];
  }

  /** Whole seconds before `name` may try again from `address`; 0 when it may now. */
  retryAfter(name: string, address: string, now = Date.now()): number {
    let until = 0;
    for (const [key] of this.keys(name, address)) until = Math.max(until, this.counts.get(key)?.until ?? 0);
    return until > now ? Math.ceil((until - now) / 1000) : 0;
  }

  failed(name: string, address: string, now = Date.now()): void {
    for (const [key, free] of this.keys(name, address)) {
      const prev = this.counts.get(key);
      const failures = prev && now - prev.last < this.o.forgetAfterMs ? prev.failures + 1 : 1;
      const over = failures - free;
      const wait = over > 0 ? Math.min(this.o.firstWaitMs * 2 ** Math.min(over - 1, 30), this.o.maxWaitMs) : 0;
      // Re-inserted, so that the Map's order is oldest failure first.
      this.counts.delete(key);
      this.counts.set(key, { failures, last: now, until: now + wait });
    }
    this.prune(now);
  }

  succeeded(name: string, address: string): void {
    for (const [key] of this.keys(name, address)) this.counts.delete(key);
  }

  private prune(now: number): void {
    if (this.counts.size <= this.o.maxEntries) return;
    for (const [key, c] of this.counts) {
      if (this.counts.size <= this.o.maxEntries && now - c.last < this.o.forgetAfterMs) break;
      this.counts.delete(key);
    }
  }
}
