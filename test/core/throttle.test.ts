// The sign-in throttle's arithmetic, on a clock the test holds: free failures,
// then a doubling wait up to the cap; per (user, address) and per address; a
// success clears its address; old failures are forgotten; memory stays bounded.
import { describe, expect, test } from "bun:test";
import { SignInThrottle } from "../../src/core/throttle.ts";

const opts = { freePerUser: 3, freePerAddress: 10, firstWaitMs: 1000, maxWaitMs: 8000, forgetAfterMs: 60_000 };

describe("SignInThrottle", () => {
  test("free failures, then waits of 1, 2, 4, 8 s and no more", () => {
    const t = new SignInThrottle(opts);
    const now = 1_000_000;
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      t.failed("admin", "10.0.0.1", now);
      waits.push(t.retryAfter("admin", "10.0.0.1", now));
    }
    expect(waits).toEqual([0, 0, 0, 1, 2, 4, 8, 8]);
    expect(t.retryAfter("admin", "10.0.0.1", now + 8000)).toBe(0);
  });

  test("another address is not held up by an attacker's failures on the same user", () => {
    const t = new SignInThrottle(opts);
    for (let i = 0; i < 20; i++) t.failed("admin", "203.0.113.9", 0);
    expect(t.retryAfter("admin", "203.0.113.9", 0)).toBe(8);
    expect(t.retryAfter("admin", "10.0.0.1", 0)).toBe(0);
  });

  test("one address trying many user names is held up as a whole", () => {
    const t = new SignInThrottle(opts);
    for (let i = 0; i < 11; i++) t.failed(`user${i}`, "203.0.113.9", 0);
    expect(t.retryAfter("someone-else", "203.0.113.9", 0)).toBe(1);
    expect(t.retryAfter("someone-else", "10.0.0.1", 0)).toBe(0);
  });

  test("a success clears the counts of its address; failures long past are forgotten", () => {
    const t = new SignInThrottle(opts);
    for (let i = 0; i < 4; i++) t.failed("admin", "10.0.0.1", 0);
    t.succeeded("admin", "10.0.0.1");
    t.failed("admin", "10.0.0.1", 0);
    expect(t.retryAfter("admin", "10.0.0.1", 0)).toBe(0);
    for (let i = 0; i < 3; i++) t.failed("bob", "10.0.0.2", 0);
    t.failed("bob", "10.0.0.2", 61_000); // the first three were forgotten: this is the first again
    expect(t.retryAfter("bob", "10.0.0.2", 61_000)).toBe(0);
  });

  test("a flood of addresses keeps at most maxEntries counts", () => {
    const t = new SignInThrottle({ ...opts, maxEntries: 100 });
    for (let i = 0; i < 1000; i++) t.failed("x", `10.0.${i >> 8}.${i & 255}`, i);
    expect((t as unknown as { counts: Map<string, unknown> }).counts.size).toBeLessThanOrEqual(100);
  });
});
