// The osb-backup-agent request bodies (seeds/osb-backup-agent.md, "Request
// Bodies"), checked: what is wrong is said in words, for the 400's body.
import { envNameProblem } from "../../../plugins/script/lifecycle.ts";
import type { S3Destination } from "./s3.ts";

/** A job's id: it names a directory of the agent, so no "/" or "..", and is bounded. */
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class BadRequest extends Error {}

export interface JobRequest {
  id: string;
  destination: S3Destination & { filename?: string };
  /** What the scripts get as environment variables: host, user, password, database, then the parameters. */
  env: Record<string, string>;
}

export function validId(id: unknown): id is string {
  return typeof id === "string" && ID.test(id) && !id.includes("..");
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new BadRequest(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

function text(o: Record<string, unknown>, key: string, where: string, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === "") {
    if (required) throw new BadRequest(`${where}.${key} is required`);
    return undefined;
  }
  if (typeof v !== "string") throw new BadRequest(`${where}.${key} must be a string`);
  return v;
}

export function jobId(body: unknown): string {
  const b = object(body, "the body");
  if (b.id === undefined || b.id === "") throw new BadRequest("id is required");
  if (!validId(b.id)) throw new BadRequest("id must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit");
  return b.id;
}

/** POST /backup's body (kind "backup") or PUT /restore's (kind "restore"). */
export function jobRequest(body: unknown, kind: "backup" | "restore"): JobRequest {
  const id = jobId(body);
  const b = body as Record<string, unknown>;
  const d = object(b.destination, "destination");
  const type = text(d, "type", "destination", true);
  if (type!.toUpperCase() !== "S3") throw new BadRequest(`destination.type "${type}" is not supported: this agent stores to S3`);
  const destination: JobRequest["destination"] = {
    bucket: text(d, "bucket", "destination", true)!,
    region: text(d, "region", "destination", true)!,
    authKey: text(d, "authKey", "destination", true)!,
    authSecret: text(d, "authSecret", "destination", true)!,
  };
  if (kind === "restore") destination.filename = text(d, "filename", "destination", true);
  const what = object(b[kind], kind);
  const env: Record<string, string> = {};
  for (const key of ["host", "user", "password", "database"]) {
    const v = text(what, key, kind, false);
    if (v !== undefined) env[key] = v;
  }
  const params = what.parameters ?? [];
  // The seed writes a list of one-key objects; a plain object is taken as well.
  const entries = Array.isArray(params) ? params.flatMap((p, i) => Object.entries(object(p, `${kind}.parameters[${i}]`))) : Object.entries(object(params, `${kind}.parameters`));
  for (const [k, v] of entries) {
    const bad = envNameProblem(k);
    if (bad) throw new BadRequest(`${kind}.parameters: "${k}" ${bad}`);
    if (v === null || typeof v === "object") throw new BadRequest(`${kind}.parameters: "${k}" must be a simple value (text, number or true/false): it becomes an environment variable`);
    env[k] = String(v);
  }
  return { id, destination, env };
}
