// The watch (notify/watch.ts) on both dialects, with the real notifier and a real
// HTTP receiver: a job with no successful backup in 1.5 × its schedule's interval
// is told of once across checks, again after a successful backup and a relapse; a
// paused job never is; an agent that does not answer (nothing listens at its
// address: the real probe, AgentDirectory.status) is told of once, and again after
// it answered and went away (a real `shield agent`). Channels whose rules do not
// name the event, or name other jobs, get nothing. Time is a manual clock: days
// pass in milliseconds.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentDirectory } from "../../src/agent/directory.ts";
import { TaskEventBus } from "../../src/core/task-events.ts";
import { notificationRules } from "../../src/core/notifications.ts";
import { loadOrCreateHostKey } from "../../src/daemon/keys.ts";
import { Notifier } from "../../src/notify/index.ts";
import type { Message } from "../../src/notify/message.ts";
import { Watch } from "../../src/notify/watch.ts";
import { EndpointSecrets } from "../../src/pipeline/endpoint-secrets.ts";
import { startAgentProcess } from "../helpers/agent.ts";
import { dialects } from "../helpers/catalog.ts";
import { ManualClock } from "../helpers/clock.ts";
import { eventually, startHttpReceiver, type HttpReceiver } from "../helpers/receivers.ts";
import { freePort } from "../helpers/services.ts";
import { makeJob, makeSchedule, makeTarget, taskRow, useCatalog } from "../catalog/fixtures.ts";

const DAY_MS = 86_400_000;

for (const dialect of dialects) {
  describe(`the watch on ${dialect}`, () => {
    const open = useCatalog(dialect);
    let hook: HttpReceiver;
    let notifier: Notifier;
    let dir: string;
    const clock = new ManualClock(Date.now());
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      hook = await startHttpReceiver();
      dir = mkdtempSync(join(tmpdir(), "shield-test-watch-"));
    });
    afterAll(async () => {
      await notifier?.stop();
      hook?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    /** What the receiver got at a path, as messages. */
    const got = (path: string): Message[] => hook.received.filter((r) => r.path === path).map((r) => JSON.parse(r.body) as Message);
    const about = (path: string, event: string, job?: string) => got(path).filter((m) => m.event === event && (job === undefined || m.job === job));

    test("sets up jobs, an agent's target, channels and the notifier", async () => {
      const { catalog } = open();
      const secrets = new EndpointSecrets(crypto.getRandomValues(new Uint8Array(32)));
      notifier = new Notifier({ catalog, secrets, publicUrl: () => "https://shield.example.com/", pollMs: 50 });
      notifier.start(new TaskEventBus());
      const daily = await makeSchedule(catalog, { name: "daily", timespec: "daily at 4am" });
      // Created in 2023 (the fixtures' T0), never backed up: overdue at once.
      ids.late = await makeJob(catalog, { name: "late-db", schedule: daily });
      ids.paused = await makeJob(catalog, { name: "paused-db", schedule: daily, paused: true });
      ids.manual = await makeJob(catalog, { name: "by-hand", schedule: null });
      ids.fresh = await makeJob(catalog, { name: "fresh-db", schedule: daily });
      ids.agentAddress = `127.0.0.1:${await freePort()}`;
      ids.agentTarget = await makeTarget(catalog, { name: "remote-files", agent: ids.agentAddress });
      ids.remote = await makeJob(catalog, { name: "remote-job", schedule: daily, target: ids.agentTarget });
      // fresh-db and remote-job backed up just now.
      await ran(ids.fresh, clock.now());
      await ran(ids.remote, clock.now());

      const rules = notificationRules(catalog, secrets);
      const channel = (name: string, events?: string[], jobs?: string[]) =>
        rules.create({ name, kind: "webhook", settings: { url: `${hook.url}/${name}` }, ...(events ? { events } : {}), ...(jobs ? { jobs } : {}) });
      await channel("all", ["job.overdue", "agent.unreachable"]);
      // Failures only (the default): neither event.
      await channel("failures");
      // Both events, but about fresh-db only: the agent serves remote-job, not fresh-db.
      await channel("fresh-only", ["job.overdue", "agent.unreachable"], [ids.fresh]);
      // The agent's news only, for the job it serves.
      await channel("remote-agent", ["agent.unreachable"], [ids.remote]);
    });

    /** A successful backup of `job` ending at `atMs`, recorded through the supervisor's catalog calls. */
    async function ran(job: string, atMs: number): Promise<void> {
      const { catalog, raw } = open();
      const h = await raw();
      const at = Math.floor(atMs / 1000);
      const row = taskRow({ jobUuid: job, requestedAt: at - 20 });
      await catalog.tasks.create(row);
      await h.db.update(h.t.tasks).set({ status: "running", startedAt: at - 10 }).where(eq(h.t.tasks.uuid, row.uuid));
      expect(await catalog.tasks.finish(row.uuid, "done", at, undefined, undefined, null)).toBe(true);
    }

    const watch = () => new Watch({
      catalog: open().catalog, tell: (a) => notifier.tell(a), page: (p) => notifier.page(p), clock,
      // The daemon's 10 s for a hello: nothing listening is refused at once anyway, and a
      // shorter wait could take the live agent for unreachable on a loaded machine.
      agents: () => new AgentDirectory(open().catalog, dir, 10_000).status(),
    });

    let w: Watch;

    test("an overdue job is told of once across checks; a paused job, a job without a schedule and a fresh one never", async () => {
      loadOrCreateHostKey(dir);
      w = watch();
      for (let i = 0; i < 3; i++) {
        const r = await w.check();
        expect(r.overdue).toEqual([ids.late!]);
        clock.set(clock.now() + 60_000);
      }
      await eventually(() => about("/all", "job.overdue").length === 1, 10_000, "the overdue job's message");
      const [m] = about("/all", "job.overdue");
      expect(m).toMatchObject({
        title: "Job overdue: job late-db", job: "late-db", link: `https://shield.example.com/jobs/${ids.late}`,
        details: { "Last success": "never", Schedule: "daily (daily at 4am)" },
      });
      expect(m!.error).toContain("1.5 × the schedule's interval");
      expect(m!.target).toBeString();
      expect(m!.store).toBeString();
      // The deliveries are listed like a task's, with the job and no task.
      const deliveries = await open().catalog.notifications.deliveries.list({}, { limit: 100, offset: 0 });
      const overdue = deliveries.filter((d) => d.event === "job.overdue");
      expect(overdue.length).toBe(1);
      expect(overdue[0]).toMatchObject({ jobUuid: ids.late, taskUuid: null });
      await eventually(async () => (await open().catalog.notifications.deliveries.list({ status: "delivered" }, { limit: 100, offset: 0 })).some((d) => d.event === "job.overdue"), 10_000, "delivered");
    });

    test("an agent that does not answer is told of once, to the channels whose rules name it or its job", async () => {
      await eventually(() => about("/all", "agent.unreachable").length === 1 && about("/remote-agent", "agent.unreachable").length === 1, 10_000, "the agent's message");
      for (let i = 0; i < 2; i++) expect((await w.check()).unreachable).toEqual([ids.agentAddress!]);
      await Bun.sleep(300);
      expect(about("/all", "agent.unreachable").length).toBe(1);
      const [m] = about("/remote-agent", "agent.unreachable");
      expect(m).toMatchObject({ title: `Agent unreachable: agent ${ids.agentAddress}`, agent: ids.agentAddress, details: { Targets: "remote-files", Jobs: "remote-job" } });
      expect(m!.error).toBeString();
      expect(w.agentsUp()).toEqual([{ name: ids.agentAddress!, up: false }]);
    });

    test("after a successful backup nothing more; a relapse is told again", async () => {
      await ran(ids.late!, clock.now());
      expect((await w.check()).overdue).toEqual([]);
      // A day later: within 1.5 × a day of the backups.
      clock.set(clock.now() + DAY_MS);
      expect((await w.check()).overdue).toEqual([]);
      // Two days after them: late-db, fresh-db and remote-job are all overdue now.
      clock.set(clock.now() + DAY_MS);
      for (let i = 0; i < 3; i++) expect((await w.check()).overdue.sort()).toEqual([ids.late!, ids.fresh!, ids.remote!].sort());
      await eventually(() => about("/all", "job.overdue").length === 4, 10_000, "three overdue messages more");
      expect(about("/all", "job.overdue", "late-db").length).toBe(2);
      expect(about("/all", "job.overdue", "late-db")[1]!.details!["Last success"]).not.toBe("never");
      // The channel about fresh-db only hears of fresh-db.
      await eventually(() => about("/fresh-only", "job.overdue").length === 1, 10_000, "fresh-db's message");
      expect(about("/fresh-only", "job.overdue")[0]!.job).toBe("fresh-db");
    });

    test("a job paused ends its episode, and unpaused it has 1.5 intervals from then", async () => {
      const { catalog } = open();
      await catalog.jobs.setPaused(ids.late!, true);
      expect((await w.check()).overdue).not.toContain(ids.late!);
      await catalog.jobs.setPaused(ids.late!, false);
      expect((await w.check()).overdue).not.toContain(ids.late!);
      clock.set(clock.now() + 1.4 * DAY_MS);
      expect((await w.check()).overdue).not.toContain(ids.late!);
      clock.set(clock.now() + 0.2 * DAY_MS);
      expect((await w.check()).overdue).toContain(ids.late!);
      await eventually(() => about("/all", "job.overdue", "late-db").length === 3, 10_000, "late-db's third message");
    });

    test("an agent that answered and went away again is told of again", async () => {
      const port = Number(ids.agentAddress!.split(":")[1]);
      const keys = join(dir, "core.keys");
      writeFileSync(keys, `${loadOrCreateHostKey(dir).sshPublicKey}\n`);
      const agent = await startAgentProcess(["--authorized-keys", keys], { port });
      try {
        expect((await w.check()).unreachable).toEqual([]);
        expect(w.agentsUp()).toEqual([{ name: ids.agentAddress!, up: true }]);
      } finally {
        await agent.stop();
      }
      expect((await w.check()).unreachable).toEqual([ids.agentAddress!]);
      await eventually(() => about("/all", "agent.unreachable").length === 2, 10_000, "the agent's second message");
      expect(about("/remote-agent", "agent.unreachable").length).toBe(2);
    });

    test("nothing reached the channels whose rules do not name the events; no message names the paused job", async () => {
      await Bun.sleep(200);
      expect(got("/failures")).toEqual([]);
      expect(about("/fresh-only", "agent.unreachable")).toEqual([]);
      expect(about("/remote-agent", "job.overdue")).toEqual([]);
      expect(hook.received.some((r) => r.body.includes("paused-db") || r.body.includes("by-hand"))).toBe(false);
    });

    test("started, the watch checks on its own every interval and still tells once; stop() ends it", async () => {
      const { catalog } = open();
      const name = `late-${dialect}-loop`;
      await makeJob(catalog, { name, schedule: await makeSchedule(catalog) });
      const loop = new Watch({ catalog, tell: (a) => notifier.tell(a), page: (p) => notifier.page(p), everyMs: 50 });
      loop.start();
      try {
        await eventually(() => about("/all", "job.overdue", name).length === 1, 10_000, "the loop's message");
        await Bun.sleep(400);
        expect(about("/all", "job.overdue", name).length).toBe(1);
      } finally {
        await loop.stop();
      }
    });
  });
}
