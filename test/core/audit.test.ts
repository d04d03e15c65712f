// The audit trail's diff: fields flattened to dotted paths, compared by value
// (secrets too, so a resealed unchanged password is no change), written with every
// secret replaced by ******** — declared ones, ones named like secrets at any
// depth (inside arrays of objects too), and values still sealed by the catalog.
import { expect, test } from "bun:test";
import { AUDIT_REDACTED, diff, flatten } from "../../src/core/audit.ts";
import { EndpointSecrets } from "../../src/pipeline/endpoint-secrets.ts";

const shown = (x: unknown) => JSON.parse(JSON.stringify(x));

test("changes only, with from and to; creation and deletion list what is set", () => {
  const a = flatten({ name: "db", port: 5432, opts: { ssl: true, mode: "x" }, tags: ["a"] });
  const b = flatten({ name: "db", port: 5433, opts: { ssl: true, mode: "y" }, tags: ["a", "b"], note: "" });
  expect(shown(diff(a, b))).toEqual({ "opts.mode": { from: "x", to: "y" }, port: { from: 5432, to: 5433 }, tags: { from: ["a"], to: ["a", "b"] } });
  expect(Object.keys(diff(undefined, b))).toEqual(["name", "opts.mode", "opts.ssl", "port", "tags"]);
  expect(shown(diff(a, undefined)).name).toEqual({ from: "db" });
});

test("secrets compare by value and are written redacted, whatever their depth", () => {
  const before = flatten({ dsn: "postgres://u:p1@h/db", host: "h", nested: { api_key: "k1" }, copies: [{ store: "s", token: "t1" }] }, new Set(["dsn"]));
  const same = flatten({ dsn: "postgres://u:p1@h/db", host: "h", nested: { api_key: "k1" }, copies: [{ store: "s", token: "t1" }] }, new Set(["dsn"]));
  expect(diff(before, same)).toEqual({});
  const after = flatten({ dsn: "postgres://u:p2@h/db", host: "h", nested: { api_key: "k2" }, copies: [{ store: "s", token: "t2" }] }, new Set(["dsn"]));
  const text = JSON.stringify(diff(before, after));
  for (const secret of ["p1", "p2", "k1", "k2", "t1", "t2"]) expect(text).not.toContain(secret);
  expect(shown(diff(before, after))).toEqual({
    copies: { from: [{ store: "s", token: AUDIT_REDACTED }], to: [{ store: "s", token: AUDIT_REDACTED }] },
    dsn: { from: AUDIT_REDACTED, to: AUDIT_REDACTED },
    "nested.api_key": { from: AUDIT_REDACTED, to: AUDIT_REDACTED },
  });
});

test("a value still sealed by the catalog is written redacted, even under a harmless name", () => {
  const secrets = new EndpointSecrets(crypto.getRandomValues(new Uint8Array(32)));
  const sealed = JSON.parse(secrets.seal(JSON.stringify({ conn: "hunter2", host: "h" }), new Set(["conn"])));
  expect(sealed.conn).not.toBe("hunter2");
  const text = JSON.stringify(diff(undefined, flatten(sealed)));
  expect(text).toContain(`"conn":{"to":"${AUDIT_REDACTED}"}`);
  expect(text).toContain('"host":{"to":"h"}');
});
