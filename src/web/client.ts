// The web UI's only way to the core: the /v1 API, called in-process with the
// signed-in user's credentials. What the API refuses, the page refuses, for the
// same reason and in the same words.
import type { Hono } from "hono";
import type { ApiEnv } from "../api/route.ts";

/** A /v1 answer other than 2xx. `fields` is the API's per-field validation message map. */
export class ApiFailure extends Error {
  constructor(readonly status: number, message: string, readonly fields: Record<string, string> = {}) {
    super(message);
  }
}

export type Sent<T> =
  | { ok: true; status: number; data: T }
  | { ok: false; status: number; error: string; fields: Record<string, string>; retryAfter?: string };

/** Query string from the defined, non-empty values only. */
export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export class ApiClient {
  /** `env` goes with every request to the API: the browser's address, for the sign-in throttle. */
  constructor(private readonly api: Hono, private readonly authorization: string, private readonly env?: ApiEnv) {}

  /** Any answer: the caller decides what a 400 or 409 means on its page. */
  async send<T = unknown>(method: string, path: string, body?: unknown): Promise<Sent<T>> {
    // None for the lab's session (the none auth provider): the API takes no credentials as the lab admin.
    const headers: Record<string, string> = this.authorization ? { authorization: this.authorization } : {};
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await this.api.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }, this.env);
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok) return { ok: true, status: res.status, data: json as T };
    const error = typeof json?.error === "string" ? json.error : `the API answered ${res.status}`;
    const fields = json?.fields && typeof json.fields === "object" ? json.fields : {};
    const retryAfter = res.headers.get("retry-after") ?? undefined;
    return { ok: false, status: res.status, error, fields, ...(retryAfter ? { retryAfter } : {}) };
  }

  /** A read that must succeed: anything else becomes the page's error (see index.ts). */
  async get<T>(path: string): Promise<T> {
    const r = await this.send<T>("GET", path);
    if (!r.ok) throw new ApiFailure(r.status, r.error, r.fields);
    return r.data;
  }

  /** A read that may find nothing (a deleted job named by a task): undefined on 404. */
  async find<T>(path: string): Promise<T | undefined> {
    const r = await this.send<T>("GET", path);
    if (r.ok) return r.data;
    if (r.status === 404) return undefined;
    throw new ApiFailure(r.status, r.error, r.fields);
  }
}
