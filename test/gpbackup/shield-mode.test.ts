// The gpbackup plugin in Shield mode against a real daemon (dist/shield) and its
// fs store: plugin_test.sh's bench passes; each backup timestamp is one archive
// of a `gpbackup` target listing its files with their sizes; Shield refuses to
// restore it; delete_backup leaves it purged with every blob gone from the store;
// a wrong token, an unknown store and an unreachable core each fail with one line.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHIELD_BIN, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { freePort } from "../helpers/services.ts";
import { cliFor } from "../helpers/cli.ts";
import { AZURITE_ACCOUNT, AZURITE_KEY, azuriteAvailable, startAzurite } from "../helpers/azurite.ts";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { ok, pluginTestBench, run, timestamp } from "./bench.ts";

const PASSWORD = "gpbackup-e2e-password";
const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}` };

/** What an object of n bytes takes in the store, encrypted (docs/archive-format.md): a 12-byte header and a 16-byte tag per 64 KiB chunk, the last one included. */
const sealed = (n: number) => n + 12 + 16 * (Math.floor(n / 65536) + 1);

function files(dir: string, prefix = ""): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? (e === ".incoming" ? [] : files(p, join(prefix, e))) : [join(prefix, e)];
  });
}

describe("gpbackup plugin, Shield mode", () => {
  let d: DaemonProcess;
  let dir: string;
  let storeDir: string;
  let plugin: string;
  let token: string;

  async function call(method: string, path: string, body?: unknown) {
    const r = await fetch(d.url + path, { method, headers: { ...auth, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as any };
  }

  function config(options: Record<string, string>, name = "shield.yaml"): string {
    const path = join(dir, name);
    writeFileSync(path, `executablepath: ${plugin}\noptions:\n${Object.entries(options).map(([k, v]) => `  ${k}: "${v}"`).join("\n")}\n`);
    return path;
  }
  const good = () => ({ shield_core: d.url, shield_token: token, store: "gp-disk", retention: "week", target_name: "gp-prod" });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shield-gpbackup-shield-"));
    storeDir = join(dir, "store");
    mkdirSync(storeDir);
    plugin = join(dir, "gpbackup_shield_plugin");
    symlinkSync(SHIELD_BIN, plugin);
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    expect((await call("POST", "/v1/stores", { name: "gp-disk", plugin: "fs", endpoint: { base_dir: storeDir } })).json.ok).toBe("created");
    expect((await call("POST", "/v1/retention", { name: "week", expires: 604800 })).json.ok).toBe("created");
    token = (await call("POST", "/v1/auth/tokens", { name: "gpbackup" })).json.token;
    expect(token).toBeString();
  });
  afterAll(async () => {
    await d?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("plugin_test.sh's bench passes", async () => {
    await pluginTestBench(plugin, config(good()), join(dir, "seg-1"));
  }, 120_000);

  test("plugin_test.sh's bench passes with a copy of the binary named gpbackup_shield_plugin (it runs the store plugin as shield)", async () => {
    const copy = join(dir, "copy", "gpbackup_shield_plugin");
    mkdirSync(join(dir, "copy"));
    copyFileSync(SHIELD_BIN, copy);
    chmodSync(copy, 0o755);
    await pluginTestBench(copy, config({ ...good(), target_name: "gp-copy" }, "copy.yaml"), join(dir, "seg-copy"));
  }, 120_000);

  // Any store: the same bench through the built-in azure store on a private Azurite
  // (the s3 store joins once plugins/s3 is on main).
  test.skipIf(!azuriteAvailable)("plugin_test.sh's bench passes through the azure store", async () => {
    const az = await startAzurite();
    await new BlobServiceClient(az.url, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).getContainerClient("gpbackup").createIfNotExists();
    const store = await call("POST", "/v1/stores", { name: "gp-azure", plugin: "azure", endpoint: {
      storage_account: AZURITE_ACCOUNT, storage_account_key: AZURITE_KEY, storage_container: "gpbackup", prefix: "gp/", blob_endpoint: az.url,
    } });
    expect(store.json.ok).toBe("created");
    await pluginTestBench(plugin, config({ ...good(), store: store.json.uuid, target_name: "gp-azure-cluster" }, "azure.yaml"), join(dir, "seg-az"));
  }, 120_000);

  test("each backup is one archive of a gpbackup target with its files; Shield does not restore it; delete_backup purges every object", async () => {
    const cfg = config(good());
    const { ts, date } = timestamp(300);
    const coord = join(dir, "coord", "backups", date, ts);
    mkdirSync(coord, { recursive: true });
    await ok(plugin, ["setup_plugin_for_backup", cfg, coord, "coordinator", "-1"]);
    writeFileSync(join(coord, `gpbackup_${ts}_metadata.sql`), "CREATE TABLE t (i int);\n");
    await ok(plugin, ["backup_file", cfg, join(coord, `gpbackup_${ts}_metadata.sql`)]);
    await Promise.all([0, 1, 2].map((seg) => ok(plugin, ["backup_data", cfg, join(dir, `seg${seg}`, "backups", date, ts, `gpbackup_${seg}_${ts}`)], "x".repeat(1000 * (seg + 1)))));
    // The report replaces the setup's empty probe of the same name.
    writeFileSync(join(coord, `gpbackup_${ts}_report`), "backup report\n");
    await ok(plugin, ["backup_file", cfg, join(coord, `gpbackup_${ts}_report`)]);

    const targets = (await call("GET", "/v1/targets")).json.filter((t: any) => t.name === "gp-prod");
    expect(targets).toHaveLength(1);
    expect(targets[0].plugin).toBe("gpbackup");
    const archives = (await call("GET", `/v1/archives?target=${targets[0].uuid}&status=valid`)).json;
    const archive = archives.find((a: any) => a.store_key === `gpbackup/${ts}`);
    expect(archive).toBeDefined();
    expect(archive.store_name).toBe("gp-disk");
    expect((Date.parse(archive.expires_at) - Date.parse(archive.taken_at)) / 1000).toBe(604800);
    const objects = (await call("GET", `/v1/archive/${archive.uuid}/objects`)).json;
    // Sizes are what the store holds: each object sealed with the backup's data key (shield_encryption defaults to on).
    expect(archive.cipher).toBe("aes-256-gcm-chunked-v1");
    expect(archive.compression).toBe("none");
    expect(objects.map((o: any) => [o.name, o.size]).sort()).toEqual([
      [`backups/${date}/${ts}/gpbackup_0_${ts}`, sealed(1000)],
      [`backups/${date}/${ts}/gpbackup_1_${ts}`, sealed(2000)],
      [`backups/${date}/${ts}/gpbackup_2_${ts}`, sealed(3000)],
      [`backups/${date}/${ts}/gpbackup_${ts}_metadata.sql`, sealed(24)],
      [`backups/${date}/${ts}/gpbackup_${ts}_report`, sealed(14)],
    ].sort());
    expect(archive.size).toBe(sealed(1000) + sealed(2000) + sealed(3000) + sealed(24) + sealed(14));
    const blobs = objects.map((o: any) => join(storeDir, o.store_key));
    for (const b of blobs) {
      const bytes = readFileSync(b);
      expect(bytes.subarray(0, 6).toString()).toBe("SHIELD");
      expect(bytes.includes("xxxxxxxx")).toBe(false);
    }

    const restore = await call("POST", `/v1/archive/${archive.uuid}/restore`, {});
    expect(restore.status).toBe(409);
    expect(restore.json.error).toContain("gprestore");
    expect((await call("PUT", `/v1/archive/${archive.uuid}`, { notes: "before the upgrade" })).status).toBe(200);

    expect(await ok(plugin, ["restore_data", cfg, join("/elsewhere", "backups", date, ts, `gpbackup_2_${ts}`)])).toBe("x".repeat(3000));

    // The CLI shows the files and who restores it.
    const cli = cliFor(d, token);
    const shown = await cli.run(["show", "archive", archive.uuid]);
    cli.cleanup();
    expect(shown.stdout).toContain(`gprestore --timestamp ${ts}`);
    expect(shown.stdout).toContain(`gpbackup_${ts}_metadata.sql`);

    expect(await ok(plugin, ["delete_backup", cfg, ts])).toBe("");
    const after = (await call("GET", `/v1/archive/${archive.uuid}`)).json;
    expect(after.status).toBe("purged");
    expect(after.notes).toBe("before the upgrade");
    for (const b of blobs) expect(() => statSync(b)).toThrow();
    const r = await run(plugin, ["restore_data", cfg, join("/elsewhere", "backups", date, ts, `gpbackup_2_${ts}`)]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");

    // A deleted backup takes no more files: the one stored is taken back out of the store.
    const before = files(storeDir).sort();
    const late = await run(plugin, ["backup_data", cfg, join(dir, "seg7", "backups", date, ts, `gpbackup_7_${ts}`)], "too late");
    expect(late.code).not.toBe(0);
    expect(late.stderr).toContain("was deleted");
    expect(files(storeDir).sort()).toEqual(before);
  }, 120_000);

  test("8 segments at once into one backup: one archive, every object, the right total, each restored", async () => {
    const cfg = config(good());
    const { ts, date } = timestamp(700);
    const key = (seg: number) => join(dir, `gpseg${seg}`, "backups", date, ts, `gpbackup_${seg}_${ts}`);
    const data = (seg: number) => new Uint8Array(1024 * 1024 + seg).fill(seg + 1);
    await Promise.all(Array.from({ length: 8 }, (_, seg) => ok(plugin, ["backup_data", cfg, key(seg)], data(seg))));
    const target = (await call("GET", "/v1/targets")).json.find((t: any) => t.name === "gp-prod");
    const archive = (await call("GET", `/v1/archives?target=${target.uuid}`)).json.find((a: any) => a.store_key === `gpbackup/${ts}`);
    const objects = (await call("GET", `/v1/archive/${archive.uuid}/objects`)).json;
    expect(objects).toHaveLength(8);
    expect(archive.size).toBe(Array.from({ length: 8 }, (_, seg) => sealed(1024 * 1024 + seg)).reduce((a, b) => a + b));
    await Promise.all(Array.from({ length: 8 }, async (_, seg) => {
      const proc = Bun.spawn([plugin, "restore_data", cfg, key(seg)], { stdout: "pipe" });
      const back = new Uint8Array(await new Response(proc.stdout).arrayBuffer());
      expect(await proc.exited).toBe(0);
      expect(Bun.hash(back)).toBe(Bun.hash(data(seg)));
    }));
  }, 120_000);

  test("sealing: zstd and encryption round trip, encryption off stores plain bytes, a tampered object is refused, a bad option is named", async () => {
    const data = new TextEncoder().encode("row of a greenplum table\n".repeat(40_000)); // 1 MB, compressible
    const objectOf = async (cfg: string, seg: number) => {
      const { ts, date } = timestamp(900 + seg);
      const path = join(dir, `sealseg${seg}`, "backups", date, ts, `gpbackup_${seg}_${ts}`);
      await ok(plugin, ["backup_data", cfg, path], data);
      const target = (await call("GET", "/v1/targets")).json.find((t: any) => t.name === "gp-prod");
      const archive = (await call("GET", `/v1/archives?target=${target.uuid}`)).json.find((a: any) => a.store_key === `gpbackup/${ts}`);
      const [object] = (await call("GET", `/v1/archive/${archive.uuid}/objects`)).json;
      return { path, archive, blob: join(storeDir, object.store_key) };
    };
    const restored = async (cfg: string, path: string) => {
      const proc = Bun.spawn([plugin, "restore_data", cfg, path], { stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
      return { out: new Uint8Array(out), err, code };
    };

    const zstd = await objectOf(config({ ...good(), shield_compression: "zstd" }, "zstd.yaml"), 1);
    expect([zstd.archive.compression, zstd.archive.cipher]).toEqual(["zstd", "aes-256-gcm-chunked-v1"]);
    expect(statSync(zstd.blob).size).toBeLessThan(data.length / 10);
    let r = await restored(config(good()), zstd.path); // the archive's sealing wins over the reader's options
    expect(r.code).toBe(0);
    expect(Bun.hash(r.out)).toBe(Bun.hash(data));

    const plain = await objectOf(config({ ...good(), shield_encryption: "off" }, "plain.yaml"), 2);
    expect([plain.archive.compression, plain.archive.cipher]).toEqual(["none", "none"]);
    expect(Bun.hash(readFileSync(plain.blob))).toBe(Bun.hash(data));
    r = await restored(config(good()), plain.path);
    expect(Bun.hash(r.out)).toBe(Bun.hash(data));

    const enc = await objectOf(config(good()), 3);
    const bytes = readFileSync(enc.blob);
    bytes[100_000]! ^= 1;
    writeFileSync(enc.blob, bytes);
    r = await restored(config(good()), enc.path);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toContain("failed authentication");

    const bad = await run(plugin, ["backup_data", config({ ...good(), shield_compression: "lz4" }, "bad.yaml"), zstd.path], "x");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("shield_compression must be none or zstd");
  }, 120_000);

  test("a wrong token, an unknown store, an unreachable core: one clear line each, non-zero", async () => {
    const { ts, date } = timestamp(400);
    const key = join(dir, "seg9", "backups", date, ts, `gpbackup_9_${ts}`);
    const cases: [Record<string, string>, string][] = [
      [{ ...good(), shield_token: "not-a-token" }, "refused the token (401)"],
      [{ ...good(), store: "no-such-store" }, `no store named "no-such-store"`],
      [{ ...good(), shield_core: `http://127.0.0.1:${await freePort()}` }, "cannot reach the Shield core"],
      [{ ...good(), retention: "no-such-policy" }, `no retention policy named "no-such-policy"`],
    ];
    for (const [options, says] of cases) {
      const r = await run(plugin, ["backup_data", config(options, "bad.yaml"), key], "data");
      expect({ code: r.code === 0 ? 0 : 1, stdout: r.stdout, says: r.stderr.includes(says), lines: r.stderr.trim().split("\n").length })
        .toEqual({ code: 1, stdout: "", says: true, lines: 1 });
    }
    // A viewer's token: said at once, before anything is stored.
    expect((await call("POST", "/v1/users", { name: "gp-viewer", password: "viewer-password", role: "viewer" })).json.ok).toBe("created");
    const viewerToken = (await (await fetch(`${d.url}/v1/auth/tokens`, { method: "POST", body: JSON.stringify({ name: "v" }),
      headers: { authorization: `Basic ${Buffer.from("gp-viewer:viewer-password").toString("base64")}`, "content-type": "application/json" } })).json() as any).token;
    const storedBefore = files(storeDir).length;
    const viewer = await run(plugin, ["backup_data", config({ ...good(), shield_token: viewerToken }, "bad.yaml"), key], "data");
    expect(viewer.code).not.toBe(0);
    expect(viewer.stderr).toContain(`viewer "gp-viewer"'s; the plugin needs an operator's`);
    expect(files(storeDir).length).toBe(storedBefore);

    // A store that fails (its directory is gone): its own words, in one line.
    const goneDir = mkdtempSync(join(tmpdir(), "shield-gpbackup-gone-"));
    expect((await call("POST", "/v1/stores", { name: "gone-disk", plugin: "fs", endpoint: { base_dir: goneDir } })).json.ok).toBe("created");
    rmSync(goneDir, { recursive: true });
    const big = new Uint8Array(8 * 1024 * 1024);
    const failed = await run(plugin, ["backup_data", config({ ...good(), store: "gone-disk" }, "bad.yaml"), key], big);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr.trim().split("\n")).toHaveLength(1);
    expect(failed.stderr).toContain(`store "gone-disk" (fs) failed to store`);
    expect(failed.stderr).toContain("does not exist");

    // The token in the config never shows in the error.
    const r = await run(plugin, ["backup_data", config({ ...good(), shield_token: "secret-token-value" }, "bad.yaml"), key], "data");
    expect(r.stderr).not.toContain("secret-token-value");
  });

  test("shield_token_file works; a missing one is named", async () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const { shield_token: _, ...rest } = good();
    const { ts, date } = timestamp(500);
    const key = join(dir, "seg3", "backups", date, ts, `gpbackup_3_${ts}`);
    await ok(plugin, ["backup_data", config({ ...rest, shield_token_file: tokenFile }, "tf.yaml"), key], "via token file");
    expect(await ok(plugin, ["restore_data", config({ ...rest, shield_token_file: tokenFile }, "tf.yaml"), key])).toBe("via token file");
    const r = await run(plugin, ["restore_data", config({ ...rest, shield_token_file: join(dir, "nope") }, "tf.yaml"), key]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("cannot read shield_token_file");
  });
});
