// The fs store, run as `shield plugin fs ...` subprocesses against real directories.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import {
  chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");
const KEY = /^\d{4}\/\d{2}\/\d{2}\/[0-9a-f-]{36}$/;

interface Run { code: number; stdout: Buffer; stderr: string }

function env(extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) out[k] = v;
  return { ...out, ...extra };
}

function spawnFs(args: string[], endpoint: object, stdin: Uint8Array | "pipe" | "ignore" = "ignore", extraEnv: Record<string, string> = {}) {
  return Bun.spawn([process.execPath, MAIN, "plugin", "fs", ...args], {
    cwd: ROOT, env: env({ SHIELD_ENDPOINT: JSON.stringify(endpoint), ...extraEnv }), stdin, stdout: "pipe", stderr: "pipe",
  });
}

async function fs(args: string[], endpoint: object, stdin?: Uint8Array, extraEnv: Record<string, string> = {}): Promise<Run> {
  const proc = spawnFs(args, endpoint, stdin ?? "ignore", extraEnv);
  const [out, stderr, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout: Buffer.from(out), stderr };
}

/** Every regular file under dir, relative, skipping nothing. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((p) => statSync(join(dir, p)).isFile()).sort();
}

let base: string;
let ep: { base_dir: string };
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), "shield-fs-"));
  ep = { base_dir: base };
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe("fs validate and test", () => {
  test("an existing writable absolute directory is valid", async () => {
    const r = await fs(["validate"], ep);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toContain(`base_dir: ${base}`);
  });

  test("base_dir missing → 12; relative, absent, or a file → 13", async () => {
    expect((await fs(["validate"], {})).code).toBe(12);
    const rel = await fs(["validate"], { base_dir: "backups" });
    expect(rel.code).toBe(13);
    expect(rel.stderr.trim()).toBe(`fs: endpoint "base_dir" must be an absolute path, not "backups"`);
    const absent = await fs(["validate"], { base_dir: join(base, "nope") });
    expect(absent.code).toBe(13);
    expect(absent.stderr).toContain("does not exist");
    writeFileSync(join(base, "file"), "x");
    const file = await fs(["validate"], { base_dir: join(base, "file") });
    expect(file.code).toBe(13);
    expect(file.stderr).toContain("is not a directory");
  });

  test.skipIf(process.getuid?.() === 0)("an unwritable directory → 13 (not checkable as root)", async () => {
    chmodSync(base, 0o500);
    try {
      const r = await fs(["validate"], ep);
      expect(r.code).toBe(13);
      expect(r.stderr).toContain("not writable");
    } finally {
      chmodSync(base, 0o700);
    }
  });

  test("test writes, reads back and removes a probe", async () => {
    const r = await fs(["test"], ep);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toContain("ok:");
    expect(readdirSync(base)).toEqual([]);
  });
});

describe("fs confinement", () => {
  test("base_dir is stored as it is used: \"..\", NUL and any other spelling than the normal form are refused (13), naming the normal form", async () => {
    mkdirSync(join(base, "x"));
    const up = await fs(["validate"], { base_dir: `${base}/x/../x` });
    expect(up.code).toBe(13);
    expect(up.stderr.trim()).toBe(`fs: endpoint "base_dir" must not contain "..": write the directory it means, "${base}/x", if that is what you want`);
    for (const odd of [`${base}/x/`, `${base}//x`, `${base}/./x`]) {
      const r = await fs(["validate"], { base_dir: odd });
      expect(r.code).toBe(13);
      expect(r.stderr.trim()).toBe(`fs: endpoint "base_dir" must be written in normal form: "${base}/x", not "${odd}"`);
    }
    const nul = await fs(["validate"], { base_dir: `${base}/x\u0000/etc` });
    expect(nul.code).toBe(13);
    expect(nul.stderr).toContain("NUL");
    // Every action reads the endpoint the same way: nothing is stored under a ".." path.
    const stored = await fs(["store"], { base_dir: `${base}/x/..` }, Buffer.from("data"));
    expect(stored.code).toBe(13);
    expect(readdirSync(base)).toEqual(["x"]);
  });

  test("with SHIELD_ALLOW_PATH, base_dir must lie inside an allowed directory, symlinks followed", async () => {
    const allowed = join(base, "allowed");
    const other = join(base, "other");
    mkdirSync(join(allowed, "store"), { recursive: true });
    mkdirSync(other);
    symlinkSync(other, join(allowed, "escape"));
    const confined = { SHIELD_ALLOW_PATH: `/nonexistent:${allowed}` };
    expect((await fs(["validate"], { base_dir: join(allowed, "store") }, undefined, confined)).code).toBe(0);
    expect((await fs(["validate"], { base_dir: allowed }, undefined, confined)).code).toBe(0);
    const outside = await fs(["validate"], { base_dir: other }, undefined, confined);
    expect(outside.code).toBe(13);
    expect(outside.stderr.trim()).toBe(`fs: endpoint "base_dir" ${other} is outside the paths this Shield may use; allowed: /nonexistent, ${allowed}`);
    // A sibling whose name merely starts like the allowed one is outside too.
    mkdirSync(`${allowed}2`);
    expect((await fs(["validate"], { base_dir: `${allowed}2` }, undefined, confined)).code).toBe(13);
    const viaLink = await fs(["store"], { base_dir: join(allowed, "escape") }, Buffer.from("data"), confined);
    expect(viaLink.code).toBe(13);
    expect(viaLink.stderr).toContain(`(it leads to ${other})`);
    expect(readdirSync(other)).toEqual([]);
    // Unconfined, the same endpoint is fine: the refusal is the confinement's.
    expect((await fs(["validate"], { base_dir: other })).code).toBe(0);
  });
});

describe("fs store, retrieve, purge", () => {
  test("round trip of binary data: the key is opaque and generated, the blob complete", async () => {
    const data = randomBytes(5 << 20);
    const s = await fs(["store"], ep, data);
    expect(s.code).toBe(0);
    const out = JSON.parse(s.stdout.toString());
    expect(Object.keys(out).sort()).toEqual(["key", "size"]);
    expect(out.key).toMatch(KEY);
    expect(out.size).toBe(data.byteLength);
    const blob = join(base, out.key);
    expect(statSync(blob).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(base, ".incoming"))).toEqual([]);

    const r = await fs(["retrieve", "--key", out.key], ep);
    expect(r.code).toBe(0);
    expect(Buffer.compare(r.stdout, data)).toBe(0);

    const p = await fs(["purge", "-k", out.key], ep);
    expect(p.code).toBe(0);
    expect(existsSync(blob)).toBe(false);
  });

  test("an empty input is an empty blob", async () => {
    const s = await fs(["store"], ep, new Uint8Array(0));
    expect(s.code).toBe(0);
    const { key, size } = JSON.parse(s.stdout.toString());
    expect(size).toBe(0);
    const r = await fs(["retrieve", "-k", key], ep);
    expect(r.code).toBe(0);
    expect(r.stdout.byteLength).toBe(0);
  });

  test("concurrent stores get distinct keys", async () => {
    const runs = await Promise.all([1, 2, 3, 4].map((i) => fs(["store"], ep, Buffer.from(`blob ${i}`))));
    const keys = runs.map((r) => JSON.parse(r.stdout.toString()).key);
    expect(new Set(keys).size).toBe(4);
    for (const [i, key] of keys.entries()) expect(readFileSync(join(base, key), "utf8")).toBe(`blob ${i + 1}`);
  });

  test("retrieve of a well-formed key with no blob → 4; purge of it succeeds", async () => {
    const key = "2020/01/02/00000000-0000-4000-8000-000000000000";
    const r = await fs(["retrieve", "-k", key], ep);
    expect(r.code).toBe(4);
    expect(r.stderr.trim()).toBe(`fs: no blob under key ${key} in ${base}`);
    expect(r.stdout.byteLength).toBe(0);
    const p = await fs(["purge", "-k", key], ep);
    expect(p.code).toBe(0);
  });

  test("keys that could escape base_dir are refused (13) before any path is made of them", async () => {
    // A file right next to base_dir, and one inside it, that an escaping key would reach.
    const secret = join(base, "..", `secret-${Date.now()}`);
    writeFileSync(secret, "secret");
    mkdirSync(join(base, "2020/01/02"), { recursive: true });
    writeFileSync(join(base, "2020/01/02/notes"), "not a blob");
    const bad = [
      `../${secret.split("/").pop()}`,
      secret,
      "2020/01/02/../../../x",
      "2020/01/02/notes",
      "2020/01/02/00000000-0000-4000-8000-000000000000/..",
      "./2020/01/02/00000000-0000-4000-8000-000000000000",
      "2020/01/02/00000000-0000-4000-8000-000000000000\n",
      "2020/01/02/00000000-0000-4000-8000-00000000000G",
      ".incoming/x.partial",
      "-rf",
    ];
    for (const key of bad) {
      for (const action of ["retrieve", "purge"]) {
        const r = await fs([action, `--key=${key}`], ep);
        expect({ key, action, code: r.code }).toEqual({ key, action, code: 13 });
        expect(r.stdout.byteLength).toBe(0);
        expect(r.stderr).toContain("is not a key of the fs store");
      }
    }
    expect(readFileSync(secret, "utf8")).toBe("secret");
    rmSync(secret);
    expect(readFileSync(join(base, "2020/01/02/notes"), "utf8")).toBe("not a blob");
  });

  test("a store stopped by SIGTERM leaves no blob and no partial file", async () => {
    const proc = spawnFs(["store"], ep, "pipe");
    const sink = proc.stdin as import("bun").FileSink;
    sink.write(randomBytes(1 << 20));
    await sink.flush();
    // Wait until the partial file exists: the store is under way.
    for (let i = 0; i < 200 && !(existsSync(join(base, ".incoming")) && readdirSync(join(base, ".incoming")).length); i++) await Bun.sleep(10);
    expect(readdirSync(join(base, ".incoming"))).toHaveLength(1);
    proc.kill("SIGTERM");
    const code = await proc.exited;
    expect(code).not.toBe(0);
    expect(await new Response(proc.stdout).text()).toBe("");
    expect(tree(base)).toEqual([]);
  });

  test("a store killed outright (SIGKILL) leaves an orphan aside, never a blob under a key; a later store sweeps old orphans", async () => {
    const proc = spawnFs(["store"], ep, "pipe");
    const sink = proc.stdin as import("bun").FileSink;
    sink.write(randomBytes(1 << 20));
    await sink.flush();
    for (let i = 0; i < 200 && !(existsSync(join(base, ".incoming")) && readdirSync(join(base, ".incoming")).length); i++) await Bun.sleep(10);
    proc.kill("SIGKILL");
    await proc.exited;
    const files = tree(base);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^\.incoming\/[0-9a-f-]{36}\.partial$/);
    // A day later, the next store removes it.
    const old = new Date(Date.now() - 25 * 3600 * 1000);
    utimesSync(join(base, files[0]!), old, old);
    const s = await fs(["store"], ep, Buffer.from("next"));
    expect(s.code).toBe(0);
    expect(tree(base)).toEqual([JSON.parse(s.stdout.toString()).key]);
  });

  test("a store killed outright under a partial id (SHIELD_PARTIAL_ID): purge --key partial:ID removes what it left, and is idempotent", async () => {
    const id = crypto.randomUUID();
    const proc = Bun.spawn([process.execPath, MAIN, "plugin", "fs", "store"], {
      cwd: ROOT, env: env({ SHIELD_ENDPOINT: JSON.stringify(ep), SHIELD_PARTIAL_ID: id }), stdin: "pipe", stdout: "pipe", stderr: "pipe",
    });
    const sink = proc.stdin as import("bun").FileSink;
    sink.write(randomBytes(1 << 20));
    await sink.flush();
    const partial = join(base, ".incoming", `${id}.partial`);
    for (let i = 0; i < 200 && !existsSync(partial); i++) await Bun.sleep(10);
    proc.kill("SIGKILL");
    await proc.exited;
    expect(tree(base)).toEqual([`.incoming/${id}.partial`]);
    // Another blob's partial (another run, still going) is not touched.
    writeFileSync(join(base, ".incoming", "other.partial"), "x");
    for (let i = 0; i < 2; i++) {
      const r = await fs(["purge", "--key", `partial:${id}`], ep);
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(tree(base)).toEqual([".incoming/other.partial"]);
    }
  });

  test("a partial id names the store's temporary file; a leftover of the same id is replaced; the blob is complete", async () => {
    const id = crypto.randomUUID();
    mkdirSync(join(base, ".incoming"));
    writeFileSync(join(base, ".incoming", `${id}.partial`), "left by a run of this id that died");
    const data = randomBytes(300_000);
    const proc = Bun.spawn([process.execPath, MAIN, "plugin", "fs", "store"], {
      cwd: ROOT, env: env({ SHIELD_ENDPOINT: JSON.stringify(ep), SHIELD_PARTIAL_ID: id }), stdin: data, stdout: "pipe", stderr: "pipe",
    });
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    const key = JSON.parse(out).key;
    expect(tree(base)).toEqual([key]);
    expect(readFileSync(join(base, key)).equals(data)).toBe(true);
  });

  test("partial keys that could name anything else are refused (13)", async () => {
    for (const key of ["partial:", "partial:../../etc/passwd", "partial:a/b", "partial:.x", `partial:${"a".repeat(101)}`]) {
      const r = await fs(["purge", "--key", key], ep);
      expect({ key, code: r.code }).toEqual({ key, code: 13 });
    }
  });

  test("a store into a base_dir that is gone fails (13) with one clear line", async () => {
    const gone = join(base, "gone");
    const r = await fs(["store"], { base_dir: gone }, Buffer.from("x"));
    expect(r.code).toBe(13);
    expect(r.stdout.byteLength).toBe(0);
    expect(r.stderr.trim()).toBe(`fs: endpoint "base_dir" ${gone} does not exist`);
  });

  test("retrieve to a reader that goes away fails (non-zero), it does not hang", async () => {
    const s = await fs(["store"], ep, randomBytes(8 << 20));
    const { key } = JSON.parse(s.stdout.toString());
    const sh = Bun.spawn(["bash", "-c", `"${process.execPath}" "${MAIN}" plugin fs retrieve -k ${key} | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`], {
      cwd: ROOT, env: env({ SHIELD_ENDPOINT: JSON.stringify(ep) }), stdout: "pipe", stderr: "pipe",
    });
    const [out, err] = await Promise.all([new Response(sh.stdout).text(), new Response(sh.stderr).text(), sh.exited]);
    expect(Number(out.trim())).not.toBe(0);
    expect(err).toContain("fs:");
  });
});
