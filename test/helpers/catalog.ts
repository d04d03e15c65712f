// Opens a fresh catalog of either dialect for a test: a SQLite file in a temp dir,
// or a new database on the private PostgreSQL.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectCatalog, type Catalog } from "../../src/catalog/index.ts";
import { freshDatabase, pgAvailable } from "./postgres.ts";

export type Dialect = "sqlite" | "pg";

/** The dialects to run a suite against: both, unless PostgreSQL is missing (and not in CI). */
export const dialects: Dialect[] = pgAvailable ? ["sqlite", "pg"] : ["sqlite"];

export async function freshCatalog(dialect: Dialect): Promise<{ catalog: Catalog; cleanup: () => Promise<void> }> {
  if (dialect === "pg") {
    const catalog = await connectCatalog(await freshDatabase());
    return { catalog, cleanup: () => catalog.close() };
  }
  const dir = mkdtempSync(join(tmpdir(), "shield-test-sqlite-"));
  const catalog = await connectCatalog(join(dir, "shield.db"));
  return {
    catalog,
    cleanup: async () => {
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
