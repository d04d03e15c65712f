// The AWS SDK's HTTP requests over Bun's own fetch, not over node:http.
//
// Why (bench/S3.md, "The gap found"): under Bun, the SDK's NodeHttpHandler goes
// through Bun's node:http emulation, which is itself built on fetch, plus the
// SDK's `Expect: 100-continue` dance and a non-keep-alive agent for every part.
// Measured on 1 GiB into moto, the store spent ~1.2 s more CPU per GiB that way,
// moto itself more too, and uploaded markedly slower than with fetch directly.
//
// Contract (what the SDK's RequestHandler needs, what the stores rely on):
// - a body (Buffer, Uint8Array, string or stream) is sent as given, once per
//   attempt; retries are the caller's (plugins/s3/retry.ts), never this handler's;
// - `abortSignal` (the attempt's deadline or the action being stopped) ends the
//   request at once, body included;
// - the response body is a Node Readable, as with NodeHttpHandler, so a reader can
//   destroy() it (download.ts drops a stalled connection that way);
// - TLS: `ca` (PEM) and `rejectUnauthorized` are Bun's fetch `tls` options; an
//   HTTP proxy, when given, is fetch's `proxy`.
import { Readable } from "node:stream";
// The SDK's own query encoding and response type (what its NodeHttpHandler uses too).
import { buildQueryString, HttpResponse } from "@smithy/core/protocols";
import type { HttpHandlerOptions } from "@smithy/types";

type FetchBody = NonNullable<RequestInit["body"]>;

interface SdkRequest {
  protocol: string;
  hostname: string;
  port?: number;
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  fragment?: string;
  username?: string;
  password?: string;
  headers: Record<string, string>;
  body?: unknown;
}

export interface FetchHandlerOptions {
  tls?: { ca?: string; rejectUnauthorized?: boolean };
  proxy?: string;
}

/** The body as fetch takes it: bytes as they are (no copy), a Node stream as a web stream. */
function fetchBody(body: unknown): FetchBody | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string" || body instanceof Uint8Array || body instanceof ReadableStream) return body as FetchBody;
  if (body instanceof Readable) return Readable.toWeb(body) as unknown as FetchBody;
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  return body as FetchBody;
}

export class FetchRequestHandler {
  readonly metadata = { handlerProtocol: "http/1.1" };
  constructor(private readonly options: FetchHandlerOptions = {}) {}

  async handle(request: SdkRequest, options: HttpHandlerOptions = {}) {
    // The SDK's own AbortSignal type is a structural subset of the DOM's; the signal passed is a real one.
    const abortSignal = options.abortSignal as AbortSignal | undefined;
    if (abortSignal?.aborted) throw abortError(abortSignal);
    const q = request.query ? buildQueryString(request.query as never) : "";
    const auth = request.username || request.password ? `${encodeURIComponent(request.username ?? "")}:${encodeURIComponent(request.password ?? "")}@` : "";
    const url = `${request.protocol}//${auth}${request.hostname}${request.port ? `:${request.port}` : ""}${request.path}${q ? `?${q}` : ""}${request.fragment ? `#${request.fragment}` : ""}`;
    const method = request.method.toUpperCase();
    const body = method === "GET" || method === "HEAD" ? undefined : fetchBody(request.body);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: request.headers,
        body,
        signal: abortSignal,
        // The SDK reads raw bytes and checks lengths itself: no transparent gunzip.
        decompress: false,
        ...(this.options.tls ? { tls: this.options.tls } : {}),
        ...(this.options.proxy ? { proxy: this.options.proxy } : {}),
      } as RequestInit);
    } catch (err) {
      if (abortSignal?.aborted) throw abortError(abortSignal);
      throw err;
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => { headers[name] = value; });
    return {
      response: new HttpResponse({
        statusCode: res.status,
        reason: res.statusText,
        headers,
        body: res.body ? Readable.fromWeb(res.body as never) : Readable.from([]),
      }),
    };
  }

  updateHttpClientConfig(): void {}
  httpHandlerConfigs() { return {}; }
  destroy(): void {}
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  const err = new Error(reason instanceof Error ? reason.message : "Request aborted");
  err.name = "AbortError";
  return err;
}
