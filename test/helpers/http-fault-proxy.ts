// A small HTTP proxy of the test harness that sits between Shield and a real
// server (moto) and breaks chosen requests the ways networks and services break:
// a connection reset in the middle of a request body or of a response body, a
// 500, a 503 SlowDown, a 403, a connection that stalls. Everything else passes
// through untouched. Faults are rules: which requests (a predicate on method and
// URL), what happens, how many times; the proxy records every request it saw.
//
//   const proxy = await startFaultProxy(moto.url);
//   proxy.add({ match: isUploadPart(2), fault: "reset-request", times: 1 });
//   ...store through proxy.url...
//   expect(proxy.fired()).toBe(1);
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export type Fault =
  | "reset-request" // read part of the request body, then drop the connection
  | "reset-response" // pass the request on, send part of the response body, then drop the connection
  | "stall-response" // pass the request on, send part of the response body, then send nothing more
  | "lose-response" // pass the request on (the server acts on it), then drop the connection before answering
  | "500" // answer 500 InternalError
  | "503-slowdown" // answer 503 SlowDown, as S3 does when throttling
  | "403" // answer 403 AccessDenied: a permanent failure
  | "400-invalid-argument" // answer 400 InvalidArgument, as a service does to a header it does not support
  | "drop-checksum-headers" // pass the request on without its x-amz-checksum-* headers, as a service that ignores them
  | "501-not-implemented" // answer 501 NotImplemented, as S3 does to a header that implies functionality it lacks
  | "stall" // take the request and never answer
  | "slow"; // pass the request on after 300 ms (to see how many run at once)

export interface Rule {
  match(req: { method: string; url: string; headers: Record<string, string | string[] | undefined> }): boolean;
  fault: Fault;
  /** How many matching requests to break (default 1); later ones pass. */
  times?: number;
}

export interface SeenRequest { method: string; url: string; fault?: Fault; range?: string; /** x-amz-checksum-crc32, if sent */ crc32?: string }

export interface FaultProxy {
  url: string;
  add(rule: Rule): void;
  /** How many requests were broken so far. */
  fired(): number;
  /** The most requests that were being served at once. */
  maxConcurrent(): number;
  seen: SeenRequest[];
  stop(): Promise<void>;
}

/** Matches UploadPart requests (of part `n`, or any). */
export const isUploadPart = (n?: number) => (r: { method: string; url: string }) => {
  if (r.method !== "PUT") return false;
  const q = new URL(r.url, "http://x").searchParams;
  return q.has("uploadId") && (n === undefined ? q.has("partNumber") : q.get("partNumber") === String(n));
};
const query = (url: string) => new URL(url, "http://x").searchParams;
/** Matches GetObject requests (range or whole; the SDK adds x-id=GetObject). */
export const isGetObject = () => (r: { method: string; url: string }) => {
  const q = query(r.url);
  return r.method === "GET" && (q.get("x-id") === "GetObject" || (q.size === 0 && new URL(r.url, "http://x").pathname.split("/").filter(Boolean).length > 1));
};
/** Matches PutObject requests (not a part). */
export const isPutObject = () => (r: { method: string; url: string }) => r.method === "PUT" && !query(r.url).has("uploadId") && !query(r.url).has("uploads");
/** Matches CreateMultipartUpload requests. */
export const isCreate = () => (r: { method: string; url: string }) => r.method === "POST" && query(r.url).has("uploads");
export const isComplete = () => (r: { method: string; url: string }) => r.method === "POST" && new URL(r.url, "http://x").searchParams.has("uploadId");

const S3_ERRORS: Record<"500" | "503-slowdown" | "403" | "400-invalid-argument" | "501-not-implemented", [number, string, string]> = {
  "400-invalid-argument": [400, "InvalidArgument", "x-amz-checksum-algorithm is not supported"],
  "501-not-implemented": [501, "NotImplemented", "A header you provided implies functionality that is not implemented"],
  "500": [500, "InternalError", "We encountered an internal error. Please try again."],
  "503-slowdown": [503, "SlowDown", "Please reduce your request rate."],
  "403": [403, "AccessDenied", "Access Denied"],
};

/** Bytes of a body let through before a reset or stall: enough to be "in the middle". */
const CUT_AFTER = 256 * 1024;

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const up = new URL(upstream);
  const rules: (Rule & { left: number })[] = [];
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  let fired = 0;
  let active = 0;
  let maxActive = 0;

  const pick = (method: string, url: string, headers: IncomingMessage["headers"]): Fault | undefined => {
    const rule = rules.find((r) => r.left > 0 && r.match({ method, url, headers }));
    if (!rule) return undefined;
    rule.left--;
    fired++;
    return rule.fault;
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const fault = pick(method, url, req.headers);
    seen.push({ method, url, fault, range: req.headers.range, crc32: req.headers["x-amz-checksum-crc32"] as string | undefined });
    const socket = req.socket;
    active++;
    maxActive = Math.max(maxActive, active);
    let counted = true;
    const done = () => { if (counted) { counted = false; active--; } };
    res.on("close", done);
    socket.on("close", done);

    if (fault === "reset-request") {
      let got = 0;
      req.on("data", (d: Buffer) => {
        got += d.length;
        if (got >= CUT_AFTER) socket.destroy();
      });
      req.on("end", () => socket.destroy());
      return;
    }
    if (fault === "stall") {
      req.resume();
      return; // never answered; the socket is closed when the client gives up (or at stop)
    }
    if (fault === "500" || fault === "503-slowdown" || fault === "403" || fault === "400-invalid-argument" || fault === "501-not-implemented") {
      const [status, code, message] = S3_ERRORS[fault];
      req.resume();
      req.on("end", () => {
        const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;
        res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }

    if (fault === "slow") {
      req.pause();
      setTimeout(() => forward(req, res, undefined), 300);
      return;
    }
    forward(req, res, fault);
  });
  const forward = (req: IncomingMessage, res: ServerResponse, fault: Fault | undefined) => {
    const socket = req.socket;
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: up.host };
    if (fault === "drop-checksum-headers") for (const h of Object.keys(headers)) if (/^x-amz-(sdk-)?checksum-/.test(h)) delete headers[h];
    const out = httpRequest({ host: up.hostname, port: up.port, method, path: url, headers }, (upRes) => {
      if (fault === "lose-response") {
        upRes.resume();
        upRes.on("end", () => socket.destroy());
        return;
      }
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      if (fault === "reset-response" || fault === "stall-response") {
        let sent = 0;
        upRes.on("data", (d: Buffer) => {
          if (sent >= CUT_AFTER) return;
          const take = d.subarray(0, Math.min(d.length, CUT_AFTER - sent));
          sent += take.length;
          res.write(take);
          if (sent >= CUT_AFTER) {
            upRes.destroy();
            if (fault === "reset-response") setTimeout(() => socket.destroy(), 50);
          }
        });
        upRes.on("end", () => { if (fault === "reset-response") socket.destroy(); });
        return;
      }
      upRes.pipe(res);
    });
    out.on("error", () => socket.destroy());
    req.pipe(out);
    req.resume();
  };
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    add: (rule) => rules.push({ ...rule, left: rule.times ?? 1 }),
    fired: () => fired,
    maxConcurrent: () => maxActive,
    seen,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
