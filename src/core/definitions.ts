// Rules for targets, stores, schedules and retention policies: names are unique,
// and nothing a job uses, or that still holds archives, can be deleted.
import { nowSeconds, type OptionalPage, type UsageFilter } from "../catalog/index.ts";
import { uniqueNames } from "./names.ts";
import { Conflict, NotFound } from "./errors.ts";

type DefinitionKind = "target" | "store" | "schedule" | "retention policy";

/** What the catalog offers for each kind of definition (see catalog/definitions.ts). */
interface DefinitionQueries<Row, Input> {
  list(f?: UsageFilter, page?: OptionalPage): Promise<Row[]>;
  get(uuid: string): Promise<Row | undefined>;
  byName(name: string): Promise<Row | undefined>;
  create(uuid: string, v: Input, createdAt: number): Promise<void>;
  update(uuid: string, v: Input): Promise<boolean>;
  delete(uuid: string): Promise<boolean>;
  jobsUsing(uuid: string): Promise<string[]>;
}

export function definitionRules<Row extends { uuid: string }, Input extends { name: string }>(
  kind: DefinitionKind,
  queries: DefinitionQueries<Row, Input>,
  // Counts archives not yet purged, for kinds whose deletion would strand them.
  heldArchives?: (uuid: string) => Promise<number>,
  // Checks an input beyond its shape (a plugin's `validate` of an endpoint); throws InvalidInput.
  check?: (v: Input) => Promise<void>,
) {
  const names = uniqueNames(kind, queries.byName);

  return {
    list(f: UsageFilter = {}, page: OptionalPage = {}): Promise<Row[]> {
      return queries.list(f, page);
    },
    async get(uuid: string): Promise<Row> {
      const row = await queries.get(uuid);
      if (!row) throw new NotFound(kind, uuid);
      return row;
    },
    async create(v: Input): Promise<string> {
      await names.check(v.name);
      await check?.(v);
      const uuid = crypto.randomUUID();
      await names.guard(v.name, () => queries.create(uuid, v, nowSeconds()));
      return uuid;
    },
    async update(uuid: string, v: Input): Promise<void> {
      await this.get(uuid);
      await names.check(v.name, uuid);
      await check?.(v);
      if (!(await names.guard(v.name, () => queries.update(uuid, v)))) throw new NotFound(kind, uuid);
    },
    async delete(uuid: string): Promise<void> {
      await this.get(uuid);
      const jobs = await queries.jobsUsing(uuid);
      if (jobs.length) {
        const names = jobs.map((n) => `"${n}"`).join(", ");
        throw new Conflict(`${kind} ${uuid} is used by job${jobs.length > 1 ? "s" : ""} ${names}; delete or change ${jobs.length > 1 ? "them" : "it"} first`);
      }
      const held = heldArchives ? await heldArchives(uuid) : 0;
      if (held) throw new Conflict(`${kind} ${uuid} still has ${held} archive${held > 1 ? "s" : ""} that have not been purged; delete those archives first`);
      try {
        if (!(await queries.delete(uuid))) throw new NotFound(kind, uuid);
      } catch (err) {
        // A job created between our check and the delete: the foreign key refuses.
        if (/FOREIGN KEY|foreign key/.test(String((err as any)?.cause?.message ?? (err as any)?.message))) {
          throw new Conflict(`${kind} ${uuid} is used by a job; delete or change it first`);
        }
        throw err;
      }
    },
  };
}
