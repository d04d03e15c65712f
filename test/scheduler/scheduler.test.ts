// The scheduler against a real catalog of each dialect, on a clock moved by hand:
// exactly one task per due time (late ticks, restarts, crashes between steps,
// several daemons), one catch-up run after downtime, paused jobs, skips, month
// ends, leap days, DST both ways, DEV mode, and an idle loop that sleeps until
// the next due time.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { connectCatalog, type Catalog, type TaskRow } from "../../src/catalog/index.ts";
import { Scheduler, type SchedulerOptions } from "../../src/scheduler/scheduler.ts";
import { log } from "../../src/log.ts";
import { dialects, freshCatalog } from "../helpers/catalog.ts";
import { fmt, ManualClock, utc } from "../helpers/clock.ts";
import { makeJob, makeSchedule } from "../catalog/fixtures.ts";

log.setSink(() => {});

for (const dialect of dialects) {
  describe(`scheduler on ${dialect}`, () => {
    let c: Catalog;
    let cleanup: () => Promise<void>;
    const extra: Catalog[] = [];
    const running: Scheduler[] = [];

    beforeEach(async () => {
      ({ catalog: c, cleanup } = await freshCatalog(dialect));
    });
    afterEach(async () => {
      for (const s of running.splice(0)) await s.stop();
      for (const x of extra.splice(0)) await x.close();
      await cleanup();
    });

    const scheduler = (clock: ManualClock, o: Partial<SchedulerOptions> = {}) =>
      new Scheduler({ catalog: c, clock, zone: "UTC", ...o });

    async function jobOn(timespec: string, o: { paused?: boolean; name?: string } = {}) {
      const schedule = await makeSchedule(c, { timespec });
      return makeJob(c, { schedule, ...o });
    }

    async function tasksOf(job: string): Promise<TaskRow[]> {
      const rows = await c.tasks.list({ job }, { limit: 1000, offset: 0 });
      return rows.sort((a, b) => (a.dueAt ?? 0) - (b.dueAt ?? 0));
    }
    const dues = async (job: string) => (await tasksOf(job)).map((t) => fmt(t.dueAt!));

    /** Ends every unfinished task, so that the next due time is not skipped. */
    async function finishAll(): Promise<void> {
      for (const t of await c.tasks.list({ status: "pending" }, { limit: 1000, offset: 0 })) await c.tasks.cancel(t.uuid, 0);
    }

    /** Ticks at each due time up to `until` (UTC), finishing each run before the next. */
    async function drive(s: Scheduler, clock: ManualClock, until: string): Promise<void> {
      for (let next = s.nextDue(); next !== undefined && next <= utc(until); next = s.nextDue()) {
        clock.set(next * 1000);
        await s.tick();
        await finishAll();
      }
    }

    test("files a backup owned by system at each due time, once, with the due time in its log", async () => {
      const clock = ManualClock.at("2026-01-01 00:00:00");
      const job = await jobOn("*/15 * * * *");
      const s = scheduler(clock);
      expect(await s.tick()).toEqual({ filed: 0, skipped: 0 });
      expect(fmt(s.nextDue()!)).toBe("2026-01-01 00:15:00");
      await drive(s, clock, "2026-01-01 01:00:00");
      expect(await dues(job)).toEqual(["2026-01-01 00:15:00", "2026-01-01 00:30:00", "2026-01-01 00:45:00", "2026-01-01 01:00:00"]);
      const [first] = await tasksOf(job);
      const j = (await c.jobs.get(job))!;
      expect(first).toMatchObject({ owner: "system", op: "backup", jobUuid: job, targetUuid: j.targetUuid, storeUuid: j.storeUuid, archiveUuid: null, requestedAt: utc("2026-01-01 00:15:00") });
      expect(first!.log).toContain(`filed by the scheduler for 2026-01-01 00:15:00 UTC (job "${j.name}", schedule "*/15 * * * *")`);
      expect(first!.log).not.toContain("catch-up");
    });

    test("a late tick files the due time once; ticking again files nothing", async () => {
      const clock = ManualClock.at("2026-01-01 00:00:00");
      const job = await jobOn("*/10 * * * *");
      const s = scheduler(clock);
      await s.tick();
      clock.set(utc("2026-01-01 00:10:40") * 1000);
      expect(await s.tick()).toEqual({ filed: 1, skipped: 0 });
      await finishAll();
      expect(await s.tick()).toEqual({ filed: 0, skipped: 0 });
      expect(await dues(job)).toEqual(["2026-01-01 00:10:00"]);
      expect(fmt(s.nextDue()!)).toBe("2026-01-01 00:20:00");
    });

    test("after downtime, one catch-up run at start for all it missed, then the regular times", async () => {
      const clock = ManualClock.at("2026-01-01 09:30:00");
      const job = await jobOn("0 * * * *");
      const before = scheduler(clock);
      await before.tick();
      await drive(before, clock, "2026-01-01 10:00:00");
      expect(await dues(job)).toEqual(["2026-01-01 10:00:00"]);
      // The daemon stops at 10:30 and starts again at 15:20: 11:00 to 15:00 were missed.
      clock.set(utc("2026-01-01 15:20:00") * 1000);
      const after = scheduler(clock);
      expect(await after.tick()).toEqual({ filed: 1, skipped: 0 });
      const tasks = await tasksOf(job);
      expect(tasks.map((t) => fmt(t.dueAt!))).toEqual(["2026-01-01 10:00:00", "2026-01-01 11:00:00"]);
      expect(tasks[1]!.requestedAt).toBe(utc("2026-01-01 15:20:00"));
      expect(tasks[1]!.log).toContain("a catch-up run: the daemon was not running at 4 later due times");
      expect(fmt(after.nextDue()!)).toBe("2026-01-01 16:00:00");
      await finishAll();
      expect(await after.tick()).toEqual({ filed: 0, skipped: 0 });
    });

    test("a week down: every job of a shared every-minute schedule gets one catch-up run, its log counting to 100 or more", async () => {
      const clock = ManualClock.at("2026-01-01 00:00:30");
      const schedule = await makeSchedule(c, { timespec: "every minute" });
      const jobs = [];
      for (let i = 0; i < 50; i++) jobs.push(await makeJob(c, { schedule }));
      await scheduler(clock).tick();
      clock.set(utc("2026-01-08 00:00:30") * 1000);
      const restarted = scheduler(clock);
      expect(await restarted.tick()).toEqual({ filed: 50, skipped: 0 });
      for (const job of jobs) {
        const [only, ...more] = await tasksOf(job);
        expect(more).toEqual([]);
        expect(fmt(only!.dueAt!)).toBe("2026-01-01 00:01:00");
        expect(only!.log).toContain("a catch-up run: the daemon was not running at 100 or more later due times");
      }
      expect(fmt(restarted.nextDue()!)).toBe("2026-01-08 00:01:00");
    });

    test("a restart that missed nothing files nothing", async () => {
      const clock = ManualClock.at("2026-01-01 09:30:00");
      const job = await jobOn("0 * * * *");
      await scheduler(clock).tick();
      clock.set(utc("2026-01-01 09:45:00") * 1000);
      const again = scheduler(clock);
      expect(await again.tick()).toEqual({ filed: 0, skipped: 0 });
      expect(fmt(again.nextDue()!)).toBe("2026-01-01 10:00:00");
      expect(await dues(job)).toEqual([]);
    });

    test("a daemon that died between filing a task and advancing the due time files no duplicate", async () => {
      const clock = ManualClock.at("2026-01-01 09:30:00");
      const job = await jobOn("0 * * * *");
      await scheduler(clock).tick();
      const j = (await c.jobs.get(job))!;
      // What the dead daemon managed: the task, not the advance.
      await c.tasks.fileScheduled({ uuid: crypto.randomUUID(), owner: "system", op: "backup", jobUuid: job, archiveUuid: null,
        targetUuid: j.targetUuid, storeUuid: j.storeUuid, requestedAt: utc("2026-01-01 10:00:00"), dueAt: utc("2026-01-01 10:00:00") });
      await c.tasks.cancel((await tasksOf(job))[0]!.uuid, 0);
      clock.set(utc("2026-01-01 10:00:05") * 1000);
      const restarted = scheduler(clock);
      expect(await restarted.tick()).toEqual({ filed: 0, skipped: 0 });
      expect(await dues(job)).toEqual(["2026-01-01 10:00:00"]);
      expect(fmt(restarted.nextDue()!)).toBe("2026-01-01 11:00:00");
    });

    test("a task filed for a due time by a daemon that died before advancing it is not taken for a skip of that due time", async () => {
      const clock = ManualClock.at("2026-01-01 09:30:00");
      const job = await jobOn("0 * * * *");
      await scheduler(clock).tick();
      const j = (await c.jobs.get(job))!;
      // The dead daemon filed the 10:00 run (still pending: nobody ran it yet), not the advance.
      await c.tasks.fileScheduled({ uuid: crypto.randomUUID(), owner: "system", op: "backup", jobUuid: job, archiveUuid: null,
        targetUuid: j.targetUuid, storeUuid: j.storeUuid, requestedAt: utc("2026-01-01 10:00:00"), dueAt: utc("2026-01-01 10:00:00"),
        log: "filed for 10:00\n" });
      clock.set(utc("2026-01-01 10:00:05") * 1000);
      const restarted = scheduler(clock);
      expect(await restarted.tick()).toEqual({ filed: 0, skipped: 0 });
      const [task] = await tasksOf(job);
      expect(task!.status).toBe("pending");
      // That task is the 10:00 run itself, not a run in the way of it.
      expect(task!.log).toBe("filed for 10:00\n");
      expect(fmt(restarted.nextDue()!)).toBe("2026-01-01 11:00:00");
    });

    test("several daemons sharing the catalog file each due time exactly once", async () => {
      const clock = ManualClock.at("2026-01-01 00:00:30");
      const jobs = await Promise.all(Array.from({ length: 12 }, (_, i) => jobOn(i % 2 ? "* * * * *" : "*/2 * * * *")));
      const daemons: Scheduler[] = [];
      for (let i = 0; i < 3; i++) {
        const handle = await connectCatalog(c.description);
        extra.push(handle);
        daemons.push(new Scheduler({ catalog: handle, clock, zone: "UTC" }));
      }
      await Promise.all(daemons.map((d) => d.tick()));
      for (let minute = 1; minute <= 4; minute++) {
        clock.set(utc(`2026-01-01 00:0${minute}:00`) * 1000);
        const results = await Promise.all(daemons.map((d) => d.tick()));
        const expectedNow = jobs.filter((_, i) => i % 2 || minute % 2 === 0).length;
        expect(results.reduce((n, r) => n + r.filed, 0)).toBe(expectedNow);
        await finishAll();
      }
      for (const [i, job] of jobs.entries()) {
        expect(await dues(job)).toEqual(i % 2
          ? ["2026-01-01 00:01:00", "2026-01-01 00:02:00", "2026-01-01 00:03:00", "2026-01-01 00:04:00"]
          : ["2026-01-01 00:02:00", "2026-01-01 00:04:00"]);
      }
    });

    test("a paused job files nothing; unpaused, it runs from its next due time with no catch-up", async () => {
      const clock = ManualClock.at("2026-01-01 00:00:00");
      const job = await jobOn("0 * * * *", { paused: true });
      const s = scheduler(clock);
      await s.tick();
      expect(s.nextDue()).toBeUndefined();
      clock.set(utc("2026-01-01 05:10:00") * 1000);
      expect(await s.tick()).toEqual({ filed: 0, skipped: 0 });
      await c.jobs.setPaused(job, false);
      s.nudge();
      expect(await s.tick()).toEqual({ filed: 0, skipped: 0 });
      expect(fmt(s.nextDue()!)).toBe("2026-01-01 06:00:00");
      // Paused again before 06:00: the due time is forgotten, nothing is filed.
      await c.jobs.setPaused(job, true);
      clock.set(utc("2026-01-01 06:00:00") * 1000);
      expect(await s.tick()).toEqual({ filed: 0, skipped: 0 });
      expect(await dues(job)).toEqual([]);
    });

    test("a job without a schedule is never filed; a job whose schedule is taken away stops", async () => {
      const clock = ManualClock.at("2026-01-01 00:00:00");
      const manual = await makeJob(c, { schedule: null, name: "by-hand" });
      const hourly = await jobOn("0 * * * *", { name: "hourly" });
      const s = scheduler(clock);
      await s.tick();
      expect(fmt(s.nextDue()!)).toBe("2026-01-01 01:00:00");
      clock.set(utc("2026-01-01 01:00:00") * 1000);
      expect(await s.tick()).toEqual({ filed: 1, skipped: 0 });
      await finishAll();
      // The hourly job loses its schedule: it becomes a job run by hand, and nothing more is filed.
      const job = (await c.jobs.get(hourly))!;
      await c.jobs.update(hourly, {
        name: job.name, summary: job.summary, targetUuid: job.targetUuid, storeUuid: job.storeUuid, scheduleUuid: null,
        retentionUuid: job.retentionUuid, priority: job.priority,
      });
      s.nudge();
      clock.set(utc("2026-01-01 05:00:00") * 1000);
      expect(await s.tick()).toEqual({ filed: 0, skipped: 0 });
      expect(s.nextDue()).toBeUndefined();
      expect(await dues(manual)).toEqual([]);
      expect(await dues(hourly)).toEqual(["2026-01-01 01:00:00"]);
    });

    test("a job due while its last run is pending or running is skipped, and the skip is in that run's log", async () => {
      const clock = ManualClock.at("2026-01-01 00:00:00");
      const job = await jobOn("*/10 * * * *", { name: "orders-db" });
      const s = scheduler(clock);
      await s.tick();
      clock.set(utc("2026-01-01 00:10:00") * 1000);
      expect(await s.tick()).toEqual({ filed: 1, skipped: 0 });
      const [first] = await tasksOf(job);
      clock.set(utc("2026-01-01 00:20:00") * 1000);
      expect(await s.tick()).toEqual({ filed: 0, skipped: 1 });
      expect((await c.tasks.claim(utc("2026-01-01 00:21:00")))!.uuid).toBe(first!.uuid);
      clock.set(utc("2026-01-01 00:30:00") * 1000);
      expect(await s.tick()).toEqual({ filed: 0, skipped: 1 });
      const log = (await c.tasks.get(first!.uuid))!.log;
      expect(log).toContain('job "orders-db" came due at 2026-01-01 00:20:00 UTC while this task was still pending; that run was skipped');
      expect(log).toContain('job "orders-db" came due at 2026-01-01 00:30:00 UTC while this task was still running; that run was skipped');
      await c.tasks.finish(first!.uuid, "done", utc("2026-01-01 00:35:00"));
      clock.set(utc("2026-01-01 00:40:00") * 1000);
      expect(await s.tick()).toEqual({ filed: 1, skipped: 0 });
      expect(await dues(job)).toEqual(["2026-01-01 00:10:00", "2026-01-01 00:40:00"]);
    });

    test("month ends: the 31st runs only in months that have one", async () => {
      const clock = ManualClock.at("2026-01-01 00:00:00");
      const job = await jobOn("0 3 31 * *");
      const s = scheduler(clock);
      await s.tick();
      await drive(s, clock, "2026-12-31 23:59:59");
      expect(await dues(job)).toEqual(["01-31", "03-31", "05-31", "07-31", "08-31", "10-31", "12-31"].map((d) => `2026-${d} 03:00:00`));
    });

    test("English schedules: every 2 minutes; the last friday of each month, across the year's end", async () => {
      const clock = ManualClock.at("2026-11-01 00:00:00");
      const often = await jobOn("every 2 minutes");
      const monthly = await jobOn("last friday of the month at 6pm");
      const s = scheduler(clock);
      await s.tick();
      await drive(s, clock, "2026-11-01 00:06:00");
      expect(await dues(often)).toEqual(["2026-11-01 00:02:00", "2026-11-01 00:04:00", "2026-11-01 00:06:00"]);
      await c.jobs.setPaused(often, true);
      s.nudge();
      await s.tick();
      await drive(s, clock, "2027-02-28 00:00:00");
      expect(await dues(monthly)).toEqual(["2026-11-27 18:00:00", "2026-12-25 18:00:00", "2027-01-29 18:00:00", "2027-02-26 18:00:00"]);
    });

    test("a schedule in its own zone ignores the daemon's: daily at 2:30am in Europe/Berlin", async () => {
      const clock = ManualClock.at("2026-07-01 00:00:00");
      const job = await jobOn("daily at 2:30am in Europe/Berlin");
      const s = scheduler(clock, { zone: "America/New_York" });
      await s.tick();
      await drive(s, clock, "2026-07-02 12:00:00");
      expect(await dues(job)).toEqual(["2026-07-01 00:30:00", "2026-07-02 00:30:00"]);
    });

    test("leap days: the 29th of February comes every four years, and late in a leap year", async () => {
      const clock = ManualClock.at("2026-01-01 00:00:00");
      const job = await jobOn("0 12 29 2 *");
      const s = scheduler(clock);
      await s.tick();
      expect(fmt(s.nextDue()!)).toBe("2028-02-29 12:00:00");
      await drive(s, clock, "2033-01-01 00:00:00");
      expect(await dues(job)).toEqual(["2028-02-29 12:00:00", "2032-02-29 12:00:00"]);
    });

    test("DST spring forward (Europe/Berlin): 02:30 does not exist on March 29 and runs once that day", async () => {
      const clock = ManualClock.at("2026-03-27 12:00:00");
      const job = await jobOn("30 2 * * *");
      const s = scheduler(clock, { zone: "Europe/Berlin" });
      await s.tick();
      await drive(s, clock, "2026-03-31 12:00:00");
      const got = await dues(job);
      const berlinDay = (u: string) => new Date(`${u.replace(" ", "T")}Z`).toLocaleDateString("sv-SE", { timeZone: "Europe/Berlin" });
      expect(got.map(berlinDay)).toEqual(["2026-03-28", "2026-03-29", "2026-03-30", "2026-03-31"]);
      expect(got[0]).toBe("2026-03-28 01:30:00"); // 02:30 CET
      expect(got[2]).toBe("2026-03-30 00:30:00"); // 02:30 CEST
      // The missing time runs at the next valid one: after the jump, at 03:00 CEST or later.
      expect(utc(got[1]!)).toBeGreaterThanOrEqual(utc("2026-03-29 01:00:00"));
    });

    test("DST fall back (America/New_York): 01:30 happens twice on November 1 and runs once", async () => {
      const clock = ManualClock.at("2026-10-30 12:00:00");
      const job = await jobOn("30 1 * * *");
      const s = scheduler(clock, { zone: "America/New_York" });
      await s.tick();
      await drive(s, clock, "2026-11-03 12:00:00");
      const got = await dues(job);
      expect(got).toHaveLength(4);
      expect(got[0]).toBe("2026-10-31 05:30:00"); // 01:30 EDT
      expect(["2026-11-01 05:30:00", "2026-11-01 06:30:00"]).toContain(got[1]!);
      expect(got.slice(2)).toEqual(["2026-11-02 06:30:00", "2026-11-03 06:30:00"]); // 01:30 EST
    });

    test("SHIELD_MODE=DEV runs every schedule every minute, and says so in the task log", async () => {
      const clock = ManualClock.at("2026-01-01 10:00:30");
      const job = await jobOn("0 4 * * *");
      const s = scheduler(clock, { dev: true });
      await s.tick();
      await drive(s, clock, "2026-01-01 10:03:00");
      const tasks = await tasksOf(job);
      expect(tasks.map((t) => fmt(t.dueAt!))).toEqual(["2026-01-01 10:01:00", "2026-01-01 10:02:00", "2026-01-01 10:03:00"]);
      expect(tasks[0]!.log).toContain('schedule "0 4 * * *", run every minute as SHIELD_MODE=DEV');
      // Back to normal mode: the job returns to its own schedule from now on.
      const normal = scheduler(clock);
      await normal.tick();
      expect(fmt(normal.nextDue()!)).toBe("2026-01-02 04:00:00");
    });

    test("an edited schedule takes effect from now; the old due time files nothing", async () => {
      const clock = ManualClock.at("2026-01-01 01:00:00");
      const schedule = await makeSchedule(c, { timespec: "0 4 * * *" });
      const job = await makeJob(c, { schedule });
      const s = scheduler(clock);
      await s.tick();
      expect(fmt(s.nextDue()!)).toBe("2026-01-01 04:00:00");
      clock.set(utc("2026-01-01 01:02:00") * 1000);
      const row = (await c.schedules.get(schedule))!;
      await c.schedules.update(schedule, { name: row.name, summary: row.summary, timespec: "*/5 * * * *" });
      s.nudge();
      await s.tick();
      expect(fmt(s.nextDue()!)).toBe("2026-01-01 01:05:00");
      await drive(s, clock, "2026-01-01 01:10:00");
      expect(await dues(job)).toEqual(["2026-01-01 01:05:00", "2026-01-01 01:10:00"]);
    });

    test("an edit seen only at the due time (another daemon made it) does not run the old schedule", async () => {
      const clock = ManualClock.at("2026-01-01 01:00:00");
      const schedule = await makeSchedule(c, { timespec: "0 4 * * *" });
      const job = await makeJob(c, { schedule });
      const s = scheduler(clock, { reloadEveryMs: 24 * 3600_000 });
      await s.tick();
      const row = (await c.schedules.get(schedule))!;
      await c.schedules.update(schedule, { name: row.name, summary: row.summary, timespec: "0 5 * * *" });
      clock.set(utc("2026-01-01 04:00:00") * 1000);
      expect(await s.tick()).toEqual({ filed: 0, skipped: 0 });
      await s.tick();
      expect(fmt(s.nextDue()!)).toBe("2026-01-01 05:00:00");
      expect(await dues(job)).toEqual([]);
    });

    test("a deleted job's due time files nothing", async () => {
      const clock = ManualClock.at("2026-01-01 00:00:00");
      const job = await jobOn("*/5 * * * *");
      const s = scheduler(clock, { reloadEveryMs: 24 * 3600_000 });
      await s.tick();
      await c.jobs.delete(job);
      clock.set(utc("2026-01-01 00:05:00") * 1000);
      expect(await s.tick()).toEqual({ filed: 0, skipped: 0 });
      expect(await c.tasks.list({ job }, { limit: 10, offset: 0 })).toEqual([]);
      expect(s.nextDue()).toBeUndefined();
    });

    test("idle, the loop sleeps until the earliest due time, and wakes at once for a new job", async () => {
      const clock = ManualClock.at("2026-01-01 00:00:00");
      const job = await jobOn("0 3 * * *");
      let filed = 0;
      const s = scheduler(clock, { reloadEveryMs: 24 * 3600_000, onFiled: () => filed++ });
      running.push(s);
      await s.start();
      await until(() => clock.asleep === 1);
      expect(clock.sleeps.at(-1)).toBe(3 * 3600_000);
      clock.set(utc("2026-01-01 03:00:00") * 1000);
      await until(() => filed === 1 && clock.asleep === 1);
      expect(await dues(job)).toEqual(["2026-01-01 03:00:00"]);
      // Next due tomorrow at 03:00; the periodic re-read (a day after the first, at 00:00) comes first.
      expect(clock.sleeps.at(-1)).toBe(21 * 3600_000);
      // A new job through this daemon's API: the scheduler is nudged and sleeps until the new earliest time.
      await jobOn("30 3 * * *");
      s.nudge();
      await until(() => clock.sleeps.at(-1) === 30 * 60_000).catch((err) => { throw new Error(`${err.message}: slept ${clock.sleeps}`); });
      expect(clock.sleeps.length).toBeLessThan(6);
    });
  });
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(5);
  }
}
