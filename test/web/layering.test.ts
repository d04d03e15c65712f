// The web UI reaches the core only through /v1: nothing under src/web or views/
// may import the catalog, directly or through another module it imports.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const CATALOG = join(ROOT, "src/catalog");

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).filter((f) => /\.(ts|tsx)$/.test(f)).map((f) => join(dir, f));
}

/** Value imports (and re-exports) of a module; `import type` is erased and loads nothing. */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s+["']([^"']+)["']/gms)) if (!m[2]) found.push(m[3]!);
  for (const m of text.matchAll(/^\s*import\s+["']([^"']+)["']/gm)) found.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) found.push(m[1]!);
  return found;
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, "index.ts")]) {
    if (existsSync(candidate) && /\.(ts|tsx)$/.test(candidate)) return candidate;
  }
  return undefined;
}

describe("layering of the web UI", () => {
  const roots = [...sources(join(ROOT, "src/web")), ...sources(join(ROOT, "views"))];

  test("no file of src/web or views/ names the catalog in any import, not even for types", () => {
    const offenders = roots.filter((f) => /from\s+["'][^"']*catalog[^"']*["']/.test(readFileSync(f, "utf8")));
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });

  test("nothing they load reaches src/catalog through other modules either", () => {
    const { reached, seen } = walk(roots);
    expect(reached).toEqual([]);
    // The walk did look at something: the web's own modules and what they import.
    expect(seen).toBeGreaterThan(roots.length);
  });

  test("the walk finds the catalog where it is imported (so a pass means something)", () => {
    expect(walk([join(ROOT, "src/api/index.ts")]).reached.length).toBeGreaterThan(0);
  });
});

/** Follows value imports from the roots; returns the import chains that end in src/catalog. */
function walk(roots: string[]): { reached: string[]; seen: number } {
  const seen = new Map<string, string | undefined>();
  const queue = roots.map((f) => [f, undefined] as [string, string | undefined]);
  const reached: string[] = [];
  while (queue.length) {
    const [file, via] = queue.shift()!;
    if (seen.has(file)) continue;
    seen.set(file, via);
    if (file.startsWith(CATALOG)) {
      const chain = [relative(ROOT, file)];
      for (let v = via; v; v = seen.get(v)) chain.unshift(relative(ROOT, v));
      reached.push(chain.join(" → "));
      continue;
    }
    for (const spec of imports(file)) {
      const next = resolveLocal(file, spec);
      if (next) queue.push([next, file]);
    }
  }
  return { reached, seen: seen.size };
}
