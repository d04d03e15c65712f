// Sealing endpoint secrets with the master key: what is sealed (the one rule of
// src/secret-names.ts, plus the plugin's password fields), that it opens to the
// same JSON, that it is bound to its key's name, and re-sealing for `shield rekey`.
import { describe, expect, test } from "bun:test";
import { EndpointSecrets, isSealed, SecretUnreadable, SEALED_PREFIX } from "../../src/pipeline/endpoint-secrets.ts";

const key = () => crypto.getRandomValues(new Uint8Array(32));
const NONE = new Set<string>();

describe("EndpointSecrets", () => {
  const box = new EndpointSecrets(key());
  const endpoint = JSON.stringify({
    pg_host: "db1", pg_port: 5432, pg_user: "backup", pg_password: "hunter2-pw", secret_access_key: "s3-secret",
    options: { api_key: "nested-key", region: "eu" }, list: [{ token: "in-array" }, "plain"], pin: 1234, creds: { a: 1 },
    access_key_id: "AKIA-visible", empty_password: "",
  });

  test("seals every secret value (by name, nested too, any JSON type) and nothing else", () => {
    const sealed = JSON.parse(box.seal(endpoint, new Set(["pin"])));
    for (const v of [sealed.pg_password, sealed.secret_access_key, sealed.options.api_key, sealed.list[0].token, sealed.pin, sealed.empty_password]) {
      expect(isSealed(v)).toBe(true);
    }
    expect(sealed).toMatchObject({ pg_host: "db1", pg_port: 5432, pg_user: "backup", access_key_id: "AKIA-visible", creds: { a: 1 } });
    expect(sealed.options.region).toBe("eu");
    expect(sealed.list[1]).toBe("plain");
    const text = JSON.stringify(sealed);
    for (const secret of ["hunter2-pw", "s3-secret", "nested-key", "in-array", "1234"]) expect(text).not.toContain(secret);
  });

  test("opens to the same JSON, and lists the opened secrets for the task log", () => {
    const opened = box.open(box.seal(endpoint, new Set(["pin"])));
    expect(JSON.parse(opened.endpoint)).toEqual(JSON.parse(endpoint));
    expect(opened.secrets.sort()).toEqual(["1234", "hunter2-pw", "in-array", "nested-key", "s3-secret"]);
  });

  test("sealing twice changes nothing; each value gets its own nonce", () => {
    const once = box.seal(endpoint, NONE);
    expect(box.seal(once, NONE)).toBe(once);
    const again = box.seal(endpoint, NONE);
    expect(again).not.toBe(once);
  });

  test("an endpoint with no secret, or not a JSON object, is left as it was given", () => {
    const plain = '{ "base_dir" : "/srv" }';
    expect(box.seal(plain, NONE)).toBe(plain);
    expect(box.seal("not json", NONE)).toBe("not json");
    expect(box.open(plain).endpoint).toBe(plain);
  });

  test("a value that only looks sealed is sealed like any other, and comes back as given", () => {
    const fake = JSON.stringify({ password: `${SEALED_PREFIX}AAAA` });
    const sealed = box.seal(fake, NONE);
    expect(sealed).not.toBe(fake);
    expect(box.open(sealed).endpoint).toBe(fake);
  });

  test("another master key, a damaged value, or a value moved to another key does not open", () => {
    const sealed = box.seal(endpoint, NONE);
    expect(() => new EndpointSecrets(key()).open(sealed)).toThrow(SecretUnreadable);
    const obj = JSON.parse(sealed);
    const moved = JSON.stringify({ pg_user: obj.pg_password });
    expect(() => box.open(moved)).toThrow(SecretUnreadable);
    const damaged = JSON.stringify({ pg_password: obj.pg_password.slice(0, -6) + "AAAA==" });
    expect(() => box.open(damaged)).toThrow(SecretUnreadable);
    expect(JSON.parse(box.open(damaged, "?").endpoint)).toEqual({ pg_password: "?" });
  });

  test("rewrap re-seals under the new key; run again it keeps what is done; a third key fails", () => {
    const next = new EndpointSecrets(key());
    const sealed = box.seal(endpoint, NONE);
    const rewrapped = box.rewrap(sealed, next);
    expect(JSON.parse(next.open(rewrapped).endpoint)).toEqual(JSON.parse(endpoint));
    expect(() => box.open(rewrapped)).toThrow(SecretUnreadable);
    expect(box.rewrap(rewrapped, next)).toBe(rewrapped);
    expect(() => new EndpointSecrets(key()).rewrap(sealed, next)).toThrow(SecretUnreadable);
  });
});
