// The osb-backup-agent HTTP API (seeds/osb-backup-agent.md), so that service
// brokers built for that agent can drive Shield's agent unchanged. Off unless
// the agent is given --osb-listen.
//
//   GET    /status          200 {"message"}
//   POST   /backup          201 | 400 | 401 | 409      body: the seed's Trigger Backup Body
//   GET    /backup/{id}     200 polling body | 400 | 401 | 404
//   DELETE /backup          200 | 400 | 401 | 410      body: {"id"}
//   PUT    /restore         201 | 400 | 401 | 409      body: the seed's Trigger Restore Body
//   GET    /restore/{id}    200 polling body | 400 | 401 | 404
//   DELETE /restore         200 | 400 | 401 | 410
//
// Example:
//   const osb = startOsbServer({ listen: "0.0.0.0:8000", username, password,
//     scriptDir: "/var/vcap/jobs/backup-agent/backup" });
//   ... await osb.stop();
//
// Where the seed says a 400 or 409 carries the polling body, it does: a 409
// gives the existing job's, a 400 one with status FAILED and the reason in
// error_message. A 401 carries the simple {"message"} body.
import { createHash, timingSafeEqual } from "node:crypto";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Kind } from "../../../plugins/script/lifecycle.ts";
import { BadRequest, jobId, jobRequest, validId } from "./bodies.ts";
import { Jobs } from "./jobs.ts";
import type { S3Settings } from "./s3.ts";

export interface OsbOptions {
  /** HOST:PORT (the seed's default port is 8000). */
  listen: string;
  /** Basic auth: every route needs them (given through the environment, never an argument). */
  username: string;
  password: string;
  /** The directory of phase scripts (the seed's scrips_path). */
  scriptDir: string;
  /** Where backup jobs' directories go (the seed's directory_backup); default a fresh temp dir. */
  backupDir?: string;
  /** Where restore jobs' directories go (the seed's directory_restore); default a fresh temp dir. */
  restoreDir?: string;
  s3?: S3Settings;
}

export interface OsbServer {
  url: string;
  port: number;
  /** Stops listening, cancels running jobs and waits for their cleanup and unlock. */
  stop(): Promise<void>;
}

/** "HOST:PORT", "[::1]:PORT" or ":PORT" → its parts; throws a usage message otherwise. */
export function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new Error(`--osb-listen "${listen}" must be HOST:PORT`);
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}

const digest = (s: string) => createHash("sha256").update(s).digest();

function authorized(header: string | null, username: string, password: string): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (!m) return false;
  const plain = Buffer.from(m[1]!, "base64").toString("utf8");
  const at = plain.indexOf(":");
  if (at < 0) return false;
  // Both compared in constant time, both always: how far a guess got must not show.
  const u = timingSafeEqual(digest(plain.slice(0, at)), digest(username));
  const p = timingSafeEqual(digest(plain.slice(at + 1)), digest(password));
  return u && p;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const empty = (status: number) => new Response(null, { status });
const failedBody = (why: string) => ({ status: "FAILED", message: "the request was refused", state: "finished", error_message: why });

/** The seed's bodies are a few hundred bytes: anything near this is not one. */
const BODY_LIMIT = 64 * 1024;

async function readBody(req: Request): Promise<unknown> {
  if (Number(req.headers.get("content-length") ?? 0) > BODY_LIMIT) throw new BadRequest(`the body is larger than ${BODY_LIMIT} bytes`);
  const text = await req.text();
  if (text.length > BODY_LIMIT) throw new BadRequest(`the body is larger than ${BODY_LIMIT} bytes`);
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequest("the body is not valid JSON");
  }
}

export function startOsbServer(o: OsbOptions): OsbServer {
  if (!o.username || !o.password) throw new Error("the osb API needs a username and a password (Basic auth)");
  if (!statSync(o.scriptDir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`the osb script directory ${o.scriptDir} is not a directory`);
  const { hostname, port } = parseListen(o.listen);
  const jobs = new Jobs({
    scriptDir: o.scriptDir,
    backupDir: o.backupDir ?? mkdtempSync(join(tmpdir(), "shield-osb-backup-")),
    restoreDir: o.restoreDir ?? mkdtempSync(join(tmpdir(), "shield-osb-restore-")),
    s3: o.s3 ?? {},
  });

  const trigger = async (kind: Kind, req: Request): Promise<Response> => {
    let request;
    try {
      request = jobRequest(await readBody(req), kind);
    } catch (err) {
      if (err instanceof BadRequest) return json(400, failedBody(err.message));
      throw err;
    }
    const existing = jobs.get(kind, request.id);
    if (existing || !jobs.start(kind, request)) return json(409, existing?.body() ?? failedBody(`a ${kind} job with id ${request.id} exists`));
    return empty(201);
  };

  const poll = (kind: Kind, id: string): Response => {
    if (!validId(id)) return empty(400);
    const job = jobs.get(kind, id);
    return job ? json(200, job.body()) : empty(404);
  };

  const remove = async (kind: Kind, req: Request): Promise<Response> => {
    let id;
    try {
      id = jobId(await readBody(req));
    } catch (err) {
      if (err instanceof BadRequest) return empty(400);
      throw err;
    }
    return (await jobs.remove(kind, id)) ? empty(200) : empty(410);
  };

  const server = Bun.serve({
    hostname, port,
    async fetch(req) {
      try {
        if (!authorized(req.headers.get("authorization"), o.username, o.password)) {
          return json(401, { message: "the credentials are not correct" }, { "www-authenticate": 'Basic realm="osb-backup-agent"' });
        }
        const path = new URL(req.url).pathname.replace(/\/+$/, "") || "/";
        const m = /^\/(backup|restore)(?:\/([^/]*))?$/.exec(path);
        if (path === "/status" && req.method === "GET") return json(200, { message: "the agent is running" });
        if (m) {
          const kind = m[1] as Kind;
          let id: string | undefined;
          try { id = m[2] === undefined ? undefined : decodeURIComponent(m[2]); } catch { return empty(400); }
          if (id !== undefined && req.method === "GET") return poll(kind, id);
          if (id === undefined && req.method === (kind === "backup" ? "POST" : "PUT")) return trigger(kind, req);
          if (id === undefined && req.method === "DELETE") return remove(kind, req);
          return json(405, { message: `${req.method} ${path} is not a route of this API` });
        }
        return json(404, { message: `${path} is not a route of this API` });
      } catch (err) {
        return json(500, { message: `internal error: ${(err as Error)?.message ?? err}` });
      }
    },
  });
  return {
    url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${server.port}`,
    port: server.port!,
    async stop() {
      server.stop(true);
      await jobs.stopAll();
    },
  };
}
