// The four kinds of definition (targets, stores, schedules, retention) share one
// query module; every kind is run through the same tests, on both dialects.
import { describe, expect, test } from "bun:test";
import { isUniqueViolation, type Catalog } from "../../src/catalog/index.ts";
import { dialects } from "../helpers/catalog.ts";
import { makeJob, rejection, T0, useCatalog, type JobSpec } from "./fixtures.ts";

type Input = Record<string, unknown> & { name: string };
/** The definition queries, typed loosely enough to drive all four kinds from one table. */
interface Definitions {
  list(f?: { unused?: boolean; plugin?: string }, page?: { limit?: number; offset?: number }): Promise<Input[]>;
  get(uuid: string): Promise<Input | undefined>;
  byName(name: string): Promise<Input | undefined>;
  jobsUsing(uuid: string): Promise<string[]>;
  create(uuid: string, v: Input, createdAt: number): Promise<void>;
  update(uuid: string, v: Input): Promise<boolean>;
  delete(uuid: string): Promise<boolean>;
  count(): Promise<number>;
}

interface Kind {
  kind: "targets" | "stores" | "schedules" | "retention";
  /** The JobSpec field that points a job at a definition of this kind. */
  ref: keyof JobSpec & ("target" | "store" | "schedule" | "retention");
  hasPlugin: boolean;
  /** The fewest fields a create needs. */
  minimal(name: string, plugin?: string): Input;
  /** What the columns left out of `minimal` default to. */
  defaults: Record<string, unknown>;
  /** Every writable field, changed. */
  changed(name: string): Input;
}

const kinds: Kind[] = [
  {
    kind: "targets", ref: "target", hasPlugin: true,
    minimal: (name, plugin = "postgres") => ({ name, plugin, endpoint: '{"host":"db1","port":5432}' }),
    defaults: { summary: "", agent: "", bandwidth: 0 },
    changed: (name) => ({ name, summary: "the main database", plugin: "mysql", endpoint: '{"host":"db2"}', agent: "10.0.0.2:5444", bandwidth: 1 << 20 }),
  },
  {
    kind: "stores", ref: "store", hasPlugin: true,
    minimal: (name, plugin = "fs") => ({ name, plugin, endpoint: '{"base_dir":"/backups"}' }),
    defaults: { summary: "", maxTasks: 0, bandwidth: 0 },
    changed: (name) => ({ name, summary: "offsite", plugin: "s3", endpoint: '{"bucket":"shield"}', maxTasks: 2, bandwidth: 50 << 20 }),
  },
  {
    kind: "schedules", ref: "schedule", hasPlugin: false,
    minimal: (name) => ({ name, timespec: "daily at 4am" }),
    defaults: { summary: "" },
    changed: (name) => ({ name, summary: "busy hours", timespec: "every 4 hours from 12:15" }),
  },
  {
    kind: "retention", ref: "retention", hasPlugin: false,
    minimal: (name) => ({ name, expiry: 7 * 86400 }),
    defaults: { summary: "", keepLast: 0, keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, keepYearly: 0, keepWithin: 0 },
    changed: (name) => ({
      name, summary: "a month", expiry: 30 * 86400,
      keepLast: 3, keepHourly: 24, keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: 2, keepWithin: 2 * 86400,
    }),
  },
];

const defs = (c: Catalog, kind: Kind["kind"]) => c[kind] as unknown as Definitions;

for (const dialect of dialects) {
  for (const k of kinds) {
    describe(`${k.kind} on ${dialect}`, () => {
      describe("rows", () => {
        const open = useCatalog(dialect);
        const q = () => defs(open().catalog, k.kind);

        test("create, then get and byName return the row with its defaults", async () => {
          const uuid = crypto.randomUUID();
          await q().create(uuid, k.minimal("first"), T0);
          const row = { uuid, createdAt: T0, ...k.defaults, ...k.minimal("first") };
          expect(await q().get(uuid)).toEqual(row);
          expect(await q().byName("first")).toEqual(row);
        });

        test("get and byName of what does not exist are undefined", async () => {
          expect(await q().get(crypto.randomUUID())).toBeUndefined();
          expect(await q().byName("no such name")).toBeUndefined();
        });

        test("update changes every field but uuid and createdAt", async () => {
          const uuid = crypto.randomUUID();
          await q().create(uuid, k.minimal("before"), T0);
          expect(await q().update(uuid, k.changed("after"))).toBe(true);
          expect(await q().get(uuid)).toEqual({ uuid, createdAt: T0, ...k.changed("after") });
          expect(await q().byName("before")).toBeUndefined();
        });

        test("update of an unknown uuid is false and changes nothing", async () => {
          const before = await q().list();
          expect(await q().update(crypto.randomUUID(), k.changed("ghost"))).toBe(false);
          expect(await q().list()).toEqual(before);
        });

        test("delete removes the row once", async () => {
          const uuid = crypto.randomUUID();
          await q().create(uuid, k.minimal("doomed"), T0);
          expect(await q().delete(uuid)).toBe(true);
          expect(await q().get(uuid)).toBeUndefined();
          expect(await q().delete(uuid)).toBe(false);
        });

        test("a second row with a taken name is a unique violation", async () => {
          await q().create(crypto.randomUUID(), k.minimal("taken"), T0);
          const err = await rejection(q().create(crypto.randomUUID(), k.minimal("taken"), T0 + 1));
          expect(isUniqueViolation(err)).toBe(true);
          expect((await q().list()).filter((r) => r.name === "taken")).toHaveLength(1);
        });

        test("renaming onto a taken name is a unique violation and leaves both rows", async () => {
          const a = crypto.randomUUID();
          const b = crypto.randomUUID();
          await q().create(a, k.minimal("owner of the name"), T0);
          await q().create(b, k.minimal("wants the name"), T0);
          const err = await rejection(q().update(b, k.changed("owner of the name")));
          expect(isUniqueViolation(err)).toBe(true);
          expect((await q().get(b))?.name).toBe("wants the name");
          expect((await q().get(a))?.name).toBe("owner of the name");
        });

        test("a second row with a taken uuid is refused too", async () => {
          const uuid = crypto.randomUUID();
          await q().create(uuid, k.minimal("original"), T0);
          const err = await rejection(q().create(uuid, k.minimal("impostor"), T0));
          expect(isUniqueViolation(err)).toBe(true);
          expect((await q().get(uuid))?.name).toBe("original");
        });
      });

      describe("listing and use by jobs", () => {
        const open = useCatalog(dialect);
        const c = () => open().catalog;
        const q = () => defs(c(), k.kind);
        const names = (rows: Input[]) => rows.map((r) => r.name);
        const ids: Record<"alpha" | "bravo" | "charlie", string> = { alpha: "", bravo: "", charlie: "" };
        const jobs: Record<string, string> = {};

        test("list is ordered by name and count counts", async () => {
          // Created out of order: the order comes from the query.
          for (const [name, plugin] of [["charlie", "fs"], ["alpha", "fs"], ["bravo", "postgres"]] as const) {
            ids[name] = crypto.randomUUID();
            await q().create(ids[name], k.minimal(name, plugin), T0);
          }
          expect(names(await q().list())).toEqual(["alpha", "bravo", "charlie"]);
          expect(names(await q().list({}))).toEqual(["alpha", "bravo", "charlie"]);
          expect(await q().count()).toBe(3);
        });

        test("a page of the list: limit, offset, either alone, with a filter", async () => {
          expect(names(await q().list({}, { limit: 2 }))).toEqual(["alpha", "bravo"]);
          expect(names(await q().list({}, { limit: 2, offset: 2 }))).toEqual(["charlie"]);
          // An offset alone is the rest of the list (SQLite needs a LIMIT for an OFFSET).
          expect(names(await q().list({}, { offset: 1 }))).toEqual(["bravo", "charlie"]);
          expect(names(await q().list({}, { offset: 5 }))).toEqual([]);
          expect(names(await q().list({}, {}))).toEqual(["alpha", "bravo", "charlie"]);
          if (k.hasPlugin) expect(names(await q().list({ plugin: "fs" }, { limit: 1, offset: 1 }))).toEqual(["charlie"]);
        });

        test("unused: true lists the rows no job uses, false the rows some job uses", async () => {
          // Every job gets its other definitions made for it, in the other tables.
          jobs.nightly = await makeJob(c(), { name: "nightly", [k.ref]: ids.bravo });
          jobs.hourly = await makeJob(c(), { name: "hourly", [k.ref]: ids.bravo });
          jobs.weekly = await makeJob(c(), { name: "weekly", [k.ref]: ids.charlie });
          expect(names(await q().list({ unused: true }))).toEqual(["alpha"]);
          expect(names(await q().list({ unused: false }))).toEqual(["bravo", "charlie"]);
          expect(await q().count()).toBe(3);
        });

        test("jobsUsing names the jobs, in name order", async () => {
          expect(await q().jobsUsing(ids.bravo)).toEqual(["hourly", "nightly"]);
          expect(await q().jobsUsing(ids.charlie)).toEqual(["weekly"]);
          expect(await q().jobsUsing(ids.alpha)).toEqual([]);
          expect(await q().jobsUsing(crypto.randomUUID())).toEqual([]);
        });

        if (k.hasPlugin) {
          test("plugin= lists that plugin's rows, alone or with unused", async () => {
            expect(names(await q().list({ plugin: "fs" }))).toEqual(["alpha", "charlie"]);
            expect(names(await q().list({ plugin: "postgres" }))).toEqual(["bravo"]);
            expect(names(await q().list({ plugin: "fs", unused: false }))).toEqual(["charlie"]);
            expect(names(await q().list({ plugin: "fs", unused: true }))).toEqual(["alpha"]);
            expect(names(await q().list({ plugin: "postgres", unused: true }))).toEqual([]);
            expect(await q().list({ plugin: "no such plugin" })).toEqual([]);
          });
        }

        test("deleting a row a job uses is refused by the foreign key, and the row stays", async () => {
          const err = await rejection(q().delete(ids.bravo));
          expect(err).toBeInstanceOf(Error);
          expect(isUniqueViolation(err)).toBe(false);
          expect((await q().get(ids.bravo))?.name).toBe("bravo");
          expect(await q().count()).toBe(3);
        });

        test("once no job uses it, the row can be deleted", async () => {
          expect(await c().jobs.delete(jobs.nightly!)).toBe(true);
          expect(await q().jobsUsing(ids.bravo)).toEqual(["hourly"]);
          expect(await rejection(q().delete(ids.bravo))).toBeInstanceOf(Error);
          expect(await c().jobs.delete(jobs.hourly!)).toBe(true);
          expect(await q().delete(ids.bravo)).toBe(true);
          expect(names(await q().list({ unused: false }))).toEqual(["charlie"]);
          expect(names(await q().list({ unused: true }))).toEqual(["alpha"]);
        });
      });
    });
  }

  describe(`isUniqueViolation on ${dialect}`, () => {
    const open = useCatalog(dialect);

    test("is false for a foreign key refusal, even when a value quotes SQLite's unique message", async () => {
      const c = open().catalog;
      // A job that points at a store that does not exist: refused by the foreign key.
      const err = await rejection(c.jobs.create(crypto.randomUUID(), {
        name: "UNIQUE constraint failed: jobs.name", summary: "", priority: 50, paused: false,
        targetUuid: crypto.randomUUID(), storeUuid: crypto.randomUUID(),
        scheduleUuid: crypto.randomUUID(), retentionUuid: crypto.randomUUID(),
      }, T0));
      expect(err).toBeInstanceOf(Error);
      expect(isUniqueViolation(err)).toBe(false);
    });

    test("is false for what is not a database error", () => {
      expect(isUniqueViolation(undefined)).toBe(false);
      expect(isUniqueViolation(null)).toBe(false);
      expect(isUniqueViolation("UNIQUE")).toBe(false);
      expect(isUniqueViolation(new Error("connection refused"))).toBe(false);
    });
  });
}
