// The daemon's watch end to end (issue 16): the compiled daemon with --watch-every 1s,
// a target on an agent where nothing listens, and a real HTTP receiver. The agent is
// told of once, however many checks pass, through the notifier's deliveries (listed
// in GET /v1/notifications/deliveries); /metrics shows it down (shield_agent_up 0),
// from the same probe; a channel whose rules do not name the event hears nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { daemonApi } from "../helpers/api-client.ts";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { parsePrometheus } from "../helpers/promtext.ts";
import { eventually, startHttpReceiver, type HttpReceiver } from "../helpers/receivers.ts";
import { freePort } from "../helpers/services.ts";

const PASSWORD = "e2e-watch-password";
const { call } = daemonApi("admin", PASSWORD);

describe("the daemon's watch", () => {
  let d: DaemonProcess;
  let hook: HttpReceiver;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shield-e2e-watch-"));
    hook = await startHttpReceiver();
    d = await startShieldDaemon({ args: ["--watch-every", "1s", "--metrics-public", "--public-url", "https://shield.example.com"], env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
  });
  afterAll(async () => {
    await d?.stop();
    hook?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("an agent that does not answer: one agent.unreachable per episode, and shield_agent_up 0", async () => {
    const created = async (path: string, body: unknown) => {
      const r = await call(d, "POST", path, body);
      expect(r.json).toMatchObject({ ok: "created" });
      return r.json.uuid as string;
    };
    const watching = await created("/v1/notifications", { name: "watching", kind: "webhook", settings: { url: `${hook.url}/watching` }, events: ["agent.unreachable", "job.overdue"] });
    await created("/v1/notifications", { name: "failures", kind: "webhook", settings: { url: `${hook.url}/failures` } });
    const agent = `127.0.0.1:${await freePort()}`;
    await created("/v1/targets", { name: "remote", plugin: "files", endpoint: { base_dir: dir }, agent });

    await eventually(() => hook.received.some((r) => r.path === "/watching"), 15_000, "the agent's message");
    // Several checks later, still the one message.
    await Bun.sleep(3000);
    const told = hook.received.filter((r) => r.path === "/watching").map((r) => JSON.parse(r.body));
    expect(told.length).toBe(1);
    expect(told[0]).toMatchObject({ event: "agent.unreachable", agent, title: `Agent unreachable: agent ${agent}`, details: { Targets: "remote" } });
    expect(hook.received.some((r) => r.path === "/failures")).toBe(false);
    const { json } = await call(d, "GET", `/v1/notifications/deliveries?channel=${watching}`);
    expect(json).toMatchObject([{ event: "agent.unreachable", status: "delivered", task_uuid: null }]);

    const m = parsePrometheus(await (await fetch(`${d.url}/metrics`)).text());
    expect(m.get("shield_agent_up")!.samples).toEqual([expect.objectContaining({ labels: { agent }, value: 0 })]);
  });
});
