// The s3 store: its endpoint rules and part-size schedule (units), and, against a
// real S3-compatible server (moto_server, started by the harness) behind the
// harness's fault-injection proxy, its behaviour when the network and the service
// fail: transient failures are retried and the archive is byte-identical; a
// permanent one fails at once in the service's words and leaves no object and no
// multipart upload behind. The store contract itself is in store-conformance.test.ts.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { EndpointInvalid, EndpointMissing } from "../../plugins/protocol.ts";
import { crc32Base64 } from "../../plugins/s3/checksum.ts";
import { readConfig } from "../../plugins/s3/config.ts";
import { capacity, GROUP, MAX_OBJECT, MAX_PART, MAX_PARTS, MiB, MIN_PART, partSize } from "../../plugins/s3/parts.ts";
import { backoff, isTransient, S3Failure, withRetry } from "../../plugins/s3/retry.ts";
import { isComplete, isCreate, isGetObject, isPutObject, isUploadPart, startFaultProxy, type FaultProxy } from "../helpers/http-fault-proxy.ts";
import { freshBucket, motoAvailable, motoEndpoint, objectKeys, openUploads, startMoto, startServer, type Moto } from "../helpers/s3.ts";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");
const KEYS = { access_key_id: "AKIDEXAMPLE", secret_access_key: "s3-secret-never-shown" };

function endpointError(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof EndpointMissing || err instanceof EndpointInvalid) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("no error");
}

describe("s3 part-size schedule", () => {
  test("any stream up to 5 TiB fits in 10,000 parts, whatever the first part size", () => {
    for (const base of [MIN_PART, 8 * MiB, 64 * MiB, MAX_PART]) {
      // Drive a 5 TiB stream through the schedule, part by part.
      let sent = 0;
      let n = 0;
      while (sent < MAX_OBJECT) {
        n++;
        const size = partSize(n, base);
        expect(size).toBeGreaterThanOrEqual(MIN_PART);
        expect(size).toBeLessThanOrEqual(MAX_PART);
        sent += size;
      }
      expect(n).toBeLessThanOrEqual(MAX_PARTS);
      expect(capacity(MAX_PARTS, base)).toBeGreaterThanOrEqual(MAX_OBJECT);
    }
  });

  test("small archives keep small parts; a fixed size would have run out", () => {
    expect(partSize(1, 8 * MiB)).toBe(8 * MiB);
    expect(partSize(GROUP, 8 * MiB)).toBe(8 * MiB);
    expect(partSize(GROUP + 1, 8 * MiB)).toBe(16 * MiB);
    // 7 GiB at 8 MiB parts is fewer than one group: memory never grows for it.
    expect(7 * 1024 * MiB / (8 * MiB)).toBeLessThan(GROUP);
    // What the original's fixed parts could hold: 10,000 × 5 MiB < 50 GiB.
    expect(MAX_PARTS * MIN_PART).toBeLessThan(50 * 1024 * MiB);
  });
});

describe("s3 endpoint", () => {
  const ok = { ...KEYS, bucket: "my-backups" };

  test("the original Shield's endpoint works unchanged", () => {
    const c = readConfig({ ...ok, s3_host: "minio.example.com", s3_port: "9000", part_size: "75m", prefix: "/path/in/bucket", signature_version: "4", skip_ssl_validation: false, socks5_proxy: "" }, {});
    expect(c.endpointUrl).toBe("https://minio.example.com:9000");
    expect(c.pathStyle).toBe(true);
    expect(c.partSize).toBe(75 * MiB);
    expect(c.prefix).toBe("path/in/bucket");
    expect(c.region).toBe("us-east-1");
  });

  test("AWS itself: no endpoint URL (the SDK's regional one), virtual-host style", () => {
    const c = readConfig({ ...ok, region: "eu-west-1" }, {});
    expect(c.endpointUrl).toBeUndefined();
    expect(c.pathStyle).toBe(false);
    expect(readConfig({ ...ok, s3_host: "http://127.0.0.1:9000" }, {}).endpointUrl).toBe("http://127.0.0.1:9000");
  });

  test("missing required values → 12", () => {
    expect(endpointError(() => readConfig({ ...KEYS }, {}))).toEqual({ code: 12, message: `the endpoint lacks "bucket", which is required` });
    expect(endpointError(() => readConfig({ bucket: "b-1" }, {})).code).toBe(12);
    expect(endpointError(() => readConfig({ bucket: "b-1", access_key_id: "x" }, {}))).toEqual({ code: 12, message: `the endpoint lacks "secret_access_key", which is required` });
  });

  test("credentials from the environment's AWS variables or the instance profile, when the endpoint has none", () => {
    expect(readConfig({ bucket: "b-1" }, { AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b" }).credentials).toEqual({ from: "env" });
    expect(readConfig({ bucket: "b-1", use_instance_profile: true }, {}).credentials).toEqual({ from: "instance-profile" });
  });

  test.each([
    [{ bucket: "My_Bucket" }, "bucket", "is not a valid bucket name"],
    [{ signature_version: "2" }, "signature_version", "does not support: AWS signature version 2 is deprecated"],
    [{ signature_version: "3" }, "signature_version", "must be 4"],
    [{ socks5_proxy: "127.0.0.1:1080" }, "socks5_proxy", "cannot relay through a SOCKS5 proxy"],
    [{ part_size: "1M" }, "part_size", "below S3's minimum part size of 5M"],
    [{ part_size: "6G" }, "part_size", "above S3's maximum part size of 5G"],
    [{ part_size: "lots" }, "part_size", "is not a size"],
    [{ s3_host: "ftp://host" }, "s3_host", "over http or https"],
    [{ s3_host: "https://host/some/path" }, "s3_host", "not a URL with a path"],
    [{ s3_port: "99999" }, "s3_port", "must be a port number"],
    [{ sse: "DES" }, "sse", "must be AES256 or aws:kms"],
    [{ sse: "AES256", sse_kms_key_id: "k" }, "sse_kms_key_id", "sse is not aws:kms"],
    [{ storage_class: "cheap" }, "storage_class", "is not a storage class"],
    [{ skip_ssl_validation: "maybe" }, "skip_ssl_validation", "must be true or false"],
    [{ concurrency: "0" }, "concurrency", "from 1 to 16"],
    [{ ca_cert: "not a cert" }, "ca_cert", "must be PEM text"],
    [{ prefix: "a/../b" }, "prefix", "plain path"],
  ])("%o → 13 naming %s", (bad, field, words) => {
    const e = endpointError(() => readConfig({ ...ok, ...bad }, {}));
    expect(e.code).toBe(13);
    expect(e.message).toStartWith(`endpoint "${field}"`);
    expect(e.message).toContain(words);
  });

  test("sse and storage class are accepted", () => {
    const c = readConfig({ ...ok, sse: "aws:kms", sse_kms_key_id: "alias/backups", storage_class: "STANDARD_IA" }, {});
    expect(c.sse).toEqual({ type: "aws:kms", kmsKeyId: "alias/backups" });
    expect(c.storageClass).toBe("STANDARD_IA");
  });
});

describe("s3 failure kinds", () => {
  test("transient: 5xx, throttling, resets, timeouts; permanent: 403, no such bucket", () => {
    expect(isTransient({ name: "SlowDown", $metadata: { httpStatusCode: 503 } })).toBe(true);
    expect(isTransient({ name: "InternalError", $metadata: { httpStatusCode: 500 } })).toBe(true);
    expect(isTransient({ name: "Unknown", $metadata: { httpStatusCode: 502 } })).toBe(true);
    expect(isTransient(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toBe(true);
    expect(isTransient({ name: "TimeoutError", message: "timed out" })).toBe(true);
    expect(isTransient({ name: "AccessDenied", $metadata: { httpStatusCode: 403 } })).toBe(false);
    expect(isTransient({ name: "NoSuchBucket", $metadata: { httpStatusCode: 404 } })).toBe(false);
    expect(isTransient({ name: "InvalidAccessKeyId", $metadata: { httpStatusCode: 403 } })).toBe(false);
    // 501: the service lacks the functionality asked for (a checksum header it does not know).
    expect(isTransient({ name: "NotImplemented", $metadata: { httpStatusCode: 501 } })).toBe(false);
  });
});

describe("s3 retry wrapper", () => {
  const policy = { attempts: 4, baseMs: 1, maxMs: 4, timeoutMs: 1000, perMiBMs: 0 };
  const transient = () => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });

  test("transient failures are retried, with a line each; the bound on the wait grows", async () => {
    const lines: string[] = [];
    let calls = 0;
    const r = await withRetry("UploadPart 3", policy, async () => { if (++calls < 3) throw transient(); return "ok"; }, { log: (l) => lines.push(l) });
    expect(r).toBe("ok");
    expect(calls).toBe(3);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain("UploadPart 3: ECONNRESET: socket hang up; retrying");
    for (let n = 1; n < 10; n++) {
      const w = backoff(n, { baseMs: 100, maxMs: 5000 });
      const bound = Math.min(5000, 100 * 2 ** (n - 1));
      expect(w).toBeGreaterThanOrEqual(bound / 2);
      expect(w).toBeLessThanOrEqual(bound);
    }
  });

  test("a permanent failure is not retried; the attempts run out with the last words", async () => {
    let calls = 0;
    const denied = { name: "AccessDenied", message: "Access Denied", $metadata: { httpStatusCode: 403 } };
    const e = await withRetry("PutObject", policy, async () => { calls++; throw denied; }).catch((x) => x);
    expect(calls).toBe(1);
    expect(e).toBeInstanceOf(S3Failure);
    expect(e.message).toBe("PutObject failed: AccessDenied: Access Denied (HTTP 403)");
    calls = 0;
    const spent = await withRetry("PutObject", policy, async () => { calls++; throw transient(); }).catch((x) => x);
    expect(calls).toBe(4);
    expect(spent.message).toStartWith("PutObject failed after 4 attempts: ECONNRESET");
  });

  test("an attempt past its deadline is abandoned and retried; a stop ends it at once", async () => {
    let calls = 0;
    const r = await withRetry("HeadObject", { ...policy, timeoutMs: 50 }, ({ signal }) => new Promise<string>((resolve, reject) => {
      if (++calls === 1) signal.addEventListener("abort", () => reject(new Error("aborted")));
      else resolve("second");
    }));
    expect(r).toBe("second");
    const stop = new AbortController();
    calls = 0;
    const stopped = withRetry("GetObject", policy, async () => { calls++; stop.abort(new Error("stopped by SIGTERM")); throw transient(); }, { stop: stop.signal }).catch((x) => x);
    expect((await stopped).message).toBe("stopped by SIGTERM");
    expect(calls).toBe(1);
  });

  test("a call given more time (a completion assembling a large object) is not abandoned at the plain deadline", async () => {
    let calls = 0;
    const slow = () => withRetry("CompleteMultipartUpload", { ...policy, timeoutMs: 50 }, async () => { calls++; await Bun.sleep(150); return "done"; }, { extraMs: 1000 });
    expect(await slow()).toBe("done");
    expect(calls).toBe(1);
  });
});

// ---- against moto, through the fault-injection proxy ----

interface Run { code: number; stdout: Buffer; stderr: string }

function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("AWS_")) out[k] = v;
  return { ...out, ...extra };
}

function spawnS3(args: string[], endpoint: object, stdin: Uint8Array | "pipe" | "ignore" = "ignore", env: Record<string, string> = {}) {
  return Bun.spawn([process.execPath, MAIN, "plugin", "s3", ...args], {
    cwd: ROOT, env: cleanEnv({ SHIELD_ENDPOINT: JSON.stringify(endpoint), ...env }), stdin, stdout: "pipe", stderr: "pipe",
  });
}

async function s3(args: string[], endpoint: object, stdin?: Uint8Array, env?: Record<string, string>): Promise<Run> {
  const proc = spawnS3(args, endpoint, stdin ?? "ignore", env);
  const [out, stderr, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout: Buffer.from(out), stderr };
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe.skipIf(!motoAvailable)("s3 against moto, through faults", () => {
  let moto: Moto;
  let proxy: FaultProxy;
  let bucket: string;
  // Small parts so that an archive of 20 MiB is 4 parts; a short timeout so that a stall is seen quickly.
  const opts = { part_size: "5M", request_timeout: "2" };
  const data = randomBytes(20 * MiB + 1);

  beforeAll(async () => {
    moto = await startMoto();
  });
  beforeEach(async () => {
    await proxy?.stop();
    proxy = await startFaultProxy(moto.url);
    bucket = await freshBucket("faults");
  });
  afterAll(async () => { await proxy?.stop(); });

  const viaProxy = () => motoEndpoint(moto, bucket, opts, proxy.url);
  const direct = () => motoEndpoint(moto, bucket, opts);

  async function storeAndCheck(input: Uint8Array = data): Promise<{ key: string; stderr: string }> {
    const s = await s3(["store"], viaProxy(), input);
    expect(s.stderr).not.toContain(KEYS.secret_access_key);
    expect(s.code).toBe(0);
    const { key, size } = JSON.parse(s.stdout.toString());
    expect(size).toBe(input.byteLength);
    // Read back directly from the server: what landed is byte-identical.
    const r = await s3(["retrieve", "-k", key], direct());
    expect(r.code).toBe(0);
    expect(sha(r.stdout)).toBe(sha(input));
    expect(await openUploads(bucket)).toEqual([]);
    return { key, stderr: s.stderr };
  }

  test.each([
    ["a reset in the middle of a part", isUploadPart(2), "reset-request" as const, 1],
    ["a 500 on a part", isUploadPart(3), "500" as const, 1],
    ["503 SlowDown twice on the first part", isUploadPart(1), "503-slowdown" as const, 2],
    ["a stalled connection on a part", isUploadPart(2), "stall" as const, 1],
    ["a 500 on CompleteMultipartUpload", isComplete(), "500" as const, 1],
  ])("%s is retried and the archive is byte-identical", async (_what, match, fault, times) => {
    proxy.add({ match, fault, times });
    const { stderr } = await storeAndCheck();
    expect(proxy.fired()).toBe(times);
    expect(stderr).toContain("retrying");
    expect(await objectKeys(bucket)).toHaveLength(1);
  });

  test("a completion whose answer is lost (the upload completed) is recognised, not failed", async () => {
    proxy.add({ match: isComplete(), fault: "lose-response", times: 1 });
    await storeAndCheck();
    expect(proxy.fired()).toBe(1);
    expect(await objectKeys(bucket)).toHaveLength(1);
  });

  test("at most `concurrency` parts are in flight", async () => {
    proxy.add({ match: isUploadPart(), fault: "slow", times: 1000 });
    const s = await s3(["store"], { ...viaProxy(), concurrency: "2" }, data);
    expect(s.code).toBe(0);
    expect(proxy.maxConcurrent()).toBe(2);
  });

  test("a service that refuses part checksums gets the upload without them, said once in the log", async () => {
    // An S3 work-alike older than S3's checksums: 400 to any CreateMultipartUpload naming one.
    proxy.add({ match: (r) => isCreate()(r) && r.headers["x-amz-checksum-algorithm"] !== undefined, fault: "400-invalid-argument", times: 100 });
    const { stderr } = await storeAndCheck();
    expect(proxy.fired()).toBe(1);
    expect(proxy.seen.filter((r) => isCreate()(r))).toHaveLength(2);
    expect(stderr).toContain("refused a multipart upload with part checksums");
    expect(stderr.match(/uploading without them/g)).toHaveLength(1);
  });

  test("a 501 NotImplemented to the checksum is not retried: the upload goes on at once without it", async () => {
    // 501 says the service lacks what was asked: asking again cannot help (retry.ts), and
    // eight attempts with backoff would hold every upload ~30 s before the fallback.
    proxy.add({ match: (r) => isCreate()(r) && r.headers["x-amz-checksum-algorithm"] !== undefined, fault: "501-not-implemented", times: 100 });
    const { stderr } = await storeAndCheck();
    expect(proxy.fired()).toBe(1);
    expect(proxy.seen.filter((r) => isCreate()(r))).toHaveLength(2);
    expect(stderr).not.toContain("retrying");
    expect(stderr.match(/uploading without them/g)).toHaveLength(1);
  });

  test("a service that ignores the checksum algorithm (does not name it back) gets parts without checksums", async () => {
    // Such a work-alike might refuse part checksums only at completion, after the whole upload.
    proxy.add({ match: isCreate(), fault: "drop-checksum-headers", times: 100 });
    const { stderr } = await storeAndCheck();
    expect(stderr).not.toContain("refused");
    const parts = proxy.seen.filter((r) => isUploadPart()(r));
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.filter((r) => r.crc32 !== undefined)).toEqual([]);
  });

  test("parts carry their CRC32 when the service names the algorithm back", async () => {
    await storeAndCheck();
    const parts = proxy.seen.filter((r) => isUploadPart()(r));
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.every((r) => typeof r.crc32 === "string" && r.crc32.length === 8)).toBe(true);
  });

  test("a 403 on CreateMultipartUpload is not taken for a refused checksum: it fails at once", async () => {
    proxy.add({ match: isCreate(), fault: "403", times: 100 });
    const s = await s3(["store"], viaProxy(), data);
    expect(s.code).not.toBe(0);
    expect(s.stderr).toContain("AccessDenied");
    expect(s.stderr).not.toContain("uploading without them");
    expect(proxy.fired()).toBe(1);
  });

  test("memory stays flat with the size of the input: parts are read into a few reused buffers, no garbage per part", async () => {
    // Peak RSS of a 64 MiB store against a 512 MiB one, 8 MiB parts, 4 in flight: the
    // pool is 5 buffers whatever the size, and the input's bytes go straight into them
    // (read from fd 0), so the larger store may not grow by much more than a part or two.
    const dir = mkdtempSync(join(tmpdir(), "s3-rss-"));
    try {
      const peak = async (mib: number) => {
        const file = join(dir, `in-${mib}`);
        await Bun.write(file, randomBytes(MiB).toString("hex").repeat(mib / 2));
        const proc = Bun.spawn([process.execPath, MAIN, "plugin", "s3", "store"], {
          cwd: ROOT, env: cleanEnv({ SHIELD_ENDPOINT: JSON.stringify(motoEndpoint(moto, bucket, { part_size: "8M" })) }),
          stdin: Bun.file(file), stdout: "pipe", stderr: "pipe",
        });
        // The child's own high-water mark (VmHWM), sampled until it exits.
        let hwm = 0;
        const sample = setInterval(() => {
          try { hwm = Math.max(hwm, Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"))?.[1] ?? 0) * 1024); } catch { /* exited */ }
        }, 20);
        const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
        clearInterval(sample);
        expect(err).not.toContain("failed");
        expect(code).toBe(0);
        expect(JSON.parse(out).size).toBe(mib * MiB);
        rmSync(file);
        expect(hwm).toBeGreaterThan(0);
        return hwm;
      };
      const small = await peak(64);
      const large = await peak(512);
      // Measured (source run, 2026-12-06): 135 → 155 MB read from fd 0; the same
      // store reading a stream's chunks without the per-part GC: 172 → 225 MB.
      expect(large - small).toBeLessThan(36 * MiB);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test("a small archive (one PutObject) is retried too", async () => {
    proxy.add({ match: isPutObject(), fault: "503-slowdown", times: 1 });
    proxy.add({ match: isPutObject(), fault: "reset-request", times: 1 });
    await storeAndCheck(randomBytes(1 * MiB));
    expect(proxy.fired()).toBe(2);
  });

  test.each([
    ["reset", "reset-response" as const],
    ["stalled", "stall-response" as const],
  ])("a retrieve whose connection is %s mid-body resumes from the broken byte", async (_what, fault) => {
    const s = await s3(["store"], direct(), data);
    const { key } = JSON.parse(s.stdout.toString());
    proxy.add({ match: isGetObject(), fault, times: 2 });
    const r = await s3(["retrieve", "-k", key], viaProxy());
    expect(r.code).toBe(0);
    expect(sha(r.stdout)).toBe(sha(data));
    expect(r.stderr).toContain("resuming from there");
    // The resumed requests asked for the rest only.
    const gets = proxy.seen.filter(isGetObject());
    expect(gets.length).toBe(3);
    expect(gets[0]!.range).toBeUndefined();
    for (const g of gets.slice(1)) expect(g.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  test("a permanent failure (403 on a part) fails at once in the service's words and leaves nothing behind", async () => {
    proxy.add({ match: isUploadPart(2), fault: "403", times: 100 });
    const s = await s3(["store"], viaProxy(), data);
    expect(s.code).toBe(4);
    expect(s.stdout.toString()).toBe("");
    expect(s.stderr).toContain("AccessDenied: Access Denied");
    // The refused part is not asked again. The abort that follows may be: moto, still
    // taking in a part whose request the store gave up, has answered it with a 500 page.
    expect(s.stderr).not.toMatch(/UploadPart[^\n]*retrying/);
    expect(proxy.fired()).toBe(1);
    expect(await objectKeys(bucket)).toEqual([]);
    expect(await openUploads(bucket)).toEqual([]);
  });

  test("a permanent failure ends the store at once, even while its input is slow to come", async () => {
    proxy.add({ match: isUploadPart(1), fault: "403", times: 100 });
    const proc = spawnS3(["store"], viaProxy(), "pipe");
    const sink = proc.stdin as import("bun").FileSink;
    // Part 1 goes out; part 2 waits for input that does not come.
    sink.write(data.subarray(0, 6 * MiB));
    await sink.flush();
    const code = await Promise.race([proc.exited, Bun.sleep(15_000).then(() => "still running")]);
    expect(code).toBe(4);
    expect(await new Response(proc.stderr).text()).toContain("AccessDenied");
    try { await sink.end(); } catch { /* gone */ }
    expect(await openUploads(bucket)).toEqual([]);
  });

  test("retries run out: the store fails and leaves no object and no upload", async () => {
    proxy.add({ match: isUploadPart(2), fault: "500", times: 1000 });
    const s = await s3(["store"], { ...viaProxy() }, data, {});
    expect(s.code).toBe(4);
    expect(s.stderr).toContain("failed after 8 attempts: InternalError");
    expect(await objectKeys(bucket)).toEqual([]);
    expect(await openUploads(bucket)).toEqual([]);
  }, 120_000);

  test("no such bucket: fails at once, in the service's words", async () => {
    const s = await s3(["store"], motoEndpoint(moto, "no-such-bucket-here", opts), Buffer.from("x"));
    expect(s.code).toBe(4);
    expect(s.stderr).toContain("NoSuchBucket");
    expect(s.stderr).not.toContain("retrying");
    const t = await s3(["test"], motoEndpoint(moto, "no-such-bucket-here", opts));
    expect(t.code).toBe(4);
    expect(t.stderr).toContain("HeadBucket no-such-bucket-here failed");
  });

  test("SIGTERM in the middle of a store aborts the upload: no object, no parts left", async () => {
    const proc = spawnS3(["store"], direct(), "pipe");
    const sink = proc.stdin as import("bun").FileSink;
    sink.write(data.subarray(0, 12 * MiB));
    await sink.flush();
    // Wait until the upload has started (parts are on the server).
    const deadline = Date.now() + 20_000;
    while ((await openUploads(bucket)).length === 0 && Date.now() < deadline) await Bun.sleep(50);
    expect(await openUploads(bucket)).toHaveLength(1);
    proc.kill("SIGTERM");
    const code = await proc.exited;
    expect(code).toBe(143);
    expect(await new Response(proc.stdout).text()).toBe("");
    expect(await objectKeys(bucket)).toEqual([]);
    expect(await openUploads(bucket)).toEqual([]);
  });

  test("sse and storage_class are applied to small and multipart archives alike", async () => {
    for (const input of [Buffer.from("small"), data]) {
      const s = await s3(["store"], { ...direct(), sse: "AES256", storage_class: "STANDARD_IA" }, input);
      expect(s.code).toBe(0);
      const head = await moto.client.send(new HeadObjectCommand({ Bucket: bucket, Key: JSON.parse(s.stdout.toString()).key }));
      expect({ sse: head.ServerSideEncryption, cls: head.StorageClass, size: head.ContentLength }).toEqual({ sse: "AES256", cls: "STANDARD_IA", size: input.length });
    }
  });

  test("a multipart archive's parts each carry their CRC32: the service holds the composite of them", async () => {
    // Without a checksum algorithm the service checksums the whole object at completion
    // (moto copies it twice more for that: plugins/s3/checksum.ts, bench/S3.md).
    const s = await s3(["store"], direct(), data);
    expect(s.code).toBe(0);
    const head = await moto.client.send(new HeadObjectCommand({ Bucket: bucket, Key: JSON.parse(s.stdout.toString()).key, ChecksumMode: "ENABLED" }));
    const crcs: Buffer[] = [];
    for (let at = 0, n = 1; at < data.length; n++) {
      const part = data.subarray(at, at + partSize(n, 5 * MiB));
      crcs.push(Buffer.from(crc32Base64(part), "base64"));
      at += part.length;
    }
    expect(crcs.length).toBeGreaterThan(1);
    // The CRC32 of the parts' CRC32s (AWS adds "-<parts>"; moto does not).
    expect(head.ChecksumCRC32?.replace(/-\d+$/, "")).toBe(crc32Base64(Buffer.concat(crcs)));
  });

  test("keys: the original Shield's (a leading / without a prefix) are taken; ones with . or .. parts are refused (13)", async () => {
    const original = "/2017/03/01/2017-03-01-040000-6a2e2a1c-0000-4000-8000-000000000000";
    const missing = await s3(["retrieve", "-k", original], direct());
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain(`no blob under key ${original} in bucket ${bucket}`);
    for (const bad of ["../x", "a/../../b", "a//b", "./a", "a\nb"]) {
      const r = await s3(["retrieve", "-k", bad], direct());
      expect({ bad, code: r.code }).toEqual({ bad, code: 13 });
      expect((await s3(["purge", "-k", bad], direct())).code).toBe(13);
    }
  });

  test("credentials from the environment's AWS variables or the instance profile, never from a command line", async () => {
    const { access_key_id: _a, secret_access_key: _s, ...bare } = direct();
    const env = { AWS_ACCESS_KEY_ID: "shield-test-key", AWS_SECRET_ACCESS_KEY: "from-the-env" };
    const s = await s3(["store"], bare, Buffer.from("hello"), env);
    expect(s.code).toBe(0);
    const v = await s3(["validate"], bare, undefined, env);
    expect(v.stdout.toString()).toContain("credentials: from the environment");
    expect(v.stdout.toString()).not.toContain("from-the-env");
    // The instance profile: moto_server also answers as the instance metadata service.
    const viaProfile = await s3(["store"], { ...bare, use_instance_profile: true }, Buffer.from("hello"), { AWS_EC2_METADATA_SERVICE_ENDPOINT: moto.url });
    expect({ code: viaProfile.code, stderr: viaProfile.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("stored 5 bytes") });
    // Without them, the missing key is named (12).
    const none = await s3(["validate"], bare);
    expect(none.code).toBe(12);
    expect(none.stderr).toContain(`"access_key_id"`);
  });
});

describe.skipIf(!motoAvailable)("s3 over TLS", () => {
  let moto: Moto;
  let dir: string;
  let ca: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shield-s3-tls-"));
    const r = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
      "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`openssl: ${r.stderr.toString()}`);
    ca = join(dir, "cert.pem");
    moto = await startServer({ tls: { cert: ca, key: join(dir, "key.pem"), ca } });
  });
  afterAll(() => { moto?.stop(); rmSync(dir, { recursive: true, force: true }); });

  test("a certificate of an unknown CA is refused at once; ca_cert or skip_ssl_validation accept it", async () => {
    const bucket = await freshBucket("tls", moto);
    const ep = motoEndpoint(moto, bucket);
    const refused = await s3(["store"], ep, Buffer.from("over tls"));
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/certificate|self.signed/i);
    expect(refused.stderr).not.toContain("retrying");
    for (const extra of [{ ca_cert: ca }, { ca_cert: await Bun.file(ca).text() }, { skip_ssl_validation: true }]) {
      const s = await s3(["store"], { ...ep, ...extra }, Buffer.from("over tls"));
      expect({ extra: Object.keys(extra), code: s.code, stderr: s.stderr }).toEqual({ extra: Object.keys(extra), code: 0, stderr: expect.any(String) });
      const { key } = JSON.parse(s.stdout.toString());
      const r = await s3(["retrieve", "-k", key], { ...ep, ...extra });
      expect(r.stdout.toString()).toBe("over tls");
    }
  });
});
