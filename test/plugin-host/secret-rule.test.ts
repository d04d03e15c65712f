// One rule decides which endpoint values are secret (src/secret-names.ts): the
// plugin's password fields, then the name rule. Every place that hides secrets
// judges by it and so agrees: the API's viewer redaction, the web UI's endpoint
// view, the CLI's readable output and the task log's masking. (They used to
// differ: the task log and CLI hid access_key_id, the API showed it; the web UI
// hid key_id; none but the API hid db_pwd or sshKey.)
import { describe, expect, test } from "bun:test";
import { isSecretField, looksSecret, passwordFields, secretKeys } from "../../src/secret-names.ts";
import { REDACTED, redactEndpoint } from "../../src/api/redact.ts";
import { endpointView, pluginView } from "../../src/web/endpoints.ts";
import { isSecretField as cliIsSecret, maskEndpoint } from "../../src/cli/output.ts";
import { secretsOf } from "../../src/supervisor/tasklog.ts";

const INFO = {
  name: "demo", features: { target: "yes", store: "no" },
  fields: [
    { name: "dsn", type: "password", title: "DSN", help: "", required: false },
    { name: "host", type: "string", title: "Host", help: "", required: true },
    { mode: "target", name: "opaque", type: "password" },
    { name: 7, type: "password" }, null, "junk",
  ],
};

describe("the rule", () => {
  test("a declared password field is secret whatever its name; any key named like a secret is, declared or not", () => {
    expect(isSecretField({ type: "password" }, "dsn")).toBe(true);
    expect(isSecretField({ type: "string" }, "host")).toBe(false);
    expect(isSecretField({ type: "string" }, "secret_access_key")).toBe(true);
    expect(isSecretField(undefined, "api_token")).toBe(true);
    expect(isSecretField(undefined, "access_key_id")).toBe(false);
  });

  test("passwordFields trusts only well-formed declarations", () => {
    expect([...passwordFields(INFO)].sort()).toEqual(["dsn", "opaque"]);
    expect(passwordFields(undefined).size).toBe(0);
    expect(passwordFields({ fields: "nonsense" }).size).toBe(0);
  });

  test("secretKeys names the top-level keys that are or hold secrets", () => {
    const endpoint = { dsn: "postgres://u:p@h/db", host: "db1", nested: { inner: { client_secret: "x" } }, list: [{ token: "t" }], access_key_id: "AKIA" };
    expect(secretKeys(INFO, endpoint).sort()).toEqual(["dsn", "list", "nested"]);
    // Without the plugin's info, the name rule alone: dsn is just a name.
    expect(secretKeys(undefined, endpoint).sort()).toEqual(["list", "nested"]);
  });
});

describe("every place that hides secrets agrees with it", () => {
  const KEYS = ["pg_password", "secret_access_key", "access_key_id", "key_id", "db_pwd", "sshKey", "api_key", "bucket", "token", "keyspace", "aws_access_key"];
  const endpoint = Object.fromEntries(KEYS.map((k, i) => [k, `value-${i}-of-${k}`]));
  const json = JSON.stringify(endpoint);
  const expected = KEYS.filter((k) => looksSecret(k));

  test("(the rule's own verdict, for the record)", () => {
    expect(expected).toEqual(["pg_password", "secret_access_key", "db_pwd", "sshKey", "api_key", "token", "aws_access_key"]);
  });

  test("the API's viewer redaction", () => {
    const out = JSON.parse(redactEndpoint(json, new Set()));
    expect(KEYS.filter((k) => out[k] === REDACTED)).toEqual(expected);
  });

  test("the web UI's endpoint view (a plugin that declares no fields)", () => {
    const view = endpointView(pluginView({ name: "x", info: { features: { target: "yes" } } }), "x", json);
    expect(view.lines.filter((l) => l.secret).map((l) => l.name)).toEqual(expected);
    expect(view.lines.filter((l) => l.secret).every((l) => l.value === "set")).toBe(true);
  });

  test("the CLI's readable output", () => {
    expect(KEYS.filter((k) => cliIsSecret(k))).toEqual(expected);
    const out = JSON.parse(maskEndpoint(json));
    expect(KEYS.filter((k) => out[k] === "***")).toEqual(expected);
  });

  test("the task log's masking", () => {
    const masked = new Set(secretsOf(json));
    expect(KEYS.filter((k) => masked.has(endpoint[k]!))).toEqual(expected);
  });

  test("a declared password field, named like nothing secret, is hidden by the API and the web UI alike", () => {
    const ep = JSON.stringify({ dsn: "postgres://u:p@h/db", host: "db1" });
    expect(JSON.parse(redactEndpoint(ep, passwordFields(INFO)))).toEqual({ dsn: REDACTED, host: "db1" });
    const view = endpointView(pluginView({ name: "demo", info: INFO }), "demo", ep);
    expect(view.lines.filter((l) => l.secret).map((l) => l.name)).toEqual(["dsn", "opaque"]);
    expect(view.lines.find((l) => l.name === "host")?.value).toBe("db1");
  });
});
