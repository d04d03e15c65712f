// The gpbackup plugin in S3 mode: the published test bench against a private
// moto_server, through a symlink named gpbackup_shield_plugin to dist/shield;
// interchange with gpbackup_s3_plugin's layout (objects placed by the AWS SDK at
// its keys are restored, ours are found there); the directory commands; bad
// configs; and 8 segments streaming at once with bounded memory.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { motoAvailable, startMoto, type Moto } from "../helpers/s3.ts";
import { startFaultProxy } from "../helpers/fault-proxy.ts";
import { freePort } from "../helpers/services.ts";
import { ok, pluginTestBench, run, timestamp } from "./bench.ts";

const SHIELD = resolve(import.meta.dir, "../../dist/shield");

describe.skipIf(!motoAvailable)("gpbackup plugin, S3 mode", () => {
  let moto: Moto;
  let dir: string;
  let plugin: string;
  let s3: S3Client;
  const bucket = "gpbackup-bench";

  function config(extra: Record<string, string> = {}, name = "s3.yaml"): string {
    const path = join(dir, name);
    const options = { endpoint: `127.0.0.1:${moto.port}`, encryption: "off", aws_access_key_id: "test", aws_secret_access_key: "test",
      bucket, folder: "test/backup3", region: "us-east-1", ...extra };
    writeFileSync(path, `executablepath: ${plugin}\noptions:\n${Object.entries(options).map(([k, v]) => `  ${k}: ${v}`).join("\n")}\n`);
    return path;
  }

  beforeAll(async () => {
    moto = await startMoto();
    dir = mkdtempSync(join(tmpdir(), "shield-gpbackup-s3-"));
    plugin = join(dir, "gpbackup_shield_plugin");
    symlinkSync(SHIELD, plugin);
    s3 = new S3Client({ endpoint: moto.url, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  test("plugin_test.sh's bench passes through a symlink named gpbackup_shield_plugin", async () => {
    await pluginTestBench(plugin, config(), join(dir, "seg-1"));
  }, 120_000);

  test("a copy named gpbackup_shield_plugin, and a link found on PATH, are the plugin too", async () => {
    const copyDir = join(dir, "copy");
    mkdirSync(copyDir);
    copyFileSync(SHIELD, join(copyDir, "gpbackup_shield_plugin"));
    chmodSync(join(copyDir, "gpbackup_shield_plugin"), 0o755);
    expect((await ok(join(copyDir, "gpbackup_shield_plugin"), ["plugin_api_version"])).trim()).toBe("0.5.0");
    // By bare name through PATH, as `bash -c` finds it: argv[0] has no directory at all.
    const proc = Bun.spawn(["bash", "-c", "gpbackup_shield_plugin --version"], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, stdout: "pipe" });
    expect(await new Response(proc.stdout).text()).toMatch(/^gpbackup_shield_plugin version /);
    expect(await proc.exited).toBe(0);
  });

  test("`shield gpbackup-plugin` is the same plugin", async () => {
    expect((await ok(SHIELD, ["gpbackup-plugin", "plugin_api_version"])).trim()).toBe("0.5.0");
    expect(await ok(SHIELD, ["gpbackup-plugin", "--version"])).toMatch(/^gpbackup_shield_plugin version \S+\n$/);
  });

  test("interchange: our objects sit at gpbackup_s3_plugin's keys; objects put there by another client are restored", async () => {
    const cfg = config();
    const { ts, date } = timestamp(100);
    const local = join(dir, "segA", "backups", date, ts);
    mkdirSync(local, { recursive: true });
    await ok(plugin, ["backup_data", cfg, join(local, `gpbackup_0_${ts}`)], "segment zero data");
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `test/backup3/backups/${date}/${ts}/gpbackup_0_${ts}` }));
    expect(await got.Body!.transformToString()).toBe("segment zero data");

    // Written by someone else (gpbackup_s3_plugin, here the AWS SDK) at the key it would use.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `test/backup3/backups/${date}/${ts}/gpbackup_${ts}_metadata.sql`, Body: "CREATE TABLE t();\n" }));
    const other = join(dir, "elsewhere", "backups", date, ts, `gpbackup_${ts}_metadata.sql`);
    await ok(plugin, ["restore_file", cfg, other]);
    expect(readFileSync(other, "utf8")).toBe("CREATE TABLE t();\n");
    expect(await ok(plugin, ["restore_data", cfg, join("/any/data/dir", "backups", date, ts, `gpbackup_0_${ts}`)])).toBe("segment zero data");
  });

  test("multipart: a stream of several parts comes back whole, and restore_data_subset reads byte ranges", async () => {
    const cfg = config({ backup_multipart_chunksize: "5MB", backup_max_concurrent_requests: "2", restore_multipart_chunksize: "3MB", restore_max_concurrent_requests: "2" }, "parts.yaml");
    const { ts, date } = timestamp(200);
    const key = join(dir, "segB", "backups", date, ts, `gpbackup_1_${ts}`);
    const data = new Uint8Array(12 * 1024 * 1024 + 17).map((_, i) => (i * 7919) % 251);
    await ok(plugin, ["backup_data", cfg, key], data);
    const proc = Bun.spawn([plugin, "restore_data", cfg, key], { stdout: "pipe", stderr: "pipe" });
    const back = new Uint8Array(await new Response(proc.stdout).arrayBuffer());
    expect(await proc.exited).toBe(0);
    expect(back.length).toBe(data.length);
    expect(Bun.hash(back)).toBe(Bun.hash(data));

    const offsets = join(dir, "offsets");
    writeFileSync(offsets, "2 10 20 6000000 6000005\n");
    const sub = Bun.spawn([plugin, "restore_data_subset", cfg, key, offsets], { stdout: "pipe" });
    const subset = new Uint8Array(await new Response(sub.stdout).arrayBuffer());
    expect(await sub.exited).toBe(0);
    expect([...subset]).toEqual([...data.subarray(10, 20), ...data.subarray(6000000, 6000005)]);
  }, 60_000);

  test("directory commands: backup, list, restore (and parallel), delete", async () => {
    const cfg = config();
    const src = join(dir, "dirsrc");
    mkdirSync(join(src, "sub"), { recursive: true });
    writeFileSync(join(src, "a.txt"), "aaa");
    writeFileSync(join(src, "sub", "b.txt"), "bbbb");
    await ok(plugin, ["backup_directory", cfg, src]);
    const keys = (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: src }))).Contents!.map((o) => o.Key).sort();
    expect(keys).toEqual([join(src, "a.txt"), join(src, "sub", "b.txt")]);
    const listing = await ok(plugin, ["list_directory", cfg, src]);
    expect(listing).toContain("NAME");
    expect(listing).toMatch(new RegExp(`${join(src, "a.txt")}\\s+3`));
    rmSync(src, { recursive: true });
    await ok(plugin, ["restore_directory_parallel", cfg, src, "2"]);
    expect(readFileSync(join(src, "b.txt"), "utf8")).toBe("bbbb");
    await ok(plugin, ["delete_directory", cfg, src]);
    expect((await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: src }))).KeyCount).toBe(0);
  });

  test("http_proxy carries every request; a 503 is retried (max_request_retries), none when it is 0", async () => {
    const proxy = await startFaultProxy(moto.port);
    try {
      // Nothing listens at the endpoint itself: only through the proxy does a request reach moto.
      const cfg = config({ endpoint: `http://127.0.0.1:${await freePort()}`, http_proxy: `http://127.0.0.1:${proxy.port}`, max_request_retries: "3" }, "proxy.yaml");
      const { ts, date } = timestamp(600);
      const key = join(dir, "segP", "backups", date, ts, `gpbackup_5_${ts}`);
      const rule = proxy.add({ match: (r) => r.method === "PUT", fault: { status: 503, code: "SlowDown", message: "slow down" } });
      await ok(plugin, ["backup_data", cfg, key], "through the proxy");
      expect(rule.hits).toBe(1);
      expect(await ok(plugin, ["restore_data", cfg, key])).toBe("through the proxy");
      expect(proxy.seen.some((r) => r.startsWith("PUT ") && r.includes(`gpbackup_5_${ts}`))).toBe(true);

      const noRetry = config({ endpoint: `http://127.0.0.1:${await freePort()}`, http_proxy: `http://127.0.0.1:${proxy.port}`, max_request_retries: "0" }, "noretry.yaml");
      proxy.add({ match: (r) => r.method === "PUT", fault: { status: 503, code: "SlowDown", message: "slow down" } });
      const r = await run(plugin, ["backup_data", noRetry, key], "again");
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  test("bad configs and arguments: one line on stderr naming the problem, non-zero exit, nothing on stdout", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "executablepath: /x\noptions:\n  bucket: b\n  folder: f\n  region: r\n  bukket: typo\n");
    let r = await run(plugin, ["backup_data", bad, "/d/backups/20240101/20240101010101/x"], "");
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`unknown option "bukket"`);

    writeFileSync(bad, "executablepath: /x\noptions:\n  folder: f\n  region: r\n");
    r = await run(plugin, ["setup_plugin_for_backup", bad, "/d/backups/20240101/20240101010101", "coordinator", "-1"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("bucket must exist");

    r = await run(plugin, ["delete_backup", config(), "2024"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("YYYYMMDDHHMMSS");

    r = await run(plugin, ["restore_data", config(), "/d/backups/20000101/20000101000000/none"]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);

    r = await run(plugin, ["backup_file", config()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("invalid number of arguments");
  });
});
