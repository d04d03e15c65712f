// The catalog side of GFS retention, on both dialects: policy rules stored and
// read back, pins, and the purger's queries (expiry alone leaves pinned archives
// and the archives of jobs with rules to the rules; the rules' choice is expired
// only while still valid, unpinned and past its expiry).
import { describe, expect, test } from "bun:test";
import { dialects } from "../helpers/catalog.ts";
import { archiveRow, makeJob, makeRetention, makeStore, makeTarget, T0, useCatalog } from "./fixtures.ts";

const HOUR = 3600;

for (const dialect of dialects) {
  describe(`retention rules and pins on ${dialect}`, () => {
    const open = useCatalog(dialect);
    const c = () => open().catalog;

    test("a policy's rules default to none and are stored as given", async () => {
      const plain = await makeRetention(c(), { expiry: HOUR });
      expect(await c().retention.get(plain)).toMatchObject({ expiry: HOUR, keepLast: 0, keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, keepYearly: 0, keepWithin: 0 });
      const gfs = await makeRetention(c(), { expiry: HOUR, keepDaily: 7, keepWithin: 100 * 365 * 86400 });
      expect(await c().retention.get(gfs)).toMatchObject({ keepDaily: 7, keepWithin: 100 * 365 * 86400 });
      // An update that leaves the rules out leaves them as they are.
      await c().retention.update(gfs, { name: "renamed", summary: "", expiry: 2 * HOUR });
      expect(await c().retention.get(gfs)).toMatchObject({ name: "renamed", expiry: 2 * HOUR, keepDaily: 7 });
    });

    test("pin and unpin, with a reason", async () => {
      const a = archiveRow({ targetUuid: await makeTarget(c()), storeUuid: await makeStore(c()) });
      await c().archives.create(a);
      expect(await c().archives.get(a.uuid)).toMatchObject({ pinned: false, pinReason: "" });
      expect(await c().archives.pin(a.uuid, true, "legal hold #42")).toBe(true);
      expect(await c().archives.get(a.uuid)).toMatchObject({ pinned: true, pinReason: "legal hold #42" });
      expect(await c().archives.pin(crypto.randomUUID(), true, "x")).toBe(false);
    });

    test("expireDue: by expiry as before, but never a pinned archive nor one of a job with rules", async () => {
      const target = await makeTarget(c());
      const store = await makeStore(c());
      const plainJob = await makeJob(c(), { target, store, retention: await makeRetention(c(), { expiry: HOUR }) });
      const gfsJob = await makeJob(c(), { target, store, retention: await makeRetention(c(), { expiry: HOUR, keepDaily: 3 }) });
      const due = archiveRow({ targetUuid: target, storeUuid: store, jobUuid: plainJob, expiresAt: T0 });
      const notYet = archiveRow({ targetUuid: target, storeUuid: store, jobUuid: plainJob, expiresAt: T0 + 1 });
      const pinned = archiveRow({ targetUuid: target, storeUuid: store, jobUuid: plainJob, expiresAt: T0, pinned: true, pinReason: "keep" });
      const jobless = archiveRow({ targetUuid: target, storeUuid: store, jobUuid: null, expiresAt: T0 });
      const ofGfs = archiveRow({ targetUuid: target, storeUuid: store, jobUuid: gfsJob, expiresAt: T0 });
      for (const a of [due, notYet, pinned, jobless, ofGfs]) await c().archives.create(a);
      expect(await c().archives.expireDue(T0)).toBe(2);
      const status = async (u: string) => (await c().archives.get(u))!.status;
      expect([await status(due.uuid), await status(notYet.uuid), await status(pinned.uuid), await status(jobless.uuid), await status(ofGfs.uuid)])
        .toEqual(["expired", "valid", "valid", "expired", "valid"]);

      expect((await c().retentionRules.jobsWithRules()).map((j) => [j.jobUuid, j.policy.keepDaily])).toEqual([[gfsJob, 3]]);
      expect((await c().archives.retainedOf(gfsJob)).map((a) => a.uuid)).toEqual([ofGfs.uuid]);
      expect((await c().archives.retainedOf(plainJob)).map((a) => a.uuid).sort()).toEqual([notYet.uuid, pinned.uuid].sort());

      // expireChosen: only what is still valid, unpinned and past its expiry.
      expect(await c().archives.expireChosen([notYet.uuid, pinned.uuid, due.uuid], T0)).toBe(0);
      expect(await c().archives.expireChosen([notYet.uuid, ofGfs.uuid], T0 + 1)).toBe(2);
      expect(await status(ofGfs.uuid)).toBe("expired");
    });

    test("expireChosen takes more archives than one statement's parameters", async () => {
      const target = await makeTarget(c());
      const store = await makeStore(c());
      const rows = Array.from({ length: 1200 }, () => archiveRow({ targetUuid: target, storeUuid: store, expiresAt: T0 }));
      for (const r of rows) await c().archives.create(r);
      expect(await c().archives.expireChosen(rows.map((r) => r.uuid), T0)).toBe(1200);
    });
  });
}
