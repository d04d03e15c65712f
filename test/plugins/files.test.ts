// The files target, run as `shield plugin files ...` subprocesses on real trees
// with the system's tar; hostile archives are built byte by byte here.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import {
  chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");

interface Run { code: number; stdout: Buffer; stderr: string }

function env(extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) out[k] = v;
  return { ...out, ...extra };
}

async function files(action: string, endpoint: object, stdin?: Uint8Array, extraEnv: Record<string, string> = {}): Promise<Run> {
  const proc = Bun.spawn([process.execPath, MAIN, "plugin", "files", action], {
    cwd: ROOT, env: env({ SHIELD_ENDPOINT: JSON.stringify(endpoint), ...extraEnv }), stdin: stdin ?? "ignore", stdout: "pipe", stderr: "pipe",
  });
  const [out, stderr, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout: Buffer.from(out), stderr };
}

/** Relative path → "file:<sha-ish>", "dir", or "link:<target>", for every entry under dir. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of (readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const full = join(dir, p);
    const st = lstatSync(full);
    if (st.isSymbolicLink()) out[p] = `link:${readlinkSync(full)}`;
    else if (st.isDirectory()) out[p] = "dir";
    else out[p] = `file:${(st.mode & 0o777).toString(8)}:${new Bun.CryptoHasher("sha256").update(readFileSync(full)).digest("hex")}`;
  }
  return out;
}

// ---- a tiny tar writer, for archives GNU tar would never make ----

function header(name: string, opts: { type?: string; size?: number; link?: string } = {}): Buffer {
  const b = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => b.write(s, off, len, "utf8");
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, "0") + "\0";
  put(name, 0, 100);
  put(oct(0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(opts.size ?? 0, 12), 124, 12);
  put(oct(Math.floor(Date.now() / 1000), 12), 136, 12);
  put("        ", 148, 8);
  put(opts.type ?? "0", 156, 1);
  put(opts.link ?? "", 157, 100);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (const v of b) sum += v;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return b;
}
const pad = (data: Buffer) => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
const file = (name: string, content = "data\n") => Buffer.concat([header(name, { size: Buffer.byteLength(content) }), pad(Buffer.from(content))]);
const dirEntry = (name: string) => header(name.endsWith("/") ? name : name + "/", { type: "5" });
const symlink = (name: string, target: string) => header(name, { type: "2", link: target });
const hardlink = (name: string, target: string) => header(name, { type: "1", link: target });
const paxPath = (path: string) => {
  const rec = (k: string, v: string) => {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    return `${len}${body}`;
  };
  const data = Buffer.from(rec("path", path));
  return Buffer.concat([header("PaxHeaders/x", { type: "x", size: data.length }), pad(data)]);
};
const gnuLong = (name: string) => {
  const data = Buffer.from(name + "\0");
  return Buffer.concat([header("././@LongLink", { type: "L", size: data.length }), pad(data)]);
};
const tar = (...parts: Buffer[]) => Buffer.concat([...parts, Buffer.alloc(1024)]);

let work: string;
let src: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "shield-files-"));
  src = join(work, "src");
  mkdirSync(join(src, "app/config"), { recursive: true });
  mkdirSync(join(src, "app/cache/deep"), { recursive: true });
  mkdirSync(join(src, "empty"));
  writeFileSync(join(src, "app/config/app.yml"), "name: app\n");
  writeFileSync(join(src, "app/config/secret.key"), randomBytes(64));
  chmodSync(join(src, "app/config/secret.key"), 0o600);
  writeFileSync(join(src, "app/data.bin"), randomBytes(3 << 20));
  writeFileSync(join(src, "app/run.log"), "log line\n");
  writeFileSync(join(src, "app/cache/deep/blob"), "cached");
  writeFileSync(join(src, ".hidden"), "dot file");
  writeFileSync(join(src, "name with spaces & 'quotes'"), "odd name");
  writeFileSync(join(src, "-looks-like-an-option"), "dash");
  symlinkSync("config/app.yml", join(src, "app/link.yml"));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe("files validate", () => {
  test("base_dir is required and absolute; include patterns stay inside it", async () => {
    expect((await files("validate", { base_dir: src })).code).toBe(0);
    expect((await files("validate", {})).code).toBe(12);
    expect((await files("validate", { base_dir: "relative/dir" })).code).toBe(13);
    const up = await files("validate", { base_dir: src, include: ["../etc/*"] });
    expect(up.code).toBe(13);
    expect(up.stderr).toContain(`"../etc/*"`);
    expect((await files("validate", { base_dir: src, include: ["/etc/passwd"] })).code).toBe(13);
    expect((await files("validate", { base_dir: src, exclude: [1] })).code).toBe(13);
    // validate does not touch the system: a directory that does not exist yet is fine.
    const later = await files("validate", { base_dir: join(work, "not-yet"), include: "a\nb", exclude: ["*.log"] });
    expect(later.code).toBe(0);
    expect(later.stdout.toString()).toContain("include: a, b");
  });
});

describe("files confinement", () => {
  test("base_dir in anything but its normal form is refused (13) by every action, naming the form to write", async () => {
    const up = await files("validate", { base_dir: `${src}/app/../../src` });
    expect(up.code).toBe(13);
    expect(up.stderr.trim()).toBe(`files: endpoint "base_dir" must not contain "..": write the directory it means, "${src}", if that is what you want`);
    const slash = await files("validate", { base_dir: `${src}/` });
    expect(slash.code).toBe(13);
    expect(slash.stderr.trim()).toBe(`files: endpoint "base_dir" must be written in normal form: "${src}", not "${src}/"`);
    expect((await files("validate", { base_dir: `${src}\u0000` })).stderr).toContain("NUL");
    const backup = await files("backup", { base_dir: `${src}/app/..` });
    expect(backup.code).toBe(13);
    expect(backup.stdout.byteLength).toBe(0);
  });

  test("with SHIELD_ALLOW_PATH, backup and restore stay inside the allowed directories, symlinks followed", async () => {
    const allowed = join(work, "allowed");
    mkdirSync(allowed);
    const confined = { SHIELD_ALLOW_PATH: allowed };
    const b = await files("backup", { base_dir: src });
    expect(b.code).toBe(0);
    // Outside: refused before tar runs, for backup and restore alike.
    const read = await files("backup", { base_dir: src }, undefined, confined);
    expect(read.code).toBe(13);
    expect(read.stdout.byteLength).toBe(0);
    expect(read.stderr.trim()).toBe(`files: endpoint "base_dir" ${src} is outside the paths this Shield may use; allowed: ${allowed}`);
    const outside = join(work, "elsewhere");
    const write = await files("restore", { base_dir: outside }, b.stdout, confined);
    expect(write.code).toBe(13);
    expect(existsSync(outside)).toBe(false);
    // Through a symlink inside the allowed directory: where it leads is what counts.
    symlinkSync(work, join(allowed, "up"));
    const escaped = await files("restore", { base_dir: join(allowed, "up/new") }, b.stdout, confined);
    expect(escaped.code).toBe(13);
    expect(escaped.stderr).toContain(`(it leads to ${join(work, "new")})`);
    expect(existsSync(join(work, "new"))).toBe(false);
    // Inside (a directory a restore creates): as unconfined.
    const dst = join(allowed, "restored/here");
    expect((await files("restore", { base_dir: dst }, b.stdout, confined)).code).toBe(0);
    expect(snapshot(dst)).toEqual(snapshot(src));
    expect((await files("backup", { base_dir: dst }, undefined, confined)).code).toBe(0);
  });

  test("confined, a restore leaves no symlink leading out of base_dir, for tar would follow it in a later restore", async () => {
    const allowed = join(work, "allowed");
    const outside = join(work, "outside");
    mkdirSync(allowed);
    mkdirSync(outside);
    const confined = { SHIELD_ALLOW_PATH: allowed };
    const dst = join(allowed, "dst");
    // Both halves of the attack: a link out, then a member beneath it with no directory member of its own.
    const escaping: [Buffer, string][] = [
      [tar(symlink("link", outside)), `symlink "link" leads out of the directory restored into (to "${outside}")`],
      [tar(dirEntry("a"), symlink("a/up", "../../outside")), `symlink "a/up" leads out`],
      [tar(symlink("deep/er/up", "../../..")), `symlink "deep/er/up" leads out`],
    ];
    for (const [archive, why] of escaping) {
      const r = await files("restore", { base_dir: dst }, archive, confined);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(why);
      expect(existsSync(join(dst, "link"))).toBe(false);
    }
    // Links that stay inside are restored as ever; unconfined, links may lead anywhere (the old behaviour).
    expect((await files("restore", { base_dir: dst }, tar(dirEntry("a"), file("a/one"), symlink("a/l", "one"), symlink("b", "a/../a/one")), confined)).code).toBe(0);
    expect(readlinkSync(join(dst, "a/l"))).toBe("one");
    const free = join(work, "free");
    expect((await files("restore", { base_dir: free }, tar(symlink("link", outside)))).code).toBe(0);
    expect(readlinkSync(join(free, "link"))).toBe(outside);
  });
});

describe("files backup and restore", () => {
  test("round trip of a tree to another directory: contents, modes, symlinks, odd names, empty dirs", async () => {
    const b = await files("backup", { base_dir: src });
    expect(b.code).toBe(0);
    expect(b.stdout.byteLength).toBeGreaterThan(3 << 20);
    const dst = join(work, "restored/into/new");
    const r = await files("restore", { base_dir: dst }, b.stdout);
    expect(r.code).toBe(0);
    expect(snapshot(dst)).toEqual(snapshot(src));
  });

  test("restore in place: changed files come back, files the archive lacks are left alone", async () => {
    const b = await files("backup", { base_dir: src });
    writeFileSync(join(src, "app/config/app.yml"), "changed\n");
    rmSync(join(src, "app/data.bin"));
    writeFileSync(join(src, "new-file"), "new");
    const before = readFileSync(join(src, ".hidden"));
    const r = await files("restore", { base_dir: src }, b.stdout);
    expect(r.code).toBe(0);
    expect(readFileSync(join(src, "app/config/app.yml"), "utf8")).toBe("name: app\n");
    expect(statSync(join(src, "app/data.bin")).size).toBe(3 << 20);
    expect(readFileSync(join(src, "new-file"), "utf8")).toBe("new");
    expect(readFileSync(join(src, ".hidden"))).toEqual(before);
  });

  test("exclude: tar patterns, anywhere in the tree", async () => {
    const b = await files("backup", { base_dir: src, exclude: ["*.log", "cache"] });
    expect(b.code).toBe(0);
    const dst = join(work, "dst");
    expect((await files("restore", { base_dir: dst }, b.stdout)).code).toBe(0);
    const got = Object.keys(snapshot(dst));
    expect(got).toContain("app/config/app.yml");
    expect(got).not.toContain("app/run.log");
    expect(got.some((p) => p.includes("cache"))).toBe(false);
  });

  test("include: globs relative to base_dir; a matching directory brings its contents", async () => {
    const b = await files("backup", { base_dir: src, include: ["app/config", "**/*.log", ".hidden"], exclude: ["*.key"] });
    expect(b.code).toBe(0);
    const dst = join(work, "dst");
    expect((await files("restore", { base_dir: dst }, b.stdout)).code).toBe(0);
    expect(Object.keys(snapshot(dst)).filter((p) => !statSync(join(dst, p)).isDirectory())).toEqual(
      [".hidden", "app/config/app.yml", "app/run.log"],
    );
  });

  test("include matching nothing: an empty archive and a warning", async () => {
    const b = await files("backup", { base_dir: src, include: ["nothing-*"] });
    expect(b.code).toBe(0);
    expect(b.stderr).toContain("no path");
    const dst = join(work, "dst");
    expect((await files("restore", { base_dir: dst }, b.stdout)).code).toBe(0);
    expect(readdirSync(dst)).toEqual([]);
  });

  test("backup of a missing directory fails (4) with one clear line, and no data", async () => {
    const r = await files("backup", { base_dir: join(work, "missing") });
    expect(r.code).toBe(4);
    expect(r.stdout.byteLength).toBe(0);
    expect(r.stderr.trim()).toBe(`files: base_dir ${join(work, "missing")} is not an existing directory`);
  });

  test("tar failing mid-stream makes the backup fail (3), whatever it already wrote", async () => {
    const fake = join(work, "bin");
    mkdirSync(fake);
    writeFileSync(join(fake, "tar"), "#!/bin/sh\nhead -c 4096 /dev/zero\necho 'tar: disk on fire' >&2\nexit 2\n", { mode: 0o755 });
    const r = await files("backup", { base_dir: src }, undefined, { PATH: `${fake}:${process.env.PATH}` });
    expect(r.code).toBe(3);
    expect(r.stdout.byteLength).toBe(4096);
    expect(r.stderr).toContain("tar: disk on fire");
    expect(r.stderr.trim().split("\n").pop()).toBe("files: tar failed (exit 2)");
  });
});

describe("files restore refuses archives that reach outside base_dir", () => {
  const outside = () => join(work, "outside");
  const cases: [string, () => Buffer, string][] = [
    ["an absolute member", () => tar(file("ok.txt"), file(`${outside()}/pwned`)), "is absolute"],
    ["a .. member", () => tar(file("ok.txt"), file("a/../../outside/pwned")), `contains ".."`],
    ["a plain .. member", () => tar(file("../pwned")), `contains ".."`],
    ["a path through a symlink of the same archive", () => tar(symlink("s", outside()), file("s/pwned")), "lies beyond the symlink"],
    ["a path through a relative symlink", () => tar(dirEntry("d"), symlink("d/up", "../.."), file("d/up/outside/pwned")), "lies beyond the symlink"],
    ["a hard link to a .. path", () => tar(hardlink("h", "../outside/target")), "hard link target"],
    ["a hard link through a symlink", () => tar(symlink("s", outside()), hardlink("h", "s/target")), "lies beyond the symlink"],
    ["a pax path with ..", () => tar(paxPath("deep/../../outside/pwned"), file("innocent")), `contains ".."`],
    ["a GNU long name with ..", () => tar(gnuLong(`${"x".repeat(150)}/../../../outside/pwned`), file("././@LongLink")), `contains ".."`],
    ["an absolute pax path", () => tar(paxPath(`${outside()}/pwned`), file("innocent")), "is absolute"],
  ];

  test.each(cases)("%s", async (_, build, why) => {
    mkdirSync(outside(), { recursive: true });
    writeFileSync(join(outside(), "target"), "must stay");
    const dst = join(work, "dst");
    const r = await files("restore", { base_dir: dst }, build());
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("files: refusing the archive:");
    expect(r.stderr).toContain(why);
    expect(readdirSync(outside())).toEqual(["target"]);
    expect(readFileSync(join(outside(), "target"), "utf8")).toBe("must stay");
    expect(existsSync(join(work, "pwned"))).toBe(false);
  });

  test("a hand-made archive with safe names goes through (the guard reads pax and GNU names right)", async () => {
    const long = `${"d".repeat(120)}/${"f".repeat(120)}`;
    const dst = join(work, "dst");
    const r = await files("restore", { base_dir: dst }, tar(dirEntry("a"), file("a/one", "1"), paxPath(long), file("x", "pax named"), gnuLong(`g/${"y".repeat(130)}`), file("././@LongLink", "gnu named"), symlink("a/l", "one")));
    expect(r.stderr).not.toContain("refusing");
    expect(r.code).toBe(0);
    expect(readFileSync(join(dst, "a/one"), "utf8")).toBe("1");
    expect(readFileSync(join(dst, long), "utf8")).toBe("pax named");
    expect(readFileSync(join(dst, `g/${"y".repeat(130)}`), "utf8")).toBe("gnu named");
    expect(readlinkSync(join(dst, "a/l"))).toBe("one");
  });

  test("garbage, an empty input and a truncated archive fail", async () => {
    const dst = join(work, "dst");
    const garbage = await files("restore", { base_dir: dst }, randomBytes(4096));
    expect(garbage.code).toBe(4);
    expect(garbage.stderr).toContain("non-tar header at byte 0");
    const empty = await files("restore", { base_dir: dst }, new Uint8Array(0));
    expect(empty.code).toBe(4);
    expect(empty.stderr).toContain("the input is empty");
    const b = await files("backup", { base_dir: src });
    const cut = await files("restore", { base_dir: dst }, b.stdout.subarray(0, b.stdout.byteLength >> 1));
    expect(cut.code).not.toBe(0);
    expect(cut.stderr).toContain("truncated");
  });
});
