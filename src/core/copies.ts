// A job's copies (extra stores its archives are copied to, each with its own
// retention policy) and its run window: the rules for what a request may say.
import type { Catalog } from "../catalog/index.ts";
import { InvalidInput } from "./errors.ts";

export interface CopySpec {
  /** The destination store's uuid. */
  store: string;
  /** The retention policy the copy expires by. */
  retention: string;
}

/** The job column (JSON) as specs; a damaged value reads as none rather than failing every backup. */
export function parseCopies(column: string): CopySpec[] {
  try {
    const v = JSON.parse(column);
    return Array.isArray(v) ? v.filter((c) => typeof c?.store === "string" && typeof c?.retention === "string") : [];
  } catch {
    return [];
  }
}

/** Checks a job's copies against the catalog; the column value. */
export async function resolveCopies(catalog: Catalog, copies: CopySpec[], primaryStore: string): Promise<string> {
  const seen = new Set<string>();
  for (const [i, c] of copies.entries()) {
    if (c.store === primaryStore) throw new InvalidInput(`copies[${i}].store: the job's own store; a copy must go to another store`, { copies: "the job's own store" });
    if (seen.has(c.store)) throw new InvalidInput(`copies[${i}].store: named twice; one copy per store`, { copies: "a store named twice" });
    seen.add(c.store);
    const [store, policy] = await Promise.all([catalog.stores.get(c.store), catalog.retention.get(c.retention)]);
    if (!store) throw new InvalidInput(`copies[${i}].store: no store with uuid ${c.store}`, { copies: `no store with uuid ${c.store}` });
    if (!policy) throw new InvalidInput(`copies[${i}].retention: no retention policy with uuid ${c.retention}`, { copies: `no retention policy with uuid ${c.retention}` });
  }
  return JSON.stringify(copies.map((c) => ({ store: c.store, retention: c.retention })));
}
