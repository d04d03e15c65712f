// A minimal private moto_server for the osb API's tests, until the s3 branch's
// test/helpers/s3.ts (the shared harness) is merged: the lead will unify them.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { freePort, requireOrSkip } from "./services.ts";

export const MOTO_REGION = "us-east-1";
export const MOTO_KEY = { id: "shield-test-key", secret: "shield-test-secret-never-logged" };

function findMoto(): string | undefined {
  const path = Bun.which("moto_server");
  if (!path) return undefined;
  return spawnSync(path, ["--help"], { encoding: "utf8", timeout: 30_000 }).status === 0 ? path : undefined;
}
const motoPath = findMoto();
export const motoAvailable = requireOrSkip("moto_server", motoPath !== undefined, "moto_server on PATH (pip install 'moto[server]')");

export interface Moto { url: string; client: S3Client; stop(): void; bucket(prefix?: string): Promise<string> }

export async function startMoto(): Promise<Moto> {
  const dir = mkdtempSync(join(tmpdir(), "shield-test-moto-"));
  const port = await freePort();
  const proc: ChildProcess = spawn(motoPath!, ["-H", "127.0.0.1", "-p", String(port)], {
    cwd: dir, env: { ...process.env, TMPDIR: dir }, stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  proc.stderr!.on("data", (d: Buffer) => { if (log.length < 65536) log += d.toString(); });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`moto_server exited (${proc.exitCode}): ${log}`);
    try {
      if ((await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1000) })).status < 500) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) { proc.kill("SIGKILL"); throw new Error(`moto_server did not answer: ${log}`); }
    await Bun.sleep(100);
  }
  const client = new S3Client({
    region: MOTO_REGION, endpoint: url, forcePathStyle: true,
    credentials: { accessKeyId: MOTO_KEY.id, secretAccessKey: MOTO_KEY.secret },
    requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED",
  });
  let n = 0;
  return {
    url, client,
    async bucket(prefix = "osb") {
      const name = `${prefix}-${process.pid}-${++n}`;
      await client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    stop() { client.destroy(); proc.kill("SIGKILL"); rmSync(dir, { recursive: true, force: true }); },
  };
}
