// The RabbitMQ management HTTP API, as the rabbitmq target uses it: one JSON
// request at a time, basic auth in a header (never in the URL or an argument),
// and every failure reported in the broker's own words.
import { PluginError } from "../protocol.ts";

export interface Broker {
  /** The management API's root, without a trailing slash: requests go to `${url}/api/...`. */
  url: string;
  username: string;
  password: string;
  /** Accept any certificate (the original plugin's skip_ssl_validation). */
  insecure: boolean;
}

/**
 * How long one request may take. GET /api/definitions of a large broker takes
 * seconds; a broker that accepted the connection and then hangs must not hold
 * a task forever (a canceled task aborts sooner, through ctx.signal).
 */
const REQUEST_TIMEOUT_MS = 5 * 60_000;

/** A path segment: vhost "/" is "%2F", as the API wants it. */
export const seg = (s: string) => encodeURIComponent(s);

/** The broker answered, and not with success: its status and its own reason. */
export class BrokerRefused extends PluginError {
  constructor(readonly status: number, what: string, words: string) {
    super(`the broker refused ${what}: ${words}`);
  }
}

/**
 * One request; resolves with the response body as text. A status of 300 or more
 * is a BrokerRefused carrying the status line and the broker's {error, reason};
 * a connection that fails or breaks mid-body is a PluginError naming the URL
 * (never the credentials) and the transport's words.
 */
export async function request(
  b: Broker, method: "GET" | "POST" | "PUT", path: string, opts: { body?: string; signal?: AbortSignal } = {},
): Promise<string> {
  const url = `${b.url}${path}`;
  const what = `${method} ${path}`;
  const signal = AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...(opts.signal ? [opts.signal] : [])]);
  const stopped = () => (opts.signal!.reason instanceof Error ? opts.signal!.reason : new PluginError("stopped"));
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`${b.username}:${b.password}`, "utf8").toString("base64")}`,
        accept: "application/json",
        ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: opts.body,
      signal,
      redirect: "manual",
      // Bun's fetch: what the original plugin's InsecureSkipVerify did.
      ...(b.insecure ? { tls: { rejectUnauthorized: false } } : {}),
    } as RequestInit);
  } catch (err) {
    if (opts.signal?.aborted) throw stopped();
    throw new PluginError(`cannot reach the management API at ${b.url} (${what}): ${transportWords(err)}`);
  }
  let text: string;
  try {
    // Read to the end here: a broker that goes away mid-body fails this request,
    // so a truncated answer never passes for a whole one.
    text = await res.text();
  } catch (err) {
    if (opts.signal?.aborted) throw stopped();
    throw new PluginError(`the management API at ${b.url} went away while answering ${what}: ${transportWords(err)}`);
  }
  if (res.status >= 300) throw new BrokerRefused(res.status, what, brokerWords(res, text));
  return text;
}

/** GET and parse; a body that is not JSON is the broker's (or a proxy's) fault, said as such. */
export async function getJSON<T>(b: Broker, path: string, signal?: AbortSignal): Promise<T> {
  const text = await request(b, "GET", path, { signal });
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new PluginError(`GET ${path} at ${b.url} answered something that is not JSON (is rmq_url the management API?): ${text.slice(0, 120)}`);
  }
}

/** "401 Unauthorized: not_authorized: Login failed": the status line, then the broker's own JSON words. */
function brokerWords(res: Response, text: string): string {
  const status = `${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
  if (res.status >= 300 && res.status < 400) return `${status} (redirected to ${res.headers.get("location") ?? "?"}: is rmq_url the management API's root?)`;
  try {
    const j = JSON.parse(text) as { error?: unknown; reason?: unknown };
    const parts = [j.error, j.reason].filter((x) => x !== undefined && x !== "").map((x) => (typeof x === "string" ? x : JSON.stringify(x)));
    if (parts.length) return `${status}: ${parts.join(": ")}`;
  } catch { /* not JSON: a proxy's page, say its first words */ }
  const plain = text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
  return plain ? `${status}: ${plain.slice(0, 200)}` : status;
}

/** Bun's fetch errors carry a code (ConnectionRefused, ECONNRESET, ...) and a sentence. */
function transportWords(err: unknown): string {
  const e = err as { code?: string; name?: string; message?: string };
  if (e?.name === "TimeoutError") return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  const msg = e?.message ?? String(err);
  return e?.code && !msg.includes(e.code) ? `${e.code}: ${msg}` : msg;
}
