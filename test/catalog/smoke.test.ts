import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { dialects, freshCatalog } from "../helpers/catalog.ts";
import type { Catalog } from "../../src/catalog/index.ts";

for (const dialect of dialects) {
  describe(`catalog on ${dialect}`, () => {
    let catalog: Catalog;
    let cleanup: () => Promise<void>;
    beforeAll(async () => ({ catalog, cleanup } = await freshCatalog(dialect)));
    afterAll(() => cleanup());
    test("creates and lists a schedule", async () => {
      await catalog.schedules.create(crypto.randomUUID(), { name: "daily", summary: "", timespec: "daily at 4am" }, 1);
      expect((await catalog.schedules.list()).map((s) => s.name)).toEqual(["daily"]);
    });
  });
}
