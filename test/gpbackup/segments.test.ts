// Eight segments of one host running backup_data at once into S3 mode (a private
// moto_server), each streaming SEGMENT_MIB MiB: every process's peak RSS stays
// bounded by its chunk size × concurrency (not by the stream's length), nothing
// is shared between them (no temp files, no locks), and every stream comes back
// byte-identical through restore_data.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { motoAvailable, startMoto, type Moto } from "../helpers/s3.ts";
import { timestamp } from "./bench.ts";

const SHIELD = resolve(import.meta.dir, "../../dist/shield");
const SEGMENTS = 8;
const SEGMENT_MIB = Number(process.env.GPBACKUP_SEGMENT_MIB ?? 256);
const BLOCK = 1024 * 1024;

/** Segment i's stream, block by block: deterministic, different per segment and per block. */
function block(seg: number, n: number): Uint8Array {
  const b = new Uint8Array(BLOCK);
  const v = new DataView(b.buffer);
  let x = (seg * 2654435761 + n * 40503 + 1) >>> 0;
  for (let i = 0; i < BLOCK; i += 4) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; v.setUint32(i, x >>> 0); }
  return b;
}

function peakRss(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch { return 0; }
}

describe.skipIf(!motoAvailable)(`gpbackup plugin: ${SEGMENTS} segments at once`, () => {
  let moto: Moto;
  let dir: string;
  let plugin: string;
  let cfg: string;

  beforeAll(async () => {
    moto = await startMoto();
    dir = mkdtempSync(join(tmpdir(), "shield-gpbackup-seg-"));
    plugin = join(dir, "gpbackup_shield_plugin");
    symlinkSync(SHIELD, plugin);
    const s3 = new S3Client({ endpoint: moto.url, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "t", secretAccessKey: "t" } });
    await s3.send(new CreateBucketCommand({ Bucket: "segments" }));
    cfg = join(dir, "s3.yaml");
    writeFileSync(cfg, [
      `executablepath: ${plugin}`, "options:", `  endpoint: http://127.0.0.1:${moto.port}`, "  aws_access_key_id: t", "  aws_secret_access_key: t",
      "  bucket: segments", "  folder: gp", "  backup_multipart_chunksize: 8MB", "  backup_max_concurrent_requests: 3",
      "  restore_multipart_chunksize: 8MB", "  restore_max_concurrent_requests: 3", "",
    ].join("\n"));
  });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  test(`backup_data of ${SEGMENT_MIB} MiB × ${SEGMENTS}: bounded memory, restored byte-identical`, async () => {
    const { ts, date } = timestamp();
    const key = (seg: number) => join(dir, `gpseg${seg}`, "backups", date, ts, `gpbackup_${seg}_${ts}`);
    const started = performance.now();
    const peaks: number[] = [];
    const sent = await Promise.all(Array.from({ length: SEGMENTS }, async (_, seg) => {
      const proc = Bun.spawn([plugin, "backup_data", cfg, key(seg)], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      let peak = 0;
      const poll = setInterval(() => { peak = Math.max(peak, peakRss(proc.pid)); }, 100);
      const hash = new Bun.CryptoHasher("sha256");
      for (let n = 0; n < SEGMENT_MIB; n++) {
        const b = block(seg, n);
        hash.update(b);
        proc.stdin.write(b);
        await proc.stdin.flush();
      }
      await proc.stdin.end();
      const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      clearInterval(poll);
      peaks[seg] = peak;
      expect({ seg, code, err }).toEqual({ seg, code: 0, err: "" });
      return hash.digest("hex");
    }));
    const backupS = (performance.now() - started) / 1000;

    const back = await Promise.all(Array.from({ length: SEGMENTS }, async (_, seg) => {
      const proc = Bun.spawn([plugin, "restore_data", cfg, key(seg)], { stdout: "pipe", stderr: "pipe" });
      const hash = new Bun.CryptoHasher("sha256");
      let n = 0;
      for await (const c of proc.stdout) { hash.update(c); n += c.length; }
      expect(await proc.exited).toBe(0);
      expect(n).toBe(SEGMENT_MIB * BLOCK);
      return hash.digest("hex");
    }));
    expect(back).toEqual(sent);
    const maxPeak = Math.max(...peaks);
    console.log(`${SEGMENTS} × ${SEGMENT_MIB} MiB backup_data in ${backupS.toFixed(1)} s; peak RSS per plugin ${peaks.map((p) => (p / BLOCK).toFixed(0)).join(", ")} MiB`);
    // 8 MiB parts, 3 in flight plus the one filling: 32 MiB of parts on top of the runtime's
    // ~65 MiB and the HTTP layer's copies: measured 128-158 MiB with 256 MiB each (and ~180 MiB
    // for a lone 1 GiB stream): it does not grow with the stream.
    expect(maxPeak).toBeGreaterThan(0);
    expect(maxPeak).toBeLessThan(200 * BLOCK);
    // No temp file left beside the segments' directories.
    expect(readdirSync(dir).sort()).toEqual(["gpbackup_shield_plugin", "s3.yaml"]);
  }, 900_000);
});
