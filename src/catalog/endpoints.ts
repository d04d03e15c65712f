// Endpoint secrets at rest, the catalog's side: target and store endpoints are
// written with their secret values sealed, and endpoints written in clear by an
// older Shield are sealed once, at start. The catalog knows no key and no plugin:
// the daemon gives it an EndpointSealer (src/core/plugins.ts makes one). Reads
// answer endpoints as stored (sealed): they are opened only where a plugin needs
// them and for the API's answers to operators.
import { and, eq } from "drizzle-orm";
import type { CatalogHandle } from "./open.ts";

export interface EndpointSealer {
  /** The endpoint with its secret values sealed (those already sealed kept), judged by its plugin's declared fields. */
  seal(endpoint: string, plugin: string): Promise<string>;
  /** Throws when a sealed value of the endpoint does not open (another master key, or damaged). */
  check(endpoint: string): void;
}

export type EndpointKind = "target" | "store";

export interface StoredEndpoint { kind: EndpointKind; uuid: string; name: string; plugin: string; endpoint: string }

/** Recorded in shield_migrations once every endpoint written before sealing existed is sealed. */
export const SEAL_STEP = "data_seal_endpoint_secrets";

/** Wraps the queries of targets or stores so that every endpoint they write is sealed. */
export function sealingWrites<Q extends { create(uuid: string, v: any, createdAt: number): Promise<void>; update(uuid: string, v: any): Promise<boolean> }>(
  queries: Q, sealer: EndpointSealer | undefined,
): Q {
  if (!sealer) return queries;
  const sealed = async <V extends { plugin: string; endpoint: string }>(v: V): Promise<V> => ({ ...v, endpoint: await sealer.seal(v.endpoint, v.plugin) });
  return {
    ...queries,
    create: async (uuid: string, v: any, createdAt: number) => queries.create(uuid, await sealed(v), createdAt),
    update: async (uuid: string, v: any) => queries.update(uuid, await sealed(v)),
  };
}

export function endpointQueries(h: CatalogHandle, sealer: EndpointSealer | undefined) {
  const { db, t } = h;
  const tables = { target: t.targets, store: t.stores } as const;
  const queries = {
    /** Every target's and store's endpoint, as stored. */
    async all(): Promise<StoredEndpoint[]> {
      const out: StoredEndpoint[] = [];
      for (const kind of ["target", "store"] as const) {
        const tbl = tables[kind];
        const rows = await db.select({ uuid: tbl.uuid, name: tbl.name, plugin: tbl.plugin, endpoint: tbl.endpoint }).from(tbl);
        out.push(...rows.map((r) => ({ kind, ...r })));
      }
      return out;
    },
    /** Replaces an endpoint if it is still `expected` (a compare-and-set: an edit meanwhile wins). */
    async replace(kind: EndpointKind, uuid: string, expected: string, next: string): Promise<boolean> {
      const tbl = tables[kind];
      const rows = await db.update(tbl).set({ endpoint: next })
        .where(and(eq(tbl.uuid, uuid), eq(tbl.endpoint, expected))).returning({ uuid: tbl.uuid });
      return rows.length > 0;
    },
    /**
     * At daemon start: refuses a catalog whose sealed values do not open with
     * this master key (every backup would fail), then, once per catalog, seals
     * the secrets of endpoints an older Shield wrote in clear and scrubs the old
     * values from the catalog's files. Idempotent: interrupted, it goes on where
     * it stopped at the next start. Returns how many endpoints it sealed.
     */
    async sealStored(): Promise<number> {
      if (!sealer) throw new Error("sealStored needs an EndpointSealer");
      const rows = await queries.all();
      const unreadable = rows.flatMap((r) => {
        try {
          sealer.check(r.endpoint);
          return [];
        } catch {
          return [`${r.kind} "${r.name}"`];
        }
      });
      if (unreadable.length) {
        throw new Error(`the endpoint secrets of ${unreadable.slice(0, 5).join(", ")}${unreadable.length > 5 ? ` and ${unreadable.length - 5} more` : ""} ` +
          "do not open with this master key (DATA_DIR/master.key or SHIELD_MASTER_KEY): start with the key the catalog was sealed with, or re-key it with 'shield rekey'");
      }
      if (await h.stepDone(SEAL_STEP)) return 0;
      let sealed = 0;
      for (const r of rows) {
        const next = await sealer.seal(r.endpoint, r.plugin);
        if (next !== r.endpoint && (await queries.replace(r.kind, r.uuid, r.endpoint, next))) sealed++;
      }
      if (sealed) await h.scrub();
      await h.markStepDone(SEAL_STEP);
      return sealed;
    },
  };
  return queries;
}
