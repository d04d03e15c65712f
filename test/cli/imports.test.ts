// The CLI is a client of the /v1 API and nothing else: no module it reaches may be
// the catalog, the core's rules, the API's own code or anything of the daemon's.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
// views/format.ts: the words of a progress line, plain and import-free, shared with the web UI.
// src/edit-distance.ts: "did you mean", plain and import-free, shared with the timespec parser.
const ALLOWED = [/^src\/cli\//, /^src\/args\.ts$/, /^src\/version\.ts$/, /^src\/secret-names\.ts$/, /^src\/endpoint-fields\.ts$/, /^views\/format\.ts$/,
  /^src\/edit-distance\.ts$/];

/** Every module src/cli/index.ts reaches through relative imports (static and dynamic). */
function reachable(entry: string): Map<string, string> {
  const seen = new Map<string, string>(); // file → who imported it
  const queue = [entry];
  seen.set(entry, "(entry)");
  while (queue.length) {
    const file = queue.shift()!;
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|import\s*["']([^"']+)["']/g)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (!spec.startsWith(".")) continue;
      const target = resolve(dirname(file), spec);
      const path = existsSync(target) ? target : `${target}.ts`;
      if (!seen.has(path)) { seen.set(path, file); queue.push(path); }
    }
  }
  return seen;
}

test("src/cli reaches only src/cli and a few plain modules (args, version, secret names, endpoint fields, edit distance): never the catalog, core or API", () => {
  const files = reachable(resolve(ROOT, "src/cli/index.ts"));
  expect(files.size).toBeGreaterThan(10);
  const outside = [...files].map(([f, by]) => [relative(ROOT, f), relative(ROOT, by)]).filter(([f]) => !ALLOWED.some((re) => re.test(f!)));
  expect(outside).toEqual([]);
});

test("the check sees what it must catch", () => {
  // The daemon's entry reaches the catalog and the core: the walk follows imports.
  const daemon = [...reachable(resolve(ROOT, "src/daemon/index.ts")).keys()].map((f) => relative(ROOT, f));
  expect(daemon.some((f) => f.startsWith("src/catalog/"))).toBe(true);
  expect(daemon.some((f) => f.startsWith("src/core/"))).toBe(true);
});
