// The Azure SDK's HTTP client, on Bun's own fetch. The SDK's default client goes
// through node:http, which under Bun holds extra copies of every request body:
// staging 8 MiB blocks four at a time, a store process peaked at twice the
// memory this client needs (measured with a 256 MiB archive; see the README).
// Everything else (signing, XML, error mapping) stays the SDK's.
import { Readable } from "node:stream";

// The SDK's request and response shapes, as much of them as a client touches:
// the storage SDK takes a client of core-http's (v1) kind, WebResourceLike in,
// HttpOperationResponse out (@azure/core-http-compat adapts it).
interface RequestHeaders { rawHeaders(): Record<string, string> }
interface Request {
  url: string;
  method: string;
  headers: RequestHeaders;
  body?: unknown;
  abortSignal?: AbortSignal;
  timeout?: number;
  streamResponseStatusCodes?: Set<number>;
}
interface Response {
  request: Request;
  status: number;
  headers: ResponseHeaders;
  bodyAsText?: string | null;
  readableStreamBody?: NodeJS.ReadableStream;
}

/** Response headers in core-http's HttpHeaders shape: case-insensitive names. */
class ResponseHeaders {
  private readonly map = new Map<string, { name: string; value: string }>();
  constructor(from: globalThis.Headers) { from.forEach((value, name) => this.set(name, value)); }
  get(name: string) { return this.map.get(name.toLowerCase())?.value; }
  contains(name: string) { return this.map.has(name.toLowerCase()); }
  set(name: string, value: string | number | boolean) { this.map.set(name.toLowerCase(), { name, value: String(value) }); }
  remove(name: string) { return this.map.delete(name.toLowerCase()); }
  rawHeaders() { return this.toJson({ preserveCase: true }); }
  headersArray() { return [...this.map.values()]; }
  headerNames() { return [...this.map.values()].map((h) => h.name); }
  headerValues() { return [...this.map.values()].map((h) => h.value); }
  toJson(options: { preserveCase?: boolean } = {}) {
    const out: Record<string, string> = {};
    for (const [key, { name, value }] of this.map) out[options.preserveCase ? name : key] = value;
    return out;
  }
}

type FetchBody = string | ArrayBuffer | ArrayBufferView | Blob | ReadableStream<Uint8Array> | null;

/** Bodies larger than this go out as a stream of views into the caller's buffer. */
const STREAM_OVER = 1024 * 1024;
const SLICE = 256 * 1024;

/**
 * A buffer as a stream of views into it: fetch given the buffer itself copies it
 * whole for the life of the request (measured: +50 MiB with four 8 MiB blocks in
 * flight; as views, +10 MiB). With a Content-Length header, fetch sends it as a
 * plain body, not a chunked one (which Put Block refuses).
 */
function views(buf: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= buf.byteLength) return c.close();
      c.enqueue(buf.subarray(at, Math.min(at + SLICE, buf.byteLength)));
      at += SLICE;
    },
  }, { highWaterMark: 0 });
}

function body(raw: unknown, headers: Record<string, string>): FetchBody {
  let b = typeof raw === "function" ? (raw as () => unknown)() : raw;
  if (b === undefined || b === null) return null;
  // A Node stream (the SDK's uploadStream and the like; this store sends buffers).
  if (typeof (b as { pipe?: unknown }).pipe === "function") b = Readable.toWeb(b as Readable);
  if (b instanceof Uint8Array && b.byteLength > STREAM_OVER) {
    for (const h of Object.keys(headers)) if (h.toLowerCase() === "content-length") delete headers[h];
    headers["content-length"] = String(b.byteLength);
    return views(b);
  }
  return b as FetchBody;
}

export class FetchHttpClient {
  async sendRequest(request: Request): Promise<Response> {
    const headers = request.headers.rawHeaders();
    const signals = [request.abortSignal, request.timeout ? AbortSignal.timeout(request.timeout) : undefined].filter((s): s is AbortSignal => s !== undefined);
    const payload = body(request.body, headers);
    const res = await fetch(request.url, {
      method: request.method,
      headers,
      body: payload,
      signal: signals.length ? AbortSignal.any(signals) : undefined,
      // Never follow a redirect with the request's signed headers; never decode what the blob holds.
      redirect: "manual",
      decompress: false,
      ...(payload instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit);
    const response: Response = { request, status: res.status, headers: new ResponseHeaders(res.headers) };
    const streamed = request.streamResponseStatusCodes?.has(res.status) || request.streamResponseStatusCodes?.has(Number.POSITIVE_INFINITY);
    if (streamed && res.body) {
      response.readableStreamBody = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
    } else if (request.method === "HEAD") {
      await res.body?.cancel();
    } else {
      response.bodyAsText = await res.text();
    }
    return response;
  }
}
