// The CLI's only way to the core: HTTP requests to /v1. Every failure becomes one
// line that says what went wrong and what to do about it.
import { CliError } from "./errors.ts";
import type { Connection } from "./connection.ts";

const TIMEOUT_MS = 60_000;

export type Query = Record<string, string | number | boolean | undefined>;

/** The core answered with an error status; `fields` names the invalid request fields. */
export class ApiError extends CliError {
  constructor(readonly status: number, message: string, readonly fields?: Record<string, string>) {
    super(message);
  }
}

export class Api {
  constructor(readonly conn: Connection) {}

  get core(): string { return this.conn.core; }

  get<T = any>(path: string, query?: Query): Promise<T> { return this.request<T>("GET", path, undefined, query); }
  post<T = any>(path: string, body?: unknown): Promise<T> { return this.request<T>("POST", path, body); }
  put<T = any>(path: string, body: unknown): Promise<T> { return this.request<T>("PUT", path, body); }
  delete<T = any>(path: string): Promise<T> { return this.request<T>("DELETE", path); }

  /**
   * A streamed answer (an archive download): the Response once its status is 2xx,
   * its body not read. No timeout: the core verifies the whole archive before it
   * answers, which takes as long as the archive is big.
   */
  async stream(path: string): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.conn.token) headers.authorization = `Bearer ${this.conn.token}`;
    let res: Response;
    try {
      res = await fetch(new URL(this.core + path), { headers, redirect: "manual" });
    } catch (err) {
      throw new CliError(`cannot reach the Shield core at ${this.core}: ${reason(err)} (set it with --core, SHIELD_CORE or shield login)`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let said = `HTTP ${res.status}`;
    try {
      const json = JSON.parse(text);
      if (typeof json?.error === "string") said = json.error;
    } catch { /* not JSON: the status says it */ }
    if (res.status === 401 && !this.conn.token) throw new ApiError(401, `not signed in to ${this.core}: run 'shield login', or give a token with SHIELD_TOKEN or --token`);
    throw new ApiError(res.status, said);
  }

  /** With explicit credentials (shield login signs in with a password once, to make a token). */
  async request<T>(method: string, path: string, body?: unknown, query?: Query, authorization?: string): Promise<T> {
    const url = new URL(this.core + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined && v !== false) url.searchParams.set(k, v === true ? "t" : String(v));
    }
    const headers: Record<string, string> = { accept: "application/json" };
    const auth = authorization ?? (this.conn.token ? `Bearer ${this.conn.token}` : undefined);
    if (auth) headers.authorization = auth;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(url, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS), redirect: "manual",
      });
    } catch (err) {
      throw new CliError(`cannot reach the Shield core at ${this.core}: ${reason(err)} (set it with --core, SHIELD_CORE or shield login)`);
    }
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(`${this.core} did not answer like a Shield core (HTTP ${res.status} ${res.headers.get("content-type") ?? "without a content type"} for ${method} ${path}); check --core`);
    }
    if (res.ok) return json as T;
    const said = typeof json?.error === "string" ? json.error : `HTTP ${res.status}`;
    if (res.status === 401) {
      if (authorization) throw new ApiError(401, `the core refused the credentials: ${said}`);
      // "" : a request that carries no credentials on purpose (single sign-on): the refusal is the sign-in's.
      if (authorization === "") throw new ApiError(401, `the sign-in was refused: ${said}`);
      if (!this.conn.token) throw new ApiError(401, `not signed in to ${this.core}: run 'shield login', or give a token with SHIELD_TOKEN or --token`);
      throw new ApiError(401, `the core at ${this.core} refused the token from ${this.conn.tokenSource}: ${said}; run 'shield login' for a new one`);
    }
    // Validation errors name the fields; say them if the message does not already.
    const fields = json?.fields && typeof json.fields === "object" ? (json.fields as Record<string, string>) : undefined;
    const unsaid = Object.entries(fields ?? {}).filter(([, m]) => !said.includes(m)).map(([k, m]) => `${k}: ${m}`);
    throw new ApiError(res.status, unsaid.length ? `${said} (${unsaid.join("; ")})` : said, fields);
  }
}

function reason(err: unknown): string {
  const e = err as { code?: string; name?: string; message?: string };
  if (e?.name === "TimeoutError") return `no answer within ${TIMEOUT_MS / 1000} s`;
  if (e?.code === "ConnectionRefused" || e?.code === "ECONNREFUSED") return "connection refused";
  if (e?.code === "ENOTFOUND" || /resolve|DNS/i.test(e?.message ?? "")) return "the host name does not resolve";
  return e?.message || String(err);
}
