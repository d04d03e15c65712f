// Queries for the four kinds of definition a job is built from (targets, stores,
// schedules, retention policies). They behave alike: listed by name, filtered by
// whether a job uses them, and refused deletion while a job does (the FK says so too).
import { and, asc, count, eq, exists, not, sql, type SQL } from "drizzle-orm";
import type { CatalogHandle, Tables } from "./open.ts";
import { NO_LIMIT, type OptionalPage, type UsageFilter } from "./rows.ts";

type DefinitionTable = Tables["targets"] | Tables["stores"] | Tables["schedules"] | Tables["retention"];
type JobReference = "targetUuid" | "storeUuid" | "scheduleUuid" | "retentionUuid";

export function definitionQueries<T extends DefinitionTable>(
  { db, t }: CatalogHandle,
  table: T,
  jobReference: JobReference,
) {
  type Row = T["$inferSelect"];
  type Input = Omit<T["$inferInsert"], "uuid" | "createdAt">;
  // Drizzle cannot follow a union of tables through its generics; the queries
  // below only touch columns every definition table has.
  const tbl = table as any;
  const usedByJob = () => db.select({ one: sql`1` }).from(t.jobs).where(eq(t.jobs[jobReference], tbl.uuid));

  return {
    /** By name (unique, so pages are stable); all rows unless `page` bounds them. */
    async list(f: UsageFilter = {}, page: OptionalPage = {}): Promise<Row[]> {
      const where: (SQL | undefined)[] = [
        f.plugin === undefined || !("plugin" in tbl) ? undefined : eq(tbl.plugin, f.plugin),
        f.unused === undefined ? undefined : f.unused ? not(exists(usedByJob())) : exists(usedByJob()),
      ];
      const q = db.select().from(tbl).where(and(...where)).orderBy(asc(tbl.name));
      const paged = page.limit === undefined && !page.offset ? q : q.limit(page.limit ?? NO_LIMIT).offset(page.offset ?? 0);
      return (await paged) as Row[];
    },
    async get(uuid: string): Promise<Row | undefined> {
      return (await db.select().from(tbl).where(eq(tbl.uuid, uuid)))[0] as Row | undefined;
    },
    async byName(name: string): Promise<Row | undefined> {
      return (await db.select().from(tbl).where(eq(tbl.name, name)))[0] as Row | undefined;
    },
    /** Names of the jobs that use this definition, for a refusal that names them. */
    async jobsUsing(uuid: string): Promise<string[]> {
      const rows = await db.select({ name: t.jobs.name }).from(t.jobs).where(eq(t.jobs[jobReference], uuid)).orderBy(asc(t.jobs.name));
      return rows.map((r) => r.name);
    },
    async create(uuid: string, v: Input, createdAt: number): Promise<void> {
      await db.insert(tbl).values({ ...v, uuid, createdAt });
    },
    async update(uuid: string, v: Input): Promise<boolean> {
      return (await db.update(tbl).set(v).where(eq(tbl.uuid, uuid)).returning({ uuid: tbl.uuid })).length > 0;
    },
    async delete(uuid: string): Promise<boolean> {
      return (await db.delete(tbl).where(eq(tbl.uuid, uuid)).returning({ uuid: tbl.uuid })).length > 0;
    },
    async count(): Promise<number> {
      return (await db.select({ n: count() }).from(tbl))[0]!.n;
    },
  };
}

export type DefinitionQueries<T extends DefinitionTable> = ReturnType<typeof definitionQueries<T>>;
