// gpbackup's published plugin test bench (plugins/plugin_test.sh), step by step,
// run against a plugin executable and its config: what gpbackup itself checks
// before it trusts a plugin. Shared by the S3-mode and Shield-mode tests.
import { expect } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Run { code: number; stdout: string; stderr: string }

export async function run(plugin: string, args: string[], stdin?: Uint8Array | string): Promise<Run> {
  const proc = Bun.spawn([plugin, ...args], { stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

export async function ok(plugin: string, args: string[], stdin?: Uint8Array | string): Promise<string> {
  const r = await run(plugin, args, stdin);
  if (r.code !== 0) throw new Error(`${args[0]} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A gpbackup timestamp `offset` seconds from now, and its date. */
export function timestamp(offsetS = 0): { ts: string; date: string } {
  const d = new Date(Date.now() + offsetS * 1000);
  const ts = d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return { ts, date: ts.slice(0, 8) };
}

function randomText(n: number): string {
  const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => abc[b % abc.length]).join("");
}

/** Every check of plugin_test.sh, in its order. `root` is a scratch directory standing for the segments' data dirs. */
export async function pluginTestBench(plugin: string, config: string, root: string): Promise<void> {
  // plugin_api_version: X.Y.Z, at least 0.3.0 (gpbackup refuses older plugins).
  const api = (await ok(plugin, ["plugin_api_version"])).trim();
  expect(api).toMatch(/^\d+\.\d+\.\d+$/);
  const [maj, min] = api.split(".").map(Number);
  expect(maj! > 0 || min! >= 3).toBe(true);

  // --version: "<plugin name> version <version>".
  expect((await ok(plugin, ["--version"])).trim()).toMatch(/^\S+ version \S+$/);

  const { ts, date } = timestamp();
  const dir = join(root, "backups", date, ts);
  const segDir = join(root.replace(/\/?$/, "0"), "backups", date, ts);
  mkdirSync(dir, { recursive: true });
  mkdirSync(segDir, { recursive: true });

  // setup and cleanup at every scope; none of them prints anything.
  for (const cmd of ["setup_plugin_for_backup", "setup_plugin_for_restore", "cleanup_plugin_for_backup", "cleanup_plugin_for_restore"]) {
    for (const [d, scope] of [[dir, ["coordinator", "-1"]], [dir, ["master", "-1"]], [segDir, ["segment_host"]], [segDir, ["segment", "0"]]] as const) {
      expect(await ok(plugin, [cmd, config, d, ...scope])).toBe("");
    }
  }

  // backup_file, remove the file, restore_file: the same bytes back.
  const file = join(dir, `testfile_${ts}.txt`);
  const text = `this is a test file ${randomText(100)}\n`;
  writeFileSync(file, text);
  expect(await ok(plugin, ["backup_file", config, file])).toBe("");
  rmSync(file);
  expect(await ok(plugin, ["restore_file", config, file])).toBe("");
  expect(readFileSync(file, "utf8")).toBe(text);

  // backup_data / restore_data of 1000 random characters, then of nothing.
  const data = randomText(1000);
  const dataKey = join(dir, `test_data_${ts}`);
  expect(await ok(plugin, ["backup_data", config, dataKey], data)).toBe("");
  expect(await ok(plugin, ["restore_data", config, dataKey])).toBe(data);
  const emptyKey = join(dir, `test_empty_data_${ts}`);
  expect(await ok(plugin, ["backup_data", config, emptyKey], "")).toBe("");
  expect(await ok(plugin, ["restore_data", config, emptyKey])).toBe("");

  // delete_backup of one backup; a sibling backup of the next second stays restorable.
  const del = timestamp(1);
  const keep = timestamp(2);
  const delDir = join(root, "backups", del.date, del.ts);
  const keepDir = join(root, "backups", keep.date, keep.ts);
  mkdirSync(delDir, { recursive: true });
  mkdirSync(keepDir, { recursive: true });
  const delFile = join(delDir, `testfile_${del.ts}.txt`);
  const keepFile = join(keepDir, `testfile_${keep.ts}.txt`);
  writeFileSync(delFile, "to be deleted\n");
  writeFileSync(keepFile, "to be kept\n");
  await ok(plugin, ["backup_file", config, delFile]);
  await ok(plugin, ["backup_file", config, keepFile]);
  expect(await ok(plugin, ["delete_backup", config, del.ts])).toBe("");
  rmSync(delFile);
  rmSync(keepFile);
  const gone = await run(plugin, ["restore_file", config, delFile]);
  expect(gone.code).not.toBe(0);
  expect(existsSync(delFile)).toBe(false);
  await ok(plugin, ["restore_file", config, keepFile]);
  expect(readFileSync(keepFile, "utf8")).toBe("to be kept\n");

  // An unknown command fails.
  const unknown = await run(plugin, ["unknown_command", config]);
  expect(unknown.code).not.toBe(0);
  expect(unknown.stdout).toBe("");
}
