// Recovery without a daemon: `shield archive decrypt` reads a stored blob back,
// and `shield rekey` rotates the master key by re-wrapping archive keys and
// re-sealing endpoint secrets.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { encryptStream, newDataKey, unwrapKey, wrapKey } from "../../src/pipeline/encryption.ts";
import { connectCatalog } from "../../src/catalog/index.ts";
import { endpointSealer } from "../../src/core/plugins.ts";
import { EndpointSecrets } from "../../src/pipeline/endpoint-secrets.ts";

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
  test("re-wraps every archive key and re-seals every endpoint secret with the new master key; blobs untouched", async () => {
    const db = join(dir, "catalog.db");
    const oldSecrets = new EndpointSecrets(masterKey);
    const catalog = await connectCatalog(db, { sealer: endpointSealer(oldSecrets, undefined) });
    const dataKeys = [newDataKey(), newDataKey()];
    for (const [i, k] of dataKeys.entries()) {
      await catalog.archives.create({
        uuid: crypto.randomUUID(), targetUuid: crypto.randomUUID(), storeUuid: crypto.randomUUID(), jobUuid: null,
        storeKey: `k${i}`, takenAt: 1, expiresAt: 2, notes: "", status: "valid", size: 1, rawSize: 1, sha256: "x",
        compression: "none", cipher: "aes-256-gcm-chunked-v1", encryptionKey: wrapKey(masterKey, k), purgedAt: null,
      });
    }
    const targetEndpoint = JSON.stringify({ pg_host: "db", pg_password: "rekey-pw-1" });
    const storeEndpoint = JSON.stringify({ base_dir: "/b" }); // nothing to seal: untouched
    const target = crypto.randomUUID();
    await catalog.targets.create(target, { name: "t", summary: "", plugin: "postgres", endpoint: targetEndpoint, agent: "" }, 1);
    await catalog.stores.create(crypto.randomUUID(), { name: "s", summary: "", plugin: "fs", endpoint: storeEndpoint }, 1);
    // A notification channel's secrets are sealed with the same master key (issue 16): re-sealed too.
    const channelSettings = JSON.stringify({ host: "smtp", password: "rekey-smtp-pw" });
    const channel = crypto.randomUUID();
    await catalog.notifications.channels.create({ uuid: channel, name: "mail", kind: "email", settings: oldSecrets.seal(channelSettings, new Set(["password"])), events: "[]", jobs: "[]", createdAt: 1 });
    // And an auth provider's bind password (issue 18).
    const providerConfig = JSON.stringify({ url: "ldap://x", base_dn: "dc=x", bind_dn: "cn=svc", bind_password: "rekey-bind-pw" });
    const provider = crypto.randomUUID();
    await catalog.authProviders.create({ uuid: provider, name: "corp", type: "ldap", config: oldSecrets.seal(providerConfig, new Set(["bind_password"])), createdAt: 1 });
    // And an OIDC user's refresh token, kept for re-checks.
    const userData = JSON.stringify({ oidc: { sub: "s1", refresh_token: "rekey-refresh-token" } });
    await catalog.users.create({ uuid: crypto.randomUUID(), name: "sso-user", role: "viewer", provider: "sso", passwordHash: "!external", createdAt: 1, providerData: oldSecrets.seal(userData, new Set(["oidc"])) });
    await catalog.close();
    const newKey = crypto.getRandomValues(new Uint8Array(32));
    writeFileSync(join(dir, "new.key"), Buffer.from(newKey).toString("base64"));
    const rekey = (oldFile: string) => shield(["rekey", "--database", db, "--old-key-file", oldFile, "--new-key-file", join(dir, "new.key")], new Uint8Array());
    const r = rekey(join(dir, "master.key"));
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString()).toBe("re-wrapped the keys of 2 archives; re-sealed the secrets of 1 endpoint\nre-sealed the secrets of 1 notification channel\nre-sealed the secrets of 1 auth provider\nre-sealed the refresh tokens of 1 single sign-on user\n");
    const after = await connectCatalog(db);
    const wrapped = (await after.archives.wrappedKeys()).sort((a, b) => a.uuid.localeCompare(b.uuid));
    const unwrapped = wrapped.map((w) => Buffer.from(unwrapKey(newKey, w.encryptionKey)).toString("hex")).sort();
    expect(unwrapped).toEqual(dataKeys.map((k) => Buffer.from(k).toString("hex")).sort());
    expect(() => unwrapKey(masterKey, wrapped[0]!.encryptionKey)).toThrow();
    const sealed = (await after.targets.get(target))!.endpoint;
    expect(new EndpointSecrets(newKey).open(sealed).endpoint).toBe(targetEndpoint);
    expect(() => oldSecrets.open(sealed)).toThrow();
    const channelSealed = (await after.notifications.channels.get(channel))!.settings;
    expect(new EndpointSecrets(newKey).open(channelSealed).endpoint).toBe(channelSettings);
    const providerSealed = (await after.authProviders.byName("corp"))!.config;
    expect(providerSealed).not.toContain("rekey-bind-pw");
    expect(new EndpointSecrets(newKey).open(providerSealed).endpoint).toBe(providerConfig);
    const userSealed = (await after.users.byName("sso-user"))!.providerData!;
    expect(userSealed).not.toContain("rekey-refresh-token");
    expect(new EndpointSecrets(newKey).open(userSealed).endpoint).toBe(userData);
    // Run again (as after an interruption): what is re-keyed is kept, nothing changes.
    const again = rekey(join(dir, "master.key"));
    expect([again.exitCode, again.stdout.toString()]).toEqual([0, "re-wrapped the keys of 0 archives; re-sealed the secrets of 0 endpoints\n"]);
    expect((await after.targets.get(target))!.endpoint).toBe(sealed);
    // A wrong old key fails and changes nothing.
    const archive = wrapKey(crypto.getRandomValues(new Uint8Array(32)), newDataKey());
    await after.archives.create({
      uuid: crypto.randomUUID(), targetUuid: crypto.randomUUID(), storeUuid: crypto.randomUUID(), jobUuid: null,
      storeKey: "k-other", takenAt: 1, expiresAt: 2, notes: "", status: "valid", size: 1, rawSize: 1, sha256: "x",
      compression: "none", cipher: "aes-256-gcm-chunked-v1", encryptionKey: archive, purgedAt: null,
    });
    const before = (await after.archives.wrappedKeys()).map((w) => w.encryptionKey).sort();
    const bad = rekey(join(dir, "master.key"));
    expect(bad.exitCode).not.toBe(0);
    expect((await after.archives.wrappedKeys()).map((w) => w.encryptionKey).sort()).toEqual(before);
    expect((await after.targets.get(target))!.endpoint).toBe(sealed);
    await after.close();
  });
});
