// A private S3-compatible server for the tests: moto_server (Python's moto),
// started on its own port with its own temporary directory (where it spills
// large objects), shared by every test file of one `bun test` run and stopped
// when the run ends (test/helpers/preload.ts). Each test asks for a fresh bucket.
import { spawnSync, type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { Agent as HttpsAgent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client,
} from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { freePort, requireOrSkip } from "./services.ts";

/** Any key and secret do for moto; these never reach a process's arguments. */
export const MOTO_KEY = { access_key_id: "shield-test-key", secret_access_key: "shield-test-secret-never-logged" };
export const MOTO_REGION = "us-east-1";

function findMoto(): string | undefined {
  const path = Bun.which("moto_server");
  if (!path) return undefined;
  // A pyenv shim exists even when the active Python lacks moto: ask it.
  const r = spawnSync(path, ["--help"], { encoding: "utf8", timeout: 30_000 });
  return r.status === 0 ? path : undefined;
}

export const motoPath = findMoto();
/** True when the S3 tests can run; false (after a loud warning) when they skip. */
export const motoAvailable = requireOrSkip("moto_server", motoPath !== undefined, "moto_server on PATH (pip install 'moto[server]')");

export interface Moto {
  port: number;
  url: string;
  /** An SDK client for the test's own checks (listing, creating buckets). */
  client: S3Client;
  /** The server's process id (benchmarks watch its memory). */
  pid: number;
  stop(): void;
}

let shared: Moto | undefined;
let starting: Promise<Moto> | undefined;

/** The private server shared by every test file of the run. */
export function startMoto(): Promise<Moto> {
  return (starting ??= startServer().then((m) => (shared = m)));
}

/** Stops the shared server, if this process started one. */
export function stopMoto(): void {
  shared?.stop();
  shared = undefined;
  starting = undefined;
}

/** A new moto_server on its own port and directory; with `tls`, over HTTPS with that certificate (PEM files). */
export async function startServer(opts: { tls?: { cert: string; key: string; ca: string } } = {}): Promise<Moto> {
  const dir = mkdtempSync(join(tmpdir(), "shield-test-moto-"));
  const port = await freePort();
  const tlsArgs = opts.tls ? ["-c", opts.tls.cert, "-k", opts.tls.key] : [];
  // moto logs every request on stderr. Into a file, not a pipe: a pipe nobody drains
  // (a benchmark waiting in spawnSync blocks its own event loop) fills after a few
  // hundred requests, the thread logging then blocks holding the logging lock, and
  // every other request thread waits on that lock: moto stops answering for good.
  const logFile = join(dir, "moto.log");
  const logFd = openSync(logFile, "w");
  const proc: ChildProcess = spawn(motoPath!, ["-H", "127.0.0.1", "-p", String(port), ...tlsArgs], {
    cwd: dir,
    // Large objects spill to TMPDIR: keep them in the server's own directory.
    env: { ...process.env, TMPDIR: dir, MOTO_ALLOW_NONEXISTENT_REGION: "true" },
    stdio: ["ignore", "ignore", logFd],
  });
  closeSync(logFd);
  const log = () => { try { return readFileSync(logFile, "utf8").slice(0, 64 * 1024); } catch { return ""; } };
  const url = `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`moto_server exited (${proc.exitCode}): ${log()}`);
    try {
      const r = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1000), tls: { rejectUnauthorized: false } });
      if (r.status < 500) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { proc.kill("SIGKILL"); throw new Error(`moto_server did not answer on ${url}: ${log()}`); }
    await Bun.sleep(100);
  }
  const client = new S3Client({
    region: MOTO_REGION, endpoint: url, forcePathStyle: true, maxAttempts: 2,
    credentials: { accessKeyId: MOTO_KEY.access_key_id, secretAccessKey: MOTO_KEY.secret_access_key },
    requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED",
    ...(opts.tls ? { requestHandler: new NodeHttpHandler({ httpsAgent: new HttpsAgent({ ca: readFileSync(opts.tls.ca, "utf8") }) }) } : {}),
  });
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    client.destroy();
    proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  // For scripts (bench) that are not under `bun test`, whose preload stops the shared one.
  process.on("exit", stop);
  return { port, url, client, pid: proc.pid!, stop };
}

let counter = 0;

/** A new, empty bucket on the shared server (or the one given); returns its name. */
export async function freshBucket(prefix = "shield", server?: Moto): Promise<string> {
  const moto = server ?? (await startMoto());
  const name = `${prefix}-${process.pid}-${++counter}-${Date.now() % 100000}`.toLowerCase();
  await moto.client.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

/** An s3 store endpoint for a bucket on the shared server (or at `url`: a proxy in front of it). */
export function motoEndpoint(moto: Moto, bucket: string, extra: Record<string, unknown> = {}, url = moto.url): Record<string, unknown> {
  return { ...MOTO_KEY, bucket, region: MOTO_REGION, s3_host: url, ...extra };
}

/** Every object key in a bucket. */
export async function objectKeys(bucket: string): Promise<string[]> {
  const moto = await startMoto();
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await moto.client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

/** The multipart uploads still open in a bucket (each would keep its parts billed). */
export async function openUploads(bucket: string): Promise<string[]> {
  const moto = await startMoto();
  const r = await moto.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (r.Uploads ?? []).map((u) => `${u.Key} (${u.UploadId})`);
}
