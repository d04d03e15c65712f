// Recovery without a daemon: `shield archive decrypt` reads a stored blob back,
// and `shield rekey` rotates the master key by re-wrapping archive keys.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { encryptStream, newDataKey, unwrapKey, wrapKey } from "../../src/pipeline/encryption.ts";
import { connectCatalog } from "../../src/catalog/index.ts";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");
let dir: string;
const masterKey = crypto.getRandomValues(new Uint8Array(32));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "shield-test-maint-"));
  writeFileSync(join(dir, "master.key"), Buffer.from(masterKey).toString("base64") + "\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function encryptedBlob(plain: Uint8Array, compress: boolean) {
  const dataKey = newDataKey();
  const input = compress ? Bun.spawnSync(["zstd", "-q", "-c"], { stdin: plain }).stdout : plain;
  const blob = new Uint8Array(await new Response(new Response(input).body!.pipeThrough(encryptStream(dataKey))).arrayBuffer());
  return { blob, wrapped: wrapKey(masterKey, dataKey) };
}

function shield(args: string[], stdin: Uint8Array) {
  return Bun.spawnSync([process.execPath, MAIN, ...args], { stdin, env: { ...process.env, SHIELD_MASTER_KEY: "" } });
}

describe("shield archive decrypt", () => {
  const plain = crypto.getRandomValues(new Uint8Array(300_000));

  test("decrypts and decompresses a blob given the master key and the wrapped key", async () => {
    const { blob, wrapped } = await encryptedBlob(plain, true);
    const r = shield(["archive", "decrypt", "--master-key-file", join(dir, "master.key"), "--wrapped-key", wrapped, "--compression", "zstd"], blob);
    expect(r.exitCode).toBe(0);
    expect(Buffer.from(r.stdout).equals(Buffer.from(plain))).toBe(true);
  });

  test("refuses a tampered blob with the reason, and a wrong master key", async () => {
    const { blob, wrapped } = await encryptedBlob(plain, false);
    blob[blob.length - 5]! ^= 0x40;
    const r = shield(["archive", "decrypt", "--master-key-file", join(dir, "master.key"), "--wrapped-key", wrapped], blob);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr.toString()).toContain("failed authentication");
    writeFileSync(join(dir, "other.key"), Buffer.from(new Uint8Array(32)).toString("base64"));
    const w = shield(["archive", "decrypt", "--master-key-file", join(dir, "other.key"), "--wrapped-key", wrapped], blob);
    expect(w.exitCode).not.toBe(0);
    expect(w.stderr.toString()).toContain("wrong master key");
  });

  test("says what is missing", () => {
    const r = shield(["archive", "decrypt", "--wrapped-key", "v1:x"], new Uint8Array());
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain("--master-key-file");
  });
});

describe("shield rekey", () => {
  test("re-wraps every archive key with the new master key; blobs untouched", async () => {
    const db = join(dir, "catalog.db");
    const catalog = await connectCatalog(db);
    const dataKeys = [newDataKey(), newDataKey()];
    for (const [i, k] of dataKeys.entries()) {
      await catalog.archives.create({
        uuid: crypto.randomUUID(), targetUuid: crypto.randomUUID(), storeUuid: crypto.randomUUID(), jobUuid: null,
        storeKey: `k${i}`, takenAt: 1, expiresAt: 2, notes: "", status: "valid", size: 1, rawSize: 1, sha256: "x",
        compression: "none", cipher: "aes-256-gcm-chunked-v1", encryptionKey: wrapKey(masterKey, k), purgedAt: null,
      });
    }
    await catalog.close();
    const newKey = crypto.getRandomValues(new Uint8Array(32));
    writeFileSync(join(dir, "new.key"), Buffer.from(newKey).toString("base64"));
    const r = shield(["rekey", "--database", db, "--old-key-file", join(dir, "master.key"), "--new-key-file", join(dir, "new.key")], new Uint8Array());
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString()).toBe("re-wrapped the keys of 2 archives\n");
    const after = await connectCatalog(db);
    const wrapped = (await after.archives.wrappedKeys()).sort((a, b) => a.uuid.localeCompare(b.uuid));
    const unwrapped = wrapped.map((w) => Buffer.from(unwrapKey(newKey, w.encryptionKey)).toString("hex")).sort();
    expect(unwrapped).toEqual(dataKeys.map((k) => Buffer.from(k).toString("hex")).sort());
    expect(() => unwrapKey(masterKey, wrapped[0]!.encryptionKey)).toThrow();
    // A wrong old key changes nothing.
    const bad = shield(["rekey", "--database", db, "--old-key-file", join(dir, "master.key"), "--new-key-file", join(dir, "new.key")], new Uint8Array());
    expect(bad.exitCode).not.toBe(0);
    expect((await after.archives.wrappedKeys()).map((w) => w.encryptionKey).sort()).toEqual(wrapped.map((w) => w.encryptionKey).sort());
    await after.close();
  });
});
