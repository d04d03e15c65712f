// The SQLite catalog keeps each compiled statement for reuse (catalog/open.ts,
// reusingStatements): the same query run again sees the rows as they are now, and
// close() really closes (a statement left unfinalized would keep the file and its WAL).
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectCatalog } from "../../src/catalog/index.ts";
import { makeTarget } from "./fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "shield-statements-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a query run again on its kept statement sees the rows written since", async () => {
  const catalog = await connectCatalog(join(dir, "again.db"));
  try {
    expect(await catalog.targets.list()).toHaveLength(0);
    const a = await makeTarget(catalog, { name: "a" });
    expect((await catalog.targets.list()).map((t) => t.uuid)).toEqual([a]);
    const b = await makeTarget(catalog, { name: "b" });
    expect((await catalog.targets.list()).map((t) => t.uuid).sort()).toEqual([a, b].sort());
    expect((await catalog.targets.get(b))?.name).toBe("b");
    expect((await catalog.targets.get(a))?.name).toBe("a");
  } finally {
    await catalog.close();
  }
});

test("close() closes: the WAL is folded back and removed, and a query after it fails", async () => {
  const path = join(dir, "closed.db");
  const catalog = await connectCatalog(path);
  await makeTarget(catalog, { name: "t" });
  expect(await catalog.targets.list()).toHaveLength(1);
  expect(existsSync(`${path}-wal`)).toBe(true);
  await catalog.close();
  expect(existsSync(`${path}-wal`)).toBe(false);
  await expect(catalog.targets.list()).rejects.toThrow();
});
