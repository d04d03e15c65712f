// Deadlines, retries and the bounded info wait: the wrappers alone, then around a
// real plugin that crashes, hangs or fails as it is told (test/fixtures/plugin-host/flaky).
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { boundedWait, DeadlineExceeded, withDeadline, withRetry } from "../../src/plugin-host/wrappers.ts";
import { PluginFailed, PluginRegistry } from "../../src/plugin-host/index.ts";
import { purge, type PipelineContext } from "../../src/pipeline/run.ts";

const FLAKY = resolve(import.meta.dir, "../fixtures/plugin-host/flaky");
const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** A plugin directory of its own holding `flaky`, told how to misbehave: { "validate.crashes": 2, ... }. */
function flakyDir(told: Record<string, number> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "shield-flaky-"));
  dirs.push(dir);
  copyFileSync(FLAKY, join(dir, "flaky"));
  for (const [file, n] of Object.entries(told)) writeFileSync(join(dir, file), String(n));
  const runs = (action: string) => (existsSync(join(dir, `${action}.count`)) ? Number(readFileSync(join(dir, `${action}.count`), "utf8")) : 0);
  const tell = (file: string, n: number) => writeFileSync(join(dir, file), String(n));
  const registry = (opts: { shortActionMs?: number } = {}) => new PluginRegistry({ dirs: [dir], self: [], builtins: [], ...opts });
  return { dir, runs, tell, registry };
}

const transientAll = { attempts: 4, baseDelayMs: 10, maxDelayMs: 40, transient: () => true };

describe("withRetry", () => {
  test("tries again after a transient failure, with growing waits, until it succeeds", async () => {
    const waits: number[] = [];
    let calls = 0;
    const r = await withRetry({ ...transientAll, onRetry: (_e, _n, ms) => waits.push(ms) }, async () => {
      if (++calls < 3) throw new Error("passing");
      return "done";
    });
    expect(r).toBe("done");
    expect(calls).toBe(3);
    // 10 ms then 20 ms, each within ±25%.
    expect(waits[0]).toBeGreaterThanOrEqual(7);
    expect(waits[0]).toBeLessThanOrEqual(13);
    expect(waits[1]).toBeGreaterThanOrEqual(15);
    expect(waits[1]).toBeLessThanOrEqual(25);
  });

  test("an answer that is not transient is final; the attempts are a bound", async () => {
    let calls = 0;
    const final = new Error("invalid");
    expect(await withRetry({ ...transientAll, transient: (e) => e !== final }, async () => { calls++; throw final; }).catch((e) => e)).toBe(final);
    expect(calls).toBe(1);
    calls = 0;
    await withRetry(transientAll, async () => { calls++; throw new Error("always"); }).catch(() => {});
    expect(calls).toBe(4);
  });

  test("unbounded tries that give up when told (the supervisor recording an outcome: forever, but 3 tries once stopping)", async () => {
    let stopping = false;
    let calls = 0;
    const policy = { attempts: Infinity, baseDelayMs: 1, maxDelayMs: 2, transient: (_e: unknown, attempt: number) => !(stopping && attempt >= 3) };
    const r = await withRetry(policy, async () => { if (++calls < 20) throw new Error("catalog down"); return "recorded"; });
    expect([r, calls]).toEqual(["recorded", 20]);
    stopping = true;
    calls = 0;
    expect((await withRetry(policy, async () => { calls++; throw new Error("catalog down"); }).catch((e: Error) => e)).message).toBe("catalog down");
    expect(calls).toBe(3);
  });

  test("an abort ends the wait between tries, and the tries", async () => {
    const ac = new AbortController();
    let calls = 0;
    const started = performance.now();
    setTimeout(() => ac.abort(), 50);
    const err = await withRetry({ ...transientAll, baseDelayMs: 10_000, maxDelayMs: 10_000 }, async () => { calls++; throw new Error("x"); }, ac.signal).catch((e) => e);
    expect(err.message).toBe("x");
    expect(calls).toBe(1);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("withDeadline", () => {
  test("a call past its deadline is told to stop (its signal aborts) and the caller gets the expiry", async () => {
    let stopped = false;
    const err: any = await withDeadline(50, "the slow call", (signal) => new Promise((res) => {
      signal.addEventListener("abort", () => { stopped = true; });
      setTimeout(res, 5000);
    })).catch((e: Error) => e);
    expect(err).toBeInstanceOf(DeadlineExceeded);
    expect(err.message).toBe("the slow call did not answer within 0.05 s");
    expect(stopped).toBe(true);
  });

  test("the expiry error can be the caller's own; a call within its deadline is untouched", async () => {
    const err: any = await withDeadline(20, "x", () => new Promise(() => {}), { expired: (m) => new PluginFailed(m, 3, "", true) }).catch((e: PluginFailed) => e);
    expect(err).toBeInstanceOf(PluginFailed);
    expect(err.timedOut).toBe(true);
    expect(await withDeadline(1000, "x", async () => 42)).toBe(42);
  });
});

describe("boundedWait", () => {
  test("gives an answer that comes in time; for one still coming, waits once, then not again until it lands", async () => {
    let release!: (v: string) => void;
    const slow = new Promise<string>((r) => (release = r));
    const get = boundedWait(100, async (name) => (name === "slow" ? slow : `info of ${name}`));
    expect(await get("quick")).toBe("info of quick");
    let t = performance.now();
    expect(await get("slow")).toBeUndefined();
    expect(performance.now() - t).toBeGreaterThanOrEqual(90);
    t = performance.now();
    expect(await get("slow")).toBeUndefined();
    expect(performance.now() - t).toBeLessThan(50);
    release("late");
    await Bun.sleep(0);
    expect(await get("slow")).toBe("late");
  });

  test("a failure reads as no answer", async () => {
    expect(await boundedWait(100, async () => { throw new Error("broken"); })("x")).toBeUndefined();
  });
});

describe("around a real plugin", () => {
  const endpoint = JSON.stringify({ token: "t0ps3cret" });

  test("info: a plugin that crashes twice (SIGKILL) is asked again, and its third answer is the one", async () => {
    const f = flakyDir({ "info.crashes": 2 });
    const p = await f.registry().resolve("flaky");
    expect(p.info.name).toBe("flaky");
    expect(f.runs("info")).toBe(3);
  });

  test("validate: a crash is retried; an answer of invalid is final, at once", async () => {
    const f = flakyDir({ "validate.crashes": 1 });
    const store = await f.registry().store({ plugin: "flaky", endpoint });
    expect(await store.validate()).toBe("flaky: the endpoint is fine");
    expect(f.runs("validate")).toBe(2);
    f.tell("validate.exit", 13);
    const err = await store.validate().catch((e) => e);
    expect(err).toBeInstanceOf(PluginFailed);
    expect(err.exitCode).toBe(13);
    expect(err.message).toContain("flaky says the endpoint is invalid: flaky: told to fail validate with exit 13");
    expect(f.runs("validate")).toBe(3);
  });

  test("test: past its deadline the plugin is killed and the call fails once, not once per retry", async () => {
    const f = flakyDir({ "test.sleep": 30 });
    const target = await f.registry({ shortActionMs: 300 }).target({ plugin: "flaky", endpoint });
    const started = performance.now();
    const err = await target.test().catch((e) => e);
    expect(err).toBeInstanceOf(PluginFailed);
    expect(err.timedOut).toBe(true);
    expect(err.message).toBe("plugin flaky: 'test' did not answer within 0.3 s");
    expect(performance.now() - started).toBeLessThan(3000);
    expect(f.runs("test")).toBe(1);
  });

  test("infoWithin: a plugin slow to answer costs one short wait, then none until its answer lands (then cached)", async () => {
    const f = flakyDir({ "info.sleep": 3 });
    const registry = f.registry();
    let t = performance.now();
    expect(await registry.infoWithin("flaky")).toBeUndefined();
    expect(performance.now() - t).toBeGreaterThanOrEqual(1900);
    t = performance.now();
    expect(await registry.infoWithin("flaky")).toBeUndefined();
    expect(performance.now() - t).toBeLessThan(500);
    await registry.resolve("flaky");
    await Bun.sleep(10); // (the wait hears of the answer a tick after it lands)
    expect((await registry.infoWithin("flaky"))?.name).toBe("flaky");
    expect(f.runs("info")).toBe(1);
  });

  test("purge (idempotent): a store failing twice (exit 4) is tried again, said on the log; exit 13 is final", async () => {
    const f = flakyDir();
    const lines: string[] = [];
    const ctx: PipelineContext = { plugins: f.registry(), log: (l) => lines.push(l), signal: new AbortController().signal };
    // Fails the first two runs (exit 4), then succeeds.
    f.tell("purge.exit", 4);
    f.tell("purge.fails", 2);
    await purge(ctx, { plugin: "flaky", endpoint }, "some-key");
    expect(f.runs("purge")).toBe(3);
    expect(lines.filter((l) => l.includes("trying again")).length).toBe(2);
    expect(lines.some((l) => l.includes("store purge failed (exit 4)"))).toBe(true);
    // The endpoint's secret is in no log line (it went by --endpoint, to the plugin only).
    expect(lines.join("\n")).not.toContain("t0ps3cret");

    f.tell("purge.exit", 13);
    f.tell("purge.fails", 1000);
    const before = f.runs("purge");
    const err = await purge(ctx, { plugin: "flaky", endpoint }, "some-key").catch((e) => e);
    expect(err.message).toBe("store purge failed (exit 13)");
    expect(f.runs("purge")).toBe(before + 1);
  });
});
