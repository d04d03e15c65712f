// The daemon's front door (src/daemon/http.ts) on a real Bun server, spoken to over
// raw sockets where a fetch() could not send the request (no or a bad Host header):
// a 400, not a 500; nothing but /v1/health before the daemon is ready; and every
// log line one JSON object, whatever fails.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { Hono } from "hono";
import { frontDoor, lastResort } from "../../src/daemon/http.ts";
import { log } from "../../src/log.ts";

/** Sends raw bytes, answers the raw response (the server closes: Connection: close / HTTP/1.0). */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => s.write(text));
    let buf = "";
    s.on("data", (d) => (buf += d));
    s.on("end", () => resolve(buf));
    s.on("error", reject);
    setTimeout(() => { s.destroy(); resolve(buf); }, 3000);
  });
}
const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
const bodyOf = (response: string) => response.slice(response.indexOf("\r\n\r\n") + 4);

describe("the daemon's front door", () => {
  let ready = true;
  let server: ReturnType<typeof Bun.serve>;
  const lines: string[] = [];
  beforeAll(() => {
    log.setSink((l) => lines.push(l));
    const api = new Hono();
    api.get("/v1/health", (c) => c.json({ ok: ready }));
    api.get("/v1/jobs", (c) => c.json([]));
    api.get("/metrics", (c) => c.text("shield_up 1\n"));
    // An app whose failure escapes it (Hono's own onError would catch a thrown Error; a rejected fetch does not).
    const web = { fetch: async (req: Request): Promise<Response> => {
      if (new URL(req.url).pathname === "/boom") throw new Error("line one\nline two");
      return new Response("page");
    } };
    server = Bun.serve({ hostname: "127.0.0.1", port: 0, development: false, fetch: frontDoor({ api, web, ready: () => ready }), error: lastResort });
  });
  afterAll(async () => {
    await server.stop(true);
    log.setSink(() => {});
  });

  test("no usable Host header: 400 JSON saying so, for the API and the web UI alike", async () => {
    for (const path of ["/v1/health", "/v1/jobs", "/"]) {
      for (const head of [`GET ${path} HTTP/1.1\r\nHost:\r\n`, `GET ${path} HTTP/1.1\r\nHost: a b\r\n`, `GET ${path} HTTP/1.0\r\n`]) {
        const res = await raw(server.port!, `${head}Connection: close\r\n\r\n`);
        expect([head, statusOf(res)]).toEqual([head, 400]);
        expect(res.toLowerCase()).toContain("content-type: application/json");
        expect(JSON.parse(bodyOf(res))).toEqual({ error: "the request has no valid Host header; send Host: HOST[:PORT]" });
      }
    }
    // With one, the same request is served.
    expect(statusOf(await raw(server.port!, "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))).toBe(200);
  });

  test("/metrics goes to the API app (Prometheus scrapes it there); /metricsx and the like to the web UI", async () => {
    const url = `http://127.0.0.1:${server.port}`;
    expect(await (await fetch(`${url}/metrics`)).text()).toBe("shield_up 1\n");
    expect(await (await fetch(`${url}/metricsx`)).text()).toBe("page");
  });

  test("before the daemon is ready only /v1/health is answered; the rest is 503 with Retry-After", async () => {
    ready = false;
    try {
      const url = `http://127.0.0.1:${server.port}`;
      expect(await (await fetch(`${url}/v1/health`)).json()).toEqual({ ok: false });
      for (const path of ["/v1/jobs", "/", "/v1/nope"]) {
        const res = await fetch(url + path);
        expect([path, res.status, res.headers.get("retry-after")]).toEqual([path, 503, "1"]);
        expect(await res.json()).toEqual({ error: "shield is starting; try again in a moment" });
      }
    } finally {
      ready = true;
    }
    expect((await fetch(`http://127.0.0.1:${server.port}/v1/jobs`)).status).toBe(200);
  });

  test("a failure that escapes an app: a JSON 500 with an id, logged on one line with the id", async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/boom`);
    expect(res.status).toBe(500);
    const { error } = (await res.json()) as { error: string };
    const id = /^internal error \(id ([0-9a-f-]{36})\); the daemon log has the details$/.exec(error)?.[1];
    expect(id).toBeDefined();
    const logged = lines.map((l) => JSON.parse(l)).find((l) => l.id === id);
    expect(logged).toMatchObject({ level: "error", msg: "unexpected error", path: "/boom", error: "Error: line one\nline two" });
  });

  test("every log line is one JSON object", () => {
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      expect(l).not.toContain("\n");
      expect(() => JSON.parse(l)).not.toThrow();
    }
  });
});
