import { beforeAll, describe, expect, test } from "bun:test";
import type { ArchiveRow } from "../../src/catalog/index.ts";
import { dialects } from "../helpers/catalog.ts";
import { archiveRow, makeStore, makeTarget, T0, useCatalog } from "./fixtures.ts";

const HOUR = 3600;
const ALL = { limit: 1000, offset: 0 };
const uuids = (rows: { uuid: string }[]) => rows.map((r) => r.uuid);
/** Two uuids the way the list orders a tie on taken_at: greater uuid first. */
const byUuidDesc = (a: string, b: string) => (a > b ? [a, b] : [b, a]);

for (const dialect of dialects) {
  describe(`archives on ${dialect}`, () => {
    describe("listing", () => {
      const open = useCatalog(dialect);
      const c = () => open().catalog;
      const d = { tDb: "", tFiles: "", sLocal: "", sCloud: "" };
      // a0 is the oldest; a5 and a6 are taken at the same second.
      const a: ArchiveRow[] = [];
      let tie: string[] = [];
      beforeAll(async () => {
        d.tDb = await makeTarget(c(), { name: "db", plugin: "postgres", endpoint: '{"host":"db1"}' });
        d.tFiles = await makeTarget(c(), { name: "files", plugin: "fs", endpoint: '{"base_dir":"/srv"}' });
        d.sLocal = await makeStore(c(), { name: "local", plugin: "fs", endpoint: '{"base_dir":"/backups"}' });
        d.sCloud = await makeStore(c(), { name: "cloud", plugin: "s3", endpoint: '{"bucket":"shield"}' });
        const spec: [string, string, number, ArchiveRow["status"]][] = [
          [d.tDb, d.sLocal, 0, "valid"],
          [d.tDb, d.sCloud, 1, "expired"],
          [d.tFiles, d.sLocal, 2, "valid"],
          [d.tFiles, d.sCloud, 3, "purged"],
          [d.tDb, d.sLocal, 4, "purge_failed"],
          [d.tDb, d.sLocal, 5, "valid"],
          [d.tDb, d.sLocal, 5, "valid"],
        ];
        for (const [targetUuid, storeUuid, hours, status] of spec) {
          a.push(archiveRow({ targetUuid, storeUuid, takenAt: T0 + hours * HOUR, status, purgedAt: status === "purged" ? T0 + 9 * HOUR : null }));
        }
        // Inserted newest first, so that the order of the list is the query's, not the table's.
        for (const row of [...a].reverse()) await c().archives.create(row);
        tie = byUuidDesc(a[5]!.uuid, a[6]!.uuid);
      });

      test("list is newest first, a tie on taken_at broken by uuid", async () => {
        expect(uuids(await c().archives.list({}, ALL))).toEqual([...tie, a[4]!.uuid, a[3]!.uuid, a[2]!.uuid, a[1]!.uuid, a[0]!.uuid]);
      });

      test("an archive comes with its target's and store's name, plugin and endpoint", async () => {
        const want = {
          ...a[0]!,
          targetName: "db", targetPlugin: "postgres", targetEndpoint: '{"host":"db1"}',
          storeName: "local", storePlugin: "fs", storeEndpoint: '{"base_dir":"/backups"}', storeBandwidth: 0,
        };
        expect(await c().archives.get(a[0]!.uuid)).toEqual(want);
        expect((await c().archives.list({}, ALL)).find((x) => x.uuid === a[0]!.uuid)).toEqual(want);
        expect(await c().archives.get(a[3]!.uuid)).toMatchObject({
          status: "purged", purgedAt: T0 + 9 * HOUR, targetName: "files", targetPlugin: "fs", storeName: "cloud", storePlugin: "s3",
        });
        expect(await c().archives.get(crypto.randomUUID())).toBeUndefined();
      });

      test("target= and store= filters", async () => {
        expect(uuids(await c().archives.list({ target: d.tDb }, ALL))).toEqual([...tie, a[4]!.uuid, a[1]!.uuid, a[0]!.uuid]);
        expect(uuids(await c().archives.list({ target: d.tFiles }, ALL))).toEqual([a[3]!.uuid, a[2]!.uuid]);
        expect(uuids(await c().archives.list({ store: d.sCloud }, ALL))).toEqual([a[3]!.uuid, a[1]!.uuid]);
        expect(uuids(await c().archives.list({ target: d.tFiles, store: d.sLocal }, ALL))).toEqual([a[2]!.uuid]);
        expect(await c().archives.list({ target: crypto.randomUUID() }, ALL)).toEqual([]);
      });

      test("after= is inclusive, before= exclusive", async () => {
        expect(uuids(await c().archives.list({ after: T0 + 2 * HOUR }, ALL))).toEqual([...tie, a[4]!.uuid, a[3]!.uuid, a[2]!.uuid]);
        expect(uuids(await c().archives.list({ before: T0 + 2 * HOUR }, ALL))).toEqual([a[1]!.uuid, a[0]!.uuid]);
        expect(uuids(await c().archives.list({ after: T0 + HOUR, before: T0 + 4 * HOUR }, ALL))).toEqual([a[3]!.uuid, a[2]!.uuid, a[1]!.uuid]);
        expect(uuids(await c().archives.list({ after: T0 + 5 * HOUR }, ALL))).toEqual(tie);
        expect(await c().archives.list({ after: T0 + 5 * HOUR + 1 }, ALL)).toEqual([]);
        expect(await c().archives.list({ before: T0 }, ALL)).toEqual([]);
      });

      test("status= filter, alone and with the others", async () => {
        expect(uuids(await c().archives.list({ status: "valid" }, ALL))).toEqual([...tie, a[2]!.uuid, a[0]!.uuid]);
        expect(uuids(await c().archives.list({ status: "expired" }, ALL))).toEqual([a[1]!.uuid]);
        expect(uuids(await c().archives.list({ status: "purged" }, ALL))).toEqual([a[3]!.uuid]);
        expect(uuids(await c().archives.list({ status: "purge_failed" }, ALL))).toEqual([a[4]!.uuid]);
        expect(uuids(await c().archives.list({ status: "valid", target: d.tDb, before: T0 + 5 * HOUR }, ALL))).toEqual([a[0]!.uuid]);
      });

      test("limit and offset page through the same order", async () => {
        const all = uuids(await c().archives.list({}, ALL));
        expect(all).toHaveLength(7);
        const pages: string[] = [];
        for (let offset = 0; offset < 7; offset += 3) {
          const page = uuids(await c().archives.list({}, { limit: 3, offset }));
          expect(page).toEqual(all.slice(offset, offset + 3));
          pages.push(...page);
        }
        expect(pages).toEqual(all);
        expect(await c().archives.list({}, { limit: 3, offset: 7 })).toEqual([]);
        expect(uuids(await c().archives.list({}, { limit: 1, offset: 0 }))).toEqual([tie[0]!]);
        expect(uuids(await c().archives.list({ target: d.tDb }, { limit: 2, offset: 2 }))).toEqual([a[4]!.uuid, a[1]!.uuid]);
      });
    });

    describe("writes", () => {
      const open = useCatalog(dialect);
      const c = () => open().catalog;
      let target = "";
      let store = "";
      beforeAll(async () => {
        target = await makeTarget(c());
        store = await makeStore(c());
      });
      const create = async (o: Partial<ArchiveRow> = {}) => {
        const row = archiveRow({ targetUuid: target, storeUuid: store, ...o });
        await c().archives.create(row);
        return row;
      };

      test("what may be absent round-trips as null", async () => {
        const row = await create({ jobUuid: null, size: null, rawSize: null, sha256: null, encryptionKey: null, purgedAt: null, compression: "none", cipher: "none" });
        expect(await c().archives.get(row.uuid)).toMatchObject(row);
        const withJob = await create({ jobUuid: crypto.randomUUID() });
        expect((await c().archives.get(withJob.uuid))!.jobUuid).toBe(withJob.jobUuid);
      });

      test("annotate sets the notes of one archive; false for an unknown one", async () => {
        const row = await create();
        const other = await create({ notes: "untouched" });
        expect(await c().archives.annotate(row.uuid, "before the upgrade")).toBe(true);
        expect((await c().archives.get(row.uuid))!.notes).toBe("before the upgrade");
        expect((await c().archives.get(other.uuid))!.notes).toBe("untouched");
        expect(await c().archives.annotate(row.uuid, "")).toBe(true);
        expect((await c().archives.get(row.uuid))!.notes).toBe("");
        expect(await c().archives.annotate(crypto.randomUUID(), "ghost")).toBe(false);
      });

      test("expireNow ends a valid archive's life now, once", async () => {
        const row = await create({ status: "valid", expiresAt: T0 + 30 * 86400 });
        expect(await c().archives.expireNow(row.uuid, T0 + 60)).toBe(true);
        expect(await c().archives.get(row.uuid)).toMatchObject({ status: "expired", expiresAt: T0 + 60 });
        // Already expired: not valid any more, so the expiry time is not moved.
        expect(await c().archives.expireNow(row.uuid, T0 + 120)).toBe(false);
        expect(await c().archives.get(row.uuid)).toMatchObject({ status: "expired", expiresAt: T0 + 60 });
      });

      test("expireNow leaves purged and purge_failed archives alone; false for an unknown one", async () => {
        for (const status of ["purged", "purge_failed"] as const) {
          const row = await create({ status, expiresAt: T0 + 86400, purgedAt: status === "purged" ? T0 + 86400 : null });
          expect(await c().archives.expireNow(row.uuid, T0 + 60)).toBe(false);
          expect(await c().archives.get(row.uuid)).toMatchObject({ status, expiresAt: T0 + 86400, purgedAt: row.purgedAt });
        }
        expect(await c().archives.expireNow(crypto.randomUUID(), T0)).toBe(false);
      });

      test("an archive outlives its target and store, listed without their names", async () => {
        const t = await makeTarget(c());
        const s = await makeStore(c());
        const row = archiveRow({ targetUuid: t, storeUuid: s, status: "purged", purgedAt: T0 });
        await c().archives.create(row);
        expect(await c().targets.delete(t)).toBe(true);
        expect(await c().stores.delete(s)).toBe(true);
        const want = { ...row, targetName: null, targetPlugin: null, targetEndpoint: null, storeName: null, storePlugin: null, storeEndpoint: null, storeBandwidth: null };
        expect(await c().archives.get(row.uuid)).toEqual(want);
        expect(await c().archives.list({ target: t }, ALL)).toEqual([want]);
      });
    });

    describe("countHeld", () => {
      const open = useCatalog(dialect);
      const c = () => open().catalog;
      const tA = crypto.randomUUID();
      const tB = crypto.randomUUID();
      const sA = crypto.randomUUID();
      const sB = crypto.randomUUID();
      beforeAll(async () => {
        // No foreign keys on archives: made-up target and store uuids do.
        const spec: [string, string, ArchiveRow["status"]][] = [
          [tA, sA, "valid"], [tA, sA, "expired"], [tA, sB, "purged"], [tB, sA, "purge_failed"], [tB, sB, "purged"], [tB, sB, "purged"],
        ];
        for (const [targetUuid, storeUuid, status] of spec) await c().archives.create(archiveRow({ targetUuid, storeUuid, status }));
      });

      test("counts every status but purged", async () => {
        expect(await c().archives.countHeld({})).toBe(3);
      });

      test("by target, by store, by both", async () => {
        expect(await c().archives.countHeld({ target: tA })).toBe(2);
        expect(await c().archives.countHeld({ target: tB })).toBe(1);
        expect(await c().archives.countHeld({ store: sA })).toBe(3);
        expect(await c().archives.countHeld({ store: sB })).toBe(0);
        expect(await c().archives.countHeld({ target: tA, store: sA })).toBe(2);
        expect(await c().archives.countHeld({ target: tB, store: sB })).toBe(0);
        expect(await c().archives.countHeld({ target: crypto.randomUUID() })).toBe(0);
      });

      test("an archive expired early is still held until it is purged", async () => {
        const row = archiveRow({ targetUuid: tB, storeUuid: sB, status: "valid" });
        await c().archives.create(row);
        expect(await c().archives.countHeld({ target: tB, store: sB })).toBe(1);
        expect(await c().archives.expireNow(row.uuid, T0)).toBe(true);
        expect(await c().archives.countHeld({ target: tB, store: sB })).toBe(1);
        expect(typeof (await c().archives.countHeld({}))).toBe("number");
      });
    });
  });
}
