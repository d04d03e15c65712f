// The e2e tests' client of a running daemon's API: one call (JSON in, status and
// JSON out, as the given user) and one wait for a task to leave pending/running.
// Each e2e file used to carry its own copy of these.
import type { DaemonProcess } from "./daemon.ts";

/** The Authorization header of HTTP basic auth. */
export const basicAuth = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });

export interface ApiOptions {
  /** How long waitTask waits by default. */
  waitMs?: number;
  /** Append the daemon's last stderr to a waitTask timeout (for tests whose failures live there). */
  stderrOnTimeout?: boolean;
}

export interface ApiClient {
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** Polls the task until it is neither pending nor running, and returns it. */
  waitTask(uuid: string, timeoutMs?: number): Promise<any>;
}

export function apiClient(daemon: DaemonProcess, user: string, password: string, opts: ApiOptions = {}): ApiClient {
  const headers = { ...basicAuth(user, password), "content-type": "application/json" };
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(daemon.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as any };
  };
  const waitTask = async (uuid: string, timeoutMs = opts.waitMs ?? 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { json } = await call("GET", `/v1/task/${uuid}`);
      if (!["pending", "running"].includes(json.status)) return json;
      if (Date.now() > deadline) {
        throw new Error(`task still ${json.status}: ${json.log}${opts.stderrOnTimeout ? `\n${daemon.stderr().slice(-3000)}` : ""}`);
      }
      await Bun.sleep(100);
    }
  };
  return { call, waitTask };
}

/**
 * The same, for a file whose tests each start their own daemon: call(d, ...)
 * and waitTask(d, ...) as that user.
 */
export function daemonApi(user: string, password: string, opts: ApiOptions = {}) {
  return {
    call: (d: DaemonProcess, method: string, path: string, body?: unknown) => apiClient(d, user, password, opts).call(method, path, body),
    waitTask: (d: DaemonProcess, uuid: string, timeoutMs?: number) => apiClient(d, user, password, opts).waitTask(uuid, timeoutMs),
  };
}
