// Sign-in (HTTP Basic on the API, and the web UI's form over it): an unknown user
// name takes as long as a wrong password (medians of several tries, compared as a
// ratio, so a slow machine does not make it flaky), and repeated failures are
// answered 429 with Retry-After, per (user, address) and per address, without
// locking the real admin out from elsewhere.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createWeb } from "../../src/web/index.tsx";
import { PASSWORD, testApi, type TestApi } from "../helpers/app.ts";
import { WebClient } from "../web/session-client.ts";

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe("an unknown user name costs what a wrong password does", () => {
  let t: TestApi;
  beforeAll(async () => { t = await testApi("sqlite"); });
  afterAll(() => t.cleanup());

  test("medians of 7 tries each are within 0.5× to 2× of each other", async () => {
    const time = async (user: string) => {
      const started = performance.now();
      const r = await t.req("GET", "/v1/auth/whoami", { as: { basic: `${user}:not-the-password` } });
      expect(r.status).toBe(401);
      return performance.now() - started;
    };
    await time("admin"); // warm both paths once
    await time("nobody");
    const known: number[] = [], unknown: number[] = [];
    // Interleaved, so that a busy moment of the machine falls on both alike.
    for (let i = 0; i < 7; i++) {
      known.push(await time("admin"));
      unknown.push(await time(`nobody-${i}`));
    }
    const ratio = median(unknown) / median(known);
    console.log(`wrong password: median ${median(known).toFixed(1)} ms; unknown user: median ${median(unknown).toFixed(1)} ms; ratio ${ratio.toFixed(2)}`);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});

describe("failed sign-ins are throttled", () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await testApi("sqlite", { throttle: { freePerUser: 3, freePerAddress: 8, firstWaitMs: 1000, maxWaitMs: 4000 } });
  });
  afterAll(() => t.cleanup());

  const from = async (address: string, user: string, password: string) => {
    const res = await t.app.request("/v1/auth/whoami", { headers: { authorization: basic(user, password) } }, { clientAddress: address });
    return { status: res.status, retryAfter: res.headers.get("retry-after"), json: (await res.json()) as { error: string } };
  };

  test("past the free failures: 429 with Retry-After, even with the right password; the admin elsewhere is not locked out", async () => {
    const attacker = "203.0.113.7";
    for (let i = 0; i < 4; i++) expect((await from(attacker, "admin", `guess-${i}`)).status).toBe(401);
    const held = await from(attacker, "admin", PASSWORD);
    expect(held.status).toBe(429);
    expect(held.retryAfter).toBe("1");
    expect(held.json.error).toMatch(/too many failed sign-ins.*try again in 1 s/);
    // The real admin, from their own address.
    expect((await from("10.1.1.1", "admin", PASSWORD)).status).toBe(200);
  });

  test("after the wait, a success from the address clears its count", async () => {
    const a = "198.51.100.4";
    for (let i = 0; i < 4; i++) await from(a, "operator", "wrong");
    const held = await from(a, "operator", PASSWORD);
    expect(held.status).toBe(429);
    await Bun.sleep(Number(held.retryAfter) * 1000 + 50);
    expect((await from(a, "operator", PASSWORD)).status).toBe(200);
    // Cleared: the next failure is an ordinary 401, not a longer wait.
    expect((await from(a, "operator", "wrong")).status).toBe(401);
    expect((await from(a, "operator", PASSWORD)).status).toBe(200);
  });

  test("one address spraying many user names is held up for every name", async () => {
    const a = "192.0.2.99";
    for (let i = 0; i < 9; i++) expect((await from(a, `user-${i}`, "wrong")).status).toBe(401);
    const r = await from(a, "viewer", PASSWORD);
    expect(r.status).toBe(429);
    expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
  });

  test("the web sign-in form answers 429 with Retry-After too", async () => {
    const web = createWeb({ api: t.app });
    const b = new WebClient(web);
    let last;
    for (let i = 0; i < 5; i++) last = await b.signIn("admin", `web-guess-${i}`);
    expect(last!.status).toBe(429);
    expect(last!.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(last!.html).toContain("Too many failed sign-ins");
  });
});
