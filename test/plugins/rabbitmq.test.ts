// The rabbitmq target against private RabbitMQ nodes of the test harness, run as
// `shield plugin rabbitmq ...` subprocesses with the endpoint in SHIELD_ENDPOINT
// (and once as a shell pipe through the compiled binary): a seeded broker is backed
// up and restored into a fresh node, whole and one vhost at a time, and the check
// after a restore, a wrong password, a truncated answer and a dead broker fail.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { ensureBinary } from "../helpers/daemon.ts";
import { rabbitAvailable, startNode, type RabbitNode } from "../helpers/rabbitmq.ts";
import { VHOSTS, definitionsOf, messagesIn, seededRabbit } from "../helpers/rabbitmq-fixture.ts";
import { freePort } from "../helpers/services.ts";

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");

interface Run { code: number; stdout: string; stderr: string }

async function rmq(action: string, endpoint: object, stdin?: string): Promise<Run> {
  const proc = Bun.spawn([process.execPath, MAIN, "plugin", "rabbitmq", action], {
    cwd: ROOT, env: { ...process.env, SHIELD_ENDPOINT: JSON.stringify(endpoint) },
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/**
 * A TCP relay in front of a node's management port that passes `limit` bytes of
 * each answer and then cuts both connections: a broker that goes away mid-answer.
 */
async function cuttingProxy(port: number, limit: number) {
  const listenPort = await freePort();
  const server = Bun.listen<{ upstream?: Awaited<ReturnType<typeof Bun.connect>>; sent: number; pending: Uint8Array[] }>({
    hostname: "127.0.0.1", port: listenPort,
    socket: {
      async open(client) {
        client.data = { sent: 0, pending: [] };
        client.data.upstream = await Bun.connect({
          hostname: "127.0.0.1", port,
          socket: {
            data(_up, chunk) {
              const room = limit - client.data.sent;
              if (room > 0) client.write(chunk.subarray(0, room));
              client.data.sent += chunk.byteLength;
              if (client.data.sent >= limit) { client.end(); _up.end(); }
            },
            close() { client.end(); },
          },
        });
        for (const c of client.data.pending) client.data.upstream.write(c);
      },
      data(client, chunk) {
        if (client.data.upstream) client.data.upstream.write(chunk);
        else client.data.pending.push(new Uint8Array(chunk));
      },
      close(client) { client.data.upstream?.end(); },
    },
  });
  return { url: `http://127.0.0.1:${listenPort}`, stop: () => server.stop(true) };
}

describe.skipIf(!rabbitAvailable)("rabbitmq target", () => {
  let src: RabbitNode;
  let fresh: RabbitNode;
  let archive: string;

  beforeAll(async () => {
    // The shared node and an empty one to restore into, started side by side.
    [src, fresh] = await Promise.all([seededRabbit(), startNode()]);
  }, 120_000);
  afterAll(async () => { await fresh?.stop(); });

  test("validate checks keys and types without connecting; the password is never printed", async () => {
    const ok = await rmq("validate", { rmq_url: "https://rabbit.invalid:15672/", rmq_username: "admin", rmq_password: "s3cret-pw", skip_ssl_validation: "true" });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("rmq_url: https://rabbit.invalid:15672\n");
    expect(ok.stdout).toContain("rmq_password: (set)");
    expect(ok.stdout).toContain("skip_ssl_validation: yes, the certificate will NOT be validated");
    expect(ok.stdout).toContain("messages: not backed up");
    expect(ok.stdout + ok.stderr).not.toContain("s3cret-pw");
    const base = { rmq_url: "http://127.0.0.1:1", rmq_username: "u", rmq_password: "p" };
    expect((await rmq("validate", { ...base, skip_ssl_validation: false })).stdout).toContain("no, the certificate will be validated");
    expect((await rmq("validate", { ...base, skip_ssl_validation: true })).stdout).toContain("NOT be validated");
    expect((await rmq("validate", { ...base, skip_ssl_validation: "false" })).stdout).toContain("no, the certificate will be validated");

    const missing = await rmq("validate", { rmq_username: "u", rmq_password: "p" });
    expect(missing.code).toBe(12);
    expect(missing.stderr.trim()).toBe(`rabbitmq: the endpoint lacks "rmq_url", which is required`);
    expect((await rmq("validate", { ...base, rmq_password: "" })).code).toBe(12);
    expect((await rmq("validate", { rmq_url: base.rmq_url, rmq_password: "p" })).code).toBe(12);

    const invalid = async (endpoint: object, words: string) => {
      const r = await rmq("validate", endpoint);
      expect(r.code).toBe(13);
      expect(r.stderr).toContain(words);
    };
    await invalid({ ...base, rmq_url: "ftp://rabbit:15672" }, `endpoint "rmq_url" must be an http or https URL, not ftp`);
    await invalid({ ...base, rmq_url: "rabbit:15672" }, `endpoint "rmq_url" must be an http or https URL`);
    await invalid({ ...base, rmq_url: "not a url" }, `endpoint "rmq_url" must be the http(s) URL of the management API`);
    await invalid({ ...base, rmq_url: "http://admin:pw@rabbit:15672" }, "may not hold a user or password");
    await invalid({ ...base, skip_ssl_validation: "maybe" }, `endpoint "skip_ssl_validation" must be true or false`);
    await invalid({ ...base, rmq_vhost: ["a"] }, `endpoint "rmq_vhost" must be a string`);
    await invalid({ ...base, rmq_messages: "shovel" }, `endpoint "rmq_messages" "shovel" is not offered`);
    await invalid({ ...base, rmq_messages: "all" }, `endpoint "rmq_messages" must be absent or "none"`);
  });

  test("info says what is backed up and that messages are not", async () => {
    const r = await rmq("info", {});
    const info = JSON.parse(r.stdout);
    expect(info.fields.map((f: any) => `${f.name}:${f.type}:${f.required}`)).toEqual([
      "rmq_url:string:true", "rmq_username:string:true", "rmq_password:password:true", "skip_ssl_validation:bool:false", "rmq_vhost:string:false",
    ]);
    expect(info.fields[0].help).toContain("Messages are not definitions: the messages in the queues are not backed up");
  });

  test("test reports the version and the administrator tag; a user without it fails", async () => {
    const r = await rmq("test", src.endpoint({ rmq_vhost: "nope" }));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ok: connected to ${src.url} as ${src.username}: RabbitMQ 3.`);
    expect(r.stdout).toContain("the user has the administrator tag");
    expect(r.stdout).toContain(`vhost "nope" does not exist yet`);
    const monitoring = await rmq("test", { rmq_url: src.url, rmq_username: "app-writer", rmq_password: "writer-pass" });
    expect(monitoring.code).toBe(4);
    expect(monitoring.stderr).toContain("but the user lacks the administrator tag that exporting and importing definitions needs (its tags: monitoring)");
  });

  test("https with a self-signed certificate: refused unless skip_ssl_validation", async () => {
    const checked = await rmq("test", src.endpoint({ rmq_url: src.httpsUrl }));
    expect(checked.code).toBe(4);
    expect(checked.stderr).toContain(`rabbitmq: cannot reach the management API at ${src.httpsUrl} (GET /api/overview)`);
    expect(checked.stderr).toMatch(/self[- ]signed/i);
    for (const skip of [true, "true"]) {
      const skipped = await rmq("test", src.endpoint({ rmq_url: src.httpsUrl, skip_ssl_validation: skip }));
      expect(skipped.stdout).toContain(`ok: connected to ${src.httpsUrl} as ${src.username}`);
      expect(skipped.code).toBe(0);
    }
    const backup = await rmq("backup", src.endpoint({ rmq_url: src.httpsUrl, skip_ssl_validation: "true" }));
    expect(backup.code).toBe(0);
    expect(JSON.parse(backup.stdout).queues.length).toBeGreaterThan(0);
  });

  test("a wrong password fails with the broker's words, no output", async () => {
    for (const action of ["test", "backup"]) {
      const r = await rmq(action, src.endpoint({ rmq_password: "wrong-password" }));
      expect(r.code).toBe(4);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain("401 Unauthorized: not_authorized: Login failed");
      expect(r.stderr).not.toContain("wrong-password");
    }
    const restore = await rmq("restore", src.endpoint({ rmq_password: "wrong-password" }), JSON.stringify({ vhosts: [], queues: [] }));
    expect(restore.code).toBe(4);
    expect(restore.stderr).toContain("the broker refused POST /api/definitions: 401 Unauthorized: not_authorized: Login failed");
  });

  test("backup is the broker's definitions JSON on stdout, diagnostics on stderr", async () => {
    const r = await rmq("backup", src.endpoint());
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.vhosts.map((x: any) => x.name).sort()).toEqual(["/", ...VHOSTS].sort());
    expect(d.users.find((u: any) => u.name === "app-writer")).toMatchObject({ tags: ["monitoring"], hashing_algorithm: "rabbit_password_hashing_sha256" });
    expect(d.users.find((u: any) => u.name === "app-writer").password_hash).toMatch(/^[A-Za-z0-9+/=]{20,}$/);
    expect(d.queues.find((q: any) => q.name === "payments").arguments["x-queue-type"]).toBe("quorum");
    expect(d.bindings).toHaveLength(8);
    expect(r.stderr).toContain("rabbitmq: exported 3 users, 3 vhosts");
    expect(r.stderr).toContain("messages are not backed up");
    archive = r.stdout;
  });

  test("restore into a fresh node: every definition matches; messages are not restored; the node's admin keeps its password", async () => {
    expect(await messagesIn(src, "shield-app", "orders", 3)).toBe(3);
    const r = await rmq("restore", fresh.endpoint(), archive);
    expect(r.stderr).toContain(`user "${fresh.username}" (this endpoint's) keeps its current password`);
    expect(r.stderr).toContain("checked: every queue, exchange and binding of the archive is on the broker");
    expect(r.code).toBe(0);
    expect(await definitionsOf(fresh)).toEqual(await definitionsOf(src));
    // The users' password hashes came along: they log in on the new node with their old passwords.
    const writer = await fetch(`${fresh.url}/api/whoami`, { headers: { authorization: `Basic ${btoa("app-writer:writer-pass")}` } });
    expect(await writer.json()).toEqual({ name: "app-writer", tags: ["monitoring"] });
    expect(await messagesIn(fresh, "shield-app", "orders", 0)).toBe(0);
    const [a, b] = [await src.api("GET", "/api/global-parameters/internal_cluster_id"), await fresh.api("GET", "/api/global-parameters/internal_cluster_id")];
    expect(b.value).not.toBe(a.value);
    // Restoring again changes nothing and passes the check again.
    const again = await rmq("restore", fresh.endpoint(), archive);
    expect(again.code).toBe(0);
    expect(await definitionsOf(fresh)).toEqual(await definitionsOf(src));
  }, 60_000);

  test("a restore in place puts back what was deleted; a queue of another type fails the check, naming it", async () => {
    await src.api("DELETE", "/api/queues/shield-app/payments");
    await src.api("DELETE", "/api/exchanges/shield-app/by-headers");
    await src.api("PUT", "/api/queues/shield-app/payments", { durable: true, auto_delete: false, arguments: {} });
    const wrong = await rmq("restore", src.endpoint(), archive);
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toContain(`the broker took the import but does not hold what the archive does: queue "payments" in vhost "shield-app" is classic, durable on the broker, quorum, durable in the archive`);
    // The exchange came back, and its binding with it.
    expect(wrong.stderr).not.toContain("by-headers");
    await src.api("DELETE", "/api/queues/shield-app/payments");
    const right = await rmq("restore", src.endpoint(), archive);
    expect(right.code).toBe(0);
    const d = JSON.parse((await rmq("backup", src.endpoint())).stdout);
    expect(d.queues.find((q: any) => q.name === "payments").arguments["x-queue-type"]).toBe("quorum");
    expect(d.bindings).toHaveLength(8);
  }, 60_000);

  test("one vhost: backed up alone, restored into another vhost (created), or picked out of a whole-broker archive", async () => {
    const one = await rmq("backup", src.endpoint({ rmq_vhost: "team/b" }));
    expect(one.code).toBe(0);
    const d = JSON.parse(one.stdout);
    expect(d.vhosts).toBeUndefined();
    expect(d.queues.map((q: any) => q.name).sort()).toEqual(["audit", "events"]);

    const into = await rmq("restore", fresh.endpoint({ rmq_vhost: "team/b copy" }), one.stdout);
    expect(into.stderr).toContain(`created vhost "team/b copy"`);
    expect(into.code).toBe(0);
    const copy = await definitionsOf(fresh, "team/b copy");
    expect(copy).toEqual(await definitionsOf(src, "team/b"));
    expect(copy.queues).toHaveLength(2);

    // A whole-broker archive restores only the endpoint's vhost.
    const node = await fresh.api("GET", "/api/definitions");
    await fresh.api("DELETE", `/api/vhosts/${encodeURIComponent("team/b")}`);
    const picked = await rmq("restore", fresh.endpoint({ rmq_vhost: "team/b" }), archive);
    expect(picked.code).toBe(0);
    expect(await definitionsOf(fresh, "team/b")).toEqual(await definitionsOf(src, "team/b"));
    expect((await fresh.api("GET", "/api/definitions")).queues.length).toBe(node.queues.length);

    const absent = await rmq("restore", fresh.endpoint({ rmq_vhost: "elsewhere" }), archive);
    expect(absent.code).toBe(4);
    expect(absent.stderr).toContain(`the archive holds no vhost "elsewhere" (it holds "/", "shield-app", "team/b")`);
    const unnamed = await rmq("restore", fresh.endpoint(), one.stdout);
    expect(unnamed.code).toBe(4);
    expect(unnamed.stderr).toContain("this archive holds one vhost's definitions: set rmq_vhost to the vhost to restore it into");
    const unknown = await rmq("backup", src.endpoint({ rmq_vhost: "nope" }));
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain("the broker refused GET /api/definitions/nope: 400 Bad Request: bad_request: vhost_not_found");
  }, 60_000);

  test("input that is not whole definitions is refused before the broker is touched", async () => {
    const before = await definitionsOf(fresh);
    const cases: [string, string][] = [
      ["", "nothing to restore: the input is empty"],
      [archive.slice(0, Math.floor(archive.length / 2)), "the input is not RabbitMQ definitions: not JSON"],
      ["[1,2]", "not a JSON object"],
      [`{"hello":"world"}`, "it has none of users, vhosts"],
      [`{"queues":"x","vhosts":[]}`, `"queues" is not a list of objects`],
    ];
    for (const [input, words] of cases) {
      const r = await rmq("restore", fresh.endpoint(), input);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(words);
    }
    expect(await definitionsOf(fresh)).toEqual(before);
  });

  test("the broker's own refusal of an import is reported in its words", async () => {
    const r = await rmq("restore", fresh.endpoint(), JSON.stringify({ vhosts: [], queues: [{ name: "q", vhost: "no-such-vhost", durable: true, auto_delete: false, arguments: {} }] }));
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`the broker refused POST /api/definitions: 400 Bad Request: bad_request: ["no_such_vhost","no-such-vhost"]`);
  });

  test("an answer cut short mid-body is a failed backup with nothing on stdout", async () => {
    const proxy = await cuttingProxy(Number(new URL(src.url).port), 700);
    try {
      const r = await rmq("backup", src.endpoint({ rmq_url: proxy.url }));
      expect(r.code).toBe(4);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`rabbitmq: the management API at ${proxy.url} went away while answering GET /api/definitions: ECONNRESET`);
    } finally {
      proxy.stop();
    }
  });

  test("through the compiled binary: shield plugin rabbitmq backup | shield plugin rabbitmq restore", () => {
    const bin = ensureBinary();
    // Each side has its own endpoint in its own environment: no credentials in any argument.
    const r = spawnSync("sh", ["-c", `SHIELD_ENDPOINT="$SRC" "$BIN" plugin rabbitmq backup | SHIELD_ENDPOINT="$DST" "$BIN" plugin rabbitmq restore`], {
      env: { ...process.env, BIN: bin, SRC: JSON.stringify(src.endpoint({ rmq_vhost: "shield-app" })), DST: JSON.stringify(fresh.endpoint({ rmq_vhost: "piped" })) },
      encoding: "utf8",
    });
    expect(r.stderr).toContain("checked: every queue, exchange and binding");
    expect(r.status).toBe(0);
    return definitionsOf(fresh, "piped").then(async (d) => expect(d).toEqual(await definitionsOf(src, "shield-app")));
  }, 60_000);

  test("a broker that has gone away: the words of the failed connection, exit 4, no output", async () => {
    await fresh.kill();
    for (const action of ["backup", "test"]) {
      const r = await rmq(action, fresh.endpoint());
      expect(r.code).toBe(4);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`rabbitmq: cannot reach the management API at ${fresh.url}`);
      expect(r.stderr).toMatch(/ConnectionRefused|Unable to connect|ECONNREFUSED/);
    }
  });
});
