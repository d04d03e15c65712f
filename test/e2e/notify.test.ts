// Notifications end to end (issue 16): the compiled daemon, a backup that fails,
// and real receivers: an SMTP server (smtp-server) taking the email with AUTH, an
// HTTP receiver checking the webhook's HMAC-SHA256 signature and the chat
// payload shapes, and a receiver that is down, which gets retries while the task
// is unaffected. Each matching channel gets exactly one message per outcome.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { daemonApi } from "../helpers/api-client.ts";
import { eventually, startHttpReceiver, startSmtp, type HttpReceiver, type SmtpReceiver } from "../helpers/receivers.ts";
import { freePort } from "../helpers/services.ts";

const PASSWORD = "e2e-notify-password";
const SECRET = "hmac-secret-of-the-webhook";
const SMTP_PASSWORD = "smtp-pass-never-shown";

const { call, waitTask } = daemonApi("admin", PASSWORD);

describe("notifications", () => {
  let d: DaemonProcess;
  let hook: HttpReceiver;
  let smtp: SmtpReceiver;
  let dir: string;
  let downPort: number;
  const ids: Record<string, string> = {};
  const publicUrl = "https://shield.example.com/";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shield-e2e-notify-"));
    mkdirSync(join(dir, "store"));
    hook = await startHttpReceiver();
    smtp = await startSmtp({ user: "mailer", password: SMTP_PASSWORD });
    downPort = await freePort(); // nothing listens here
    d = await startShieldDaemon({ args: ["--public-url", publicUrl, "--notify-retry-base", "1s"], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
  });
  afterAll(async () => {
    await d?.stop();
    hook?.stop();
    await smtp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const created = async (path: string, body: unknown) => {
    const r = await call(d, "POST", path, body);
    expect(r.json).toMatchObject({ ok: "created" });
    return r.json.uuid as string;
  };

  test("sets up a job whose backup fails, and channels for it", async () => {
    ids.store = await created("/v1/stores", { name: "disk", plugin: "fs", endpoint: { base_dir: join(dir, "store") } });
    // The files target's directory does not exist: the backup fails with the plugin's one line.
    ids.target = await created("/v1/targets", { name: "uploads", plugin: "files", endpoint: { base_dir: join(dir, "missing") }, agent: "" });
    ids.okTarget = await created("/v1/targets", { name: "present", plugin: "files", endpoint: { base_dir: dir }, agent: "" });
    ids.schedule = await created("/v1/schedules", { name: "daily", when: "daily at 4am" });
    ids.retention = await created("/v1/retention", { name: "week", expires: 604800 });
    const job = { store: ids.store, schedule: ids.schedule, retention: ids.retention, paused: true };
    ids.job = await created("/v1/jobs", { name: "uploads-nightly", target: ids.target, ...job });
    ids.other = await created("/v1/jobs", { name: "other-job", target: ids.okTarget, ...job });

    ids.webhook = await created("/v1/notifications", { name: "hook", kind: "webhook", settings: { url: `${hook.url}/hook`, secret: SECRET } });
    ids.slack = await created("/v1/notifications", { name: "chat", kind: "slack", settings: { url: `${hook.url}/slack/T000/B000/XXXX` } });
    ids.discord = await created("/v1/notifications", { name: "discord", kind: "discord", settings: { url: `${hook.url}/discord` } });
    ids.teams = await created("/v1/notifications", { name: "teams", kind: "teams", settings: { url: `${hook.url}/teams` } });
    ids.email = await created("/v1/notifications", {
      name: "ops-mail", kind: "email",
      settings: { host: "127.0.0.1", port: smtp.port, tls: "none", user: "mailer", password: SMTP_PASSWORD, from: "shield@example.com", to: ["ops@example.com"] },
    });
    // Rules that do not match: another job only.
    ids.elsewhere = await created("/v1/notifications", { name: "elsewhere", kind: "webhook", settings: { url: `${hook.url}/elsewhere` }, jobs: [ids.other] });
    ids.down = await created("/v1/notifications", { name: "down", kind: "webhook", settings: { url: `http://127.0.0.1:${downPort}/hook` } });
    ids.ping = await created("/v1/notifications", { name: "hc", kind: "ping", settings: { url: `${hook.url}/ping/abc` }, jobs: [ids.job] });
  });

  test("settings are validated by kind, with a 400 naming the setting", async () => {
    const bad = await call(d, "POST", "/v1/notifications", { name: "x", kind: "email", settings: { host: "h", from: "nope", to: [], colour: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.json.fields["settings.from"]).toContain("email");
    expect(bad.json.fields["settings.colour"]).toContain("not a setting");
    const kind = await call(d, "POST", "/v1/notifications", { name: "x", kind: "pager", settings: {} });
    expect(kind.status).toBe(400);
    expect(kind.json.error).toContain("kind");
    const event = await call(d, "POST", "/v1/notifications", { name: "x", kind: "slack", settings: { url: "http://a/b" }, events: ["backup.explode"] });
    expect(event.status).toBe(400);
    const job = await call(d, "POST", "/v1/notifications", { name: "x", kind: "slack", settings: { url: "http://a/b" }, jobs: [crypto.randomUUID()] });
    expect(job.status).toBe(400);
    expect((await call(d, "POST", "/v1/notifications", { name: "hook", kind: "slack", settings: { url: "http://a/b" } })).status).toBe(409);
  });

  test("secrets are redacted in answers, and a redacted value sent back keeps the secret", async () => {
    const { json } = await call(d, "GET", `/v1/notification/${ids.email}`);
    expect(json.settings.password).toBe("********");
    expect(json.settings.user).toBe("mailer");
    expect(json.events).toEqual(["backup.failed", "purge.failed", "drill.failed"]);
    const list = await call(d, "GET", "/v1/notifications");
    expect(JSON.stringify(list.json)).not.toContain(SECRET);
    expect(JSON.stringify(list.json)).not.toContain(SMTP_PASSWORD);
    expect(JSON.stringify(list.json)).not.toContain("/slack/T000");
    const hookJson = (await call(d, "GET", `/v1/notification/${ids.webhook}`)).json;
    expect(hookJson.settings).toEqual({ url: "********", secret: "********" });
    const put = await call(d, "PUT", `/v1/notification/${ids.webhook}`, { settings: hookJson.settings });
    expect(put.status).toBe(200);
  });

  test("send a test: delivered to a live receiver (signed), and the failure said for one that is down", async () => {
    const ok = await call(d, "POST", `/v1/notification/${ids.webhook}/test`);
    expect(ok.json).toEqual({ sent: true });
    const got = hook.received.filter((r) => r.path === "/hook");
    expect(got.length).toBe(1);
    expect(got[0]!.headers["x-shield-signature"]).toBe(`sha256=${createHmac("sha256", SECRET).update(got[0]!.body).digest("hex")}`);
    expect(JSON.parse(got[0]!.body).event).toBe("test");
    const down = await call(d, "POST", `/v1/notification/${ids.down}/test`);
    expect(down.json.sent).toBe(false);
    expect(down.json.error).toContain("cannot reach");
    const mail = await call(d, "POST", `/v1/notification/${ids.email}/test`);
    expect(mail.json).toEqual({ sent: true });
    expect(smtp.mails.length).toBe(1);
    hook.received.length = 0;
    smtp.mails.length = 0;
  });

  test("a failed backup: exactly one message per matching channel, each naming job, target, store, error and task link", async () => {
    const started = Date.now();
    const run = await call(d, "POST", `/v1/job/${ids.job}/run`);
    const task = await waitTask(d, run.json.task_uuid);
    // The task is unaffected by the receiver that is down: failed for its own reason, at once.
    expect(task.status).toBe("failed");
    expect(Date.now() - started).toBeLessThan(15_000);
    const link = `https://shield.example.com/tasks/${task.uuid}`;

    await eventually(() => smtp.mails.length >= 1 && ["/hook", "/slack/T000/B000/XXXX", "/discord", "/teams", "/ping/abc/fail"]
      .every((p) => hook.received.some((r) => r.path === p)), 20_000, "every channel's message");
    await Bun.sleep(1500); // room for a duplicate to show up, were there one
    const paths = hook.received.map((r) => r.path).sort();
    expect(paths).toEqual(["/discord", "/hook", "/ping/abc/fail", "/ping/abc/start", "/slack/T000/B000/XXXX", "/teams"]);
    expect(smtp.mails.length).toBe(1);

    const w = hook.received.find((r) => r.path === "/hook")!;
    expect(w.headers["x-shield-signature"]).toBe(`sha256=${createHmac("sha256", SECRET).update(w.body).digest("hex")}`);
    const m = JSON.parse(w.body);
    expect(m).toMatchObject({ event: "backup.failed", job: "uploads-nightly", target: "uploads", store: "disk", task: task.uuid, link });
    // The failure's one line (the health work makes it the plugin's own words).
    expect(m.error).toContain("failed");

    const slack = JSON.parse(hook.received.find((r) => r.path.startsWith("/slack"))!.body);
    expect(slack.text).toContain("uploads-nightly");
    expect(slack.text).toContain(link);
    const discord = JSON.parse(hook.received.find((r) => r.path === "/discord")!.body);
    expect(discord.embeds[0].url).toBe(link);
    const teams = JSON.parse(hook.received.find((r) => r.path === "/teams")!.body);
    expect(teams.attachments[0].contentType).toBe("application/vnd.microsoft.card.adaptive");

    const mail = smtp.mails[0]!;
    expect(mail.user).toBe("mailer");
    expect(mail.to).toEqual(["ops@example.com"]);
    expect(mail.raw).toContain("text/plain");
    expect(mail.raw).toContain("text/html");
    expect(mail.raw).toContain("uploads-nightly");
    expect(mail.raw).toContain(task.uuid);
  });

  test("the receiver that is down gets retries, visible in the deliveries; a delivered one says so", async () => {
    await eventually(async () => {
      const { json } = await call(d, "GET", `/v1/notifications/deliveries?channel=${ids.down}`);
      return json.length === 1 && json[0].attempts >= 3;
    }, 30_000, "three attempts at the receiver that is down");
    const { json } = await call(d, "GET", `/v1/notifications/deliveries?channel=${ids.down}`);
    expect(json[0]).toMatchObject({ status: "pending", event: "backup.failed" });
    expect(json[0].last_error).toContain("cannot reach");
    expect(json[0].next_at).toBeGreaterThan(0);
    const delivered = await call(d, "GET", `/v1/notifications/deliveries?channel=${ids.webhook}`);
    expect(delivered.json.map((x: any) => x.status)).toEqual(["delivered"]);
    expect((await call(d, "GET", `/v1/notifications/deliveries?channel=${ids.elsewhere}`)).json).toEqual([]);
    // The secret never shows in a delivery either.
    expect(JSON.stringify((await call(d, "GET", "/v1/notifications/deliveries")).json)).not.toContain(SECRET);
    expect(d.stderr()).not.toContain(SMTP_PASSWORD);
  });

  test("a successful backup of another job tells no failure-only channel (nor the ping of this job)", async () => {
    hook.received.length = 0;
    const run = await call(d, "POST", `/v1/job/${ids.other}/run`);
    expect((await waitTask(d, run.json.task_uuid)).status).toBe("done");
    await Bun.sleep(1500);
    expect(hook.received.map((r) => r.path)).toEqual([]);
  });

  test("admin only; a deleted channel drops what it was owed", async () => {
    expect((await call(d, "DELETE", `/v1/notification/${ids.down}`)).json).toEqual({ ok: "deleted" });
    expect((await call(d, "GET", `/v1/notifications/deliveries?channel=${ids.down}`)).json).toEqual([]);
    expect((await call(d, "GET", `/v1/notification/${ids.down}`)).status).toBe(404);
    await created("/v1/users", { name: "olga", password: "olga-password-1", role: "operator" });
    const r = await fetch(`${d.url}/v1/notifications`, { headers: { authorization: `Basic ${Buffer.from("olga:olga-password-1").toString("base64")}` } });
    expect(r.status).toBe(403);
  });
});
