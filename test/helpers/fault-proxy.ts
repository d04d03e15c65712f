// A small TCP proxy between a client under test and a real HTTP server, that
// breaks chosen requests the way networks and services do: it resets the
// connection part way through a request's body or a response, or answers with
// an error status in the server's stead. Each fault fires a given number of
// times, then the proxy passes everything through unchanged; `hits` counts them.
//
// It parses just enough HTTP/1.1 (request heads and Content-Length bodies) to
// know where one request on a kept-alive connection ends and the next begins;
// a chunked request body switches that connection to plain relaying.
import { createServer, connect, type Server, type Socket } from "node:net";

export interface ProxiedRequest { method: string; url: string; headers: Record<string, string> }

export type Fault =
  /** Forward the head and this many body bytes, then reset both connections. */
  | { resetAfterRequestBytes: number }
  /** Forward the request, then reset the client's connection after this many response bytes. */
  | { resetAfterResponseBytes: number }
  /** Do not forward: answer with this status (and an Azure/S3-like XML error body), closing the connection. */
  | { status: number; code?: string; message?: string };

export interface FaultRule {
  match(req: ProxiedRequest): boolean;
  fault: Fault;
  /** How many matching requests it breaks (default 1). */
  times?: number;
  /** How many it has broken so far. */
  hits?: number;
}

export interface FaultProxy {
  port: number;
  /** Adds a rule; returns it, to read its hits later. */
  add(rule: FaultRule): FaultRule;
  clear(): void;
  /** The requests seen, in order ("PUT /devstoreaccount1/c/key?comp=block..."). */
  seen: string[];
  close(): Promise<void>;
}

const STATUS_TEXT: Record<number, string> = { 500: "Internal Server Error", 503: "Service Unavailable", 403: "Forbidden", 429: "Too Many Requests" };

function kill(s: Socket): void {
  const r = (s as Socket & { resetAndDestroy?: () => void }).resetAndDestroy;
  if (typeof r === "function") { try { r.call(s); return; } catch { /* fall through */ } }
  s.destroy();
}

export function startFaultProxy(upstreamPort: number, upstreamHost = "127.0.0.1"): Promise<FaultProxy> {
  const rules: FaultRule[] = [];
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const pick = (req: ProxiedRequest): FaultRule | undefined => {
    const rule = rules.find((r) => (r.hits ?? 0) < (r.times ?? 1) && r.match(req));
    if (rule) rule.hits = (rule.hits ?? 0) + 1;
    return rule;
  };

  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPort, upstreamHost);
    sockets.add(client).add(upstream);
    let buf: Buffer = Buffer.alloc(0);
    let mode: "head" | "body" | "swallow" | "raw" | "dead" = "head";
    let remaining = 0;
    let resetAfter: number | undefined;
    let respond: Buffer | undefined;
    let cutResponseAfter: number | undefined;
    const die = () => { if (mode === "dead") return; mode = "dead"; kill(client); kill(upstream); };

    upstream.on("data", (chunk: Buffer) => {
      if (mode === "dead") return;
      if (cutResponseAfter !== undefined) {
        if (chunk.length >= cutResponseAfter) {
          // Nothing more reaches the client: what it got is cut short, then the connection resets.
          mode = "dead";
          client.write(chunk.subarray(0, cutResponseAfter), () => { kill(client); kill(upstream); });
          return;
        }
        cutResponseAfter -= chunk.length;
      }
      client.write(chunk);
    });
    const pump = () => {
      for (;;) {
        if (mode === "dead") return;
        if (mode === "raw") { if (buf.length) upstream.write(buf); buf = Buffer.alloc(0); return; }
        if (mode === "head") {
          const end = buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          const head = buf.subarray(0, end + 4);
          buf = buf.subarray(end + 4);
          const [line, ...rest] = head.toString("latin1").split("\r\n");
          const [method = "", url = ""] = line!.split(" ");
          const headers: Record<string, string> = {};
          for (const h of rest) { const i = h.indexOf(":"); if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim(); }
          seen.push(`${method} ${url}`);
          remaining = Number(headers["content-length"] ?? 0);
          const chunked = /chunked/i.test(headers["transfer-encoding"] ?? "");
          const fault = pick({ method, url, headers })?.fault;
          if (fault && "status" in fault) {
            const code = fault.code ?? (fault.status === 503 ? "ServerBusy" : "InternalError");
            const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${fault.message ?? "injected by the test's fault proxy"}</Message></Error>`;
            respond = Buffer.from(`HTTP/1.1 ${fault.status} ${STATUS_TEXT[fault.status] ?? "Error"}\r\ncontent-type: application/xml\r\nx-ms-error-code: ${code}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
            mode = "swallow";
            continue;
          }
          upstream.write(head);
          if (fault && "resetAfterRequestBytes" in fault) resetAfter = fault.resetAfterRequestBytes;
          if (fault && "resetAfterResponseBytes" in fault) cutResponseAfter = fault.resetAfterResponseBytes;
          if (resetAfter === 0) return die();
          mode = chunked ? "raw" : "body";
          continue;
        }
        // body or swallow
        const take = Math.min(remaining, buf.length, resetAfter ?? Infinity);
        if (mode === "body" && take) upstream.write(buf.subarray(0, take));
        buf = buf.subarray(take);
        remaining -= take;
        if (resetAfter !== undefined) {
          resetAfter -= take;
          if (resetAfter <= 0) return die();
        }
        if (remaining > 0) return;
        if (mode === "swallow") {
          client.end(respond!);
          upstream.end();
          mode = "dead";
          return;
        }
        mode = "head";
      }
    };
    client.on("data", (chunk: Buffer) => { buf = buf.length ? Buffer.concat([buf, chunk]) : chunk; pump(); });
    const done = () => { sockets.delete(client); sockets.delete(upstream); };
    client.on("close", () => { upstream.destroy(); done(); });
    upstream.on("close", () => { if (mode !== "dead" || !client.writableEnded) client.end(); done(); });
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({
        port,
        seen,
        add: (rule) => { rules.push(rule); return rule; },
        clear: () => { rules.length = 0; seen.length = 0; },
        close: () => new Promise<void>((res) => { for (const s of sockets) s.destroy(); server.close(() => res()); }),
      });
    });
  });
}
