// The azure store against a real Azure Blob service: Azurite, started by the
// harness on its own port and directory (test/helpers/azurite.ts). What every
// store keeps is the store conformance suite (test/plugins/store-conformance.test.ts);
// here is what is Azure's own: the block schedule, SAS tokens, the service's words, and faults
// injected by a TCP proxy between the store and Azurite.
import { beforeAll, afterAll, describe, expect, test } from "bun:test";
import { randomBytes, randomUUID } from "node:crypto";
import {
  BlobServiceClient, ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters, type ContainerClient,
} from "@azure/storage-blob";
import { AZURITE_ACCOUNT, AZURITE_KEY, azuriteAvailable, startAzurite, type Azurite } from "../helpers/azurite.ts";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.ts";
import { MiB, keyOf, runPlugin } from "../helpers/store-conformance.ts";
import { BLOCKS_PER_TIER, DEFAULT_BLOCK_SIZE, MAX_BLOCKS, MAX_BLOCK_SIZE, blockSize, capacity, inFlight } from "../../plugins/azure/schedule.ts";
import { AzureFailure, DEFAULT_RETRY, backoff, isTransient, retrying, scrub, serviceWords } from "../../plugins/azure/retry.ts";

const TiB = 1024 * 1024 * MiB;

describe("azure block schedule (no server)", () => {
  test("from the default 8 MiB, any archive up to 7.7 TiB fits Azure's 50,000 blocks", () => {
    expect(DEFAULT_BLOCK_SIZE).toBe(8 * MiB);
    expect(capacity()).toBeGreaterThan(7.7 * TiB);
    // Drive the schedule block by block, as a store would, to 5 TiB: well within the limit.
    let total = 0;
    let blocks = 0;
    let largest = 0;
    while (total < 5 * TiB) {
      const size = blockSize(blocks);
      total += size;
      largest = Math.max(largest, size);
      blocks++;
    }
    expect(blocks).toBeLessThan(MAX_BLOCKS);
    expect(largest).toBe(512 * MiB);
    // And the common archive keeps small blocks: 50 GiB in 8 MiB ones.
    expect(blockSize(Math.ceil((50 * 1024 * MiB) / (8 * MiB)) - 1)).toBe(8 * MiB);
  });

  test("block sizes double every tier and never pass Azure's 4000 MiB limit", () => {
    expect(blockSize(0)).toBe(8 * MiB);
    expect(blockSize(BLOCKS_PER_TIER - 1)).toBe(8 * MiB);
    expect(blockSize(BLOCKS_PER_TIER)).toBe(16 * MiB);
    expect(blockSize(MAX_BLOCKS - 1)).toBe(1024 * MiB);
    for (let i = 0; i < MAX_BLOCKS; i += 997) expect(blockSize(i, 1000 * MiB)).toBeLessThanOrEqual(MAX_BLOCK_SIZE);
    // A larger first block (block_size) reaches further; a 1 MiB one, less than 1 TiB.
    expect(capacity(1 * MiB)).toBeLessThan(TiB);
    expect(capacity(64 * MiB)).toBeGreaterThan(40 * TiB);
  });

  test("memory stays bounded: blocks in flight shrink as blocks grow, never below one", () => {
    for (const concurrency of [1, 4, 16]) {
      for (let i = 0; i < MAX_BLOCKS; i += 500) {
        const size = blockSize(i);
        const n = inFlight(size, concurrency);
        expect(n).toBeGreaterThanOrEqual(1);
        expect(n).toBeLessThanOrEqual(concurrency);
        expect(n * size).toBeLessThanOrEqual(Math.max(concurrency * DEFAULT_BLOCK_SIZE, size));
      }
    }
    expect(inFlight(8 * MiB, 4)).toBe(4);
    expect(inFlight(16 * MiB, 4)).toBe(2);
    expect(inFlight(1024 * MiB, 4)).toBe(1);
  });
});

describe("azure retries (no server)", () => {
  test("transient: 408, 429, 5xx, resets, timeouts; permanent: 4xx", () => {
    for (const s of [408, 429, 500, 502, 503, 504]) expect(isTransient({ statusCode: s })).toBe(true);
    for (const s of [400, 403, 404, 409, 412]) expect(isTransient({ statusCode: s })).toBe(false);
    for (const code of ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "REQUEST_SEND_ERROR"]) expect(isTransient({ code })).toBe(true);
    expect(isTransient(new Error("unrelated"))).toBe(false);
  });

  test("backoff doubles with full jitter, capped", () => {
    const p = { tries: 6, baseDelayMs: 500, maxDelayMs: 4000 };
    expect(backoff(1, p, () => 0)).toBe(250);
    expect(backoff(1, p, () => 1)).toBe(500);
    expect(backoff(3, p, () => 1)).toBe(2000);
    expect(backoff(10, p, () => 1)).toBe(4000);
    expect(DEFAULT_RETRY.tries).toBeGreaterThan(3);
  });

  test("retrying: transient failures are tried again up to the limit; permanent ones and cancels at once", async () => {
    const policy = { tries: 3, baseDelayMs: 1, maxDelayMs: 2 };
    const lines: string[] = [];
    let calls = 0;
    const flaky = await retrying(async () => { if (++calls < 3) throw { statusCode: 503, code: "ServerBusy", message: "busy" }; return "ok"; }, { what: "x", policy, log: (l) => lines.push(l) });
    expect({ flaky, calls, retries: lines.length }).toEqual({ flaky: "ok", calls: 3, retries: 2 });
    expect(lines[0]).toContain("503 ServerBusy: busy; trying again");

    calls = 0;
    const spent = await retrying(async () => { calls++; throw { code: "ECONNRESET", message: "socket hang up" }; }, { what: "staging block 3", policy }).catch((e) => e);
    expect(spent).toBeInstanceOf(AzureFailure);
    expect(calls).toBe(3);
    expect(spent.message).toBe("staging block 3: ECONNRESET: socket hang up (after 3 tries)");

    calls = 0;
    const denied = await retrying(async () => { calls++; throw { statusCode: 403, details: { errorCode: "AuthenticationFailed", message: "no" } }; }, { what: "x", policy }).catch((e) => e);
    expect({ calls, code: denied.serviceCode, status: denied.status }).toEqual({ calls: 1, code: "AuthenticationFailed", status: 403 });

    const cancel = new AbortController();
    calls = 0;
    const canceled = retrying(async () => { calls++; cancel.abort(new Error("stopped by SIGTERM")); throw { statusCode: 500 }; }, { what: "x", policy: { tries: 5, baseDelayMs: 1000, maxDelayMs: 1000 }, signal: cancel.signal });
    await expect(canceled).rejects.toThrow("stopped by SIGTERM");
    expect(calls).toBe(1);

    // An attempt that hangs is given up at its timeout, and tried again.
    calls = 0;
    const slow = await retrying((sig) => { calls++; return calls === 1 ? new Promise((_, rej) => sig.addEventListener("abort", () => rej(sig.reason))) : Promise.resolve("second"); }, { what: "x", policy, timeoutMs: 50 });
    expect({ slow, calls }).toEqual({ slow: "second", calls: 2 });
  });

  test("the service's words, first line only; a SAS signature never shown", () => {
    const err = { statusCode: 403, code: "AuthenticationFailed", details: { errorCode: "AuthenticationFailed", message: "Server failed to authenticate the request.\nRequestId:abc\nTime:now" } };
    expect(serviceWords(err)).toBe("403 AuthenticationFailed: Server failed to authenticate the request.");
    expect(scrub("GET https://a/c/b?sv=2024&sig=abc%2Fdef&se=x")).toBe("GET https://a/c/b?sv=2024&sig=REDACTED&se=x");
  });
});

describe.skipIf(!azuriteAvailable)("azure store on Azurite", () => {
  let az: Azurite;
  let service: BlobServiceClient;
  let container: ContainerClient;
  const name = `shield-test-${randomUUID().slice(0, 8)}`;
  const endpoint = (extra: Record<string, unknown> = {}) => ({
    storage_account: AZURITE_ACCOUNT, storage_account_key: AZURITE_KEY, storage_container: name, blob_endpoint: az.url, ...extra,
  });

  beforeAll(async () => {
    az = await startAzurite();
    service = new BlobServiceClient(az.url, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
    container = service.getContainerClient(name);
    await container.create();
  });

  const blobs = async (c: ContainerClient = container) => {
    const names: string[] = [];
    for await (const b of c.listBlobsFlat()) names.push(b.name);
    return names.sort();
  };

  const run = (args: string[], ep: object = endpoint(), stdin?: Uint8Array) => runPlugin("azure", args, ep, stdin);

  describe("azure: endpoints", () => {
    test("keys are PREFIX/YYYY/MM/DD/uuid, the blob's name in the container", async () => {
      const key = keyOf(await run(["store"], endpoint({ prefix: "/prod/db/" }), Buffer.from("x")));
      expect(key).toMatch(/^prod\/db\/\d{4}\/\d{2}\/\d{2}\/[0-9a-f-]{36}$/);
      expect(await blobs()).toContain(key);
      expect((await run(["purge", "-k", key])).code).toBe(0);
    });

    test("an archive written by the original Shield (any blob name) retrieves by its key", async () => {
      const old = "shield/2019-03-04-050607-6b1f1c3e-0000-4000-8000-000000000000";
      const data = randomBytes(100_000);
      await container.getBlockBlobClient(old).uploadData(data);
      const r = await run(["retrieve", "-k", old]);
      expect(r.code).toBe(0);
      expect(Buffer.compare(r.stdout, data)).toBe(0);
      expect((await run(["purge", "-k", old])).code).toBe(0);
    });

    test("keys that are not blob names are refused (13)", async () => {
      for (const key of ["/abs", "a/../b", "a//b", "a\nb", "x".repeat(1025)]) {
        const r = await run(["retrieve", `--key=${key}`]);
        expect({ key, code: r.code }).toEqual({ key, code: 13 });
      }
    });

    test("a SAS token instead of the account key: store, retrieve, purge, test", async () => {
      const sas = generateBlobSASQueryParameters({
        containerName: name, permissions: ContainerSASPermissions.parse("racwdl"), expiresOn: new Date(Date.now() + 3600_000),
      }, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY)).toString();
      const ep = { storage_account: AZURITE_ACCOUNT, sas_token: `?${sas}`, storage_container: name, blob_endpoint: az.url };
      const v = await run(["validate"], ep);
      expect(v.code).toBe(0);
      expect(v.stdout.toString()).toContain("sas_token: (set)");
      expect(v.stdout.toString()).not.toContain(new URLSearchParams(sas).get("sig")!);
      const data = randomBytes(3 * MiB);
      const key = keyOf(await run(["store"], ep, data));
      expect(Buffer.compare((await run(["retrieve", "-k", key], ep)).stdout, data)).toBe(0);
      expect((await run(["purge", "-k", key], ep)).code).toBe(0);
      expect((await run(["test"], ep)).code).toBe(0);
    });

    test("a container that does not exist fails at once (no retries), in the service's words, and is not created", async () => {
      const ep = endpoint({ storage_container: "no-such-container" });
      const started = Date.now();
      const s = await run(["store"], ep, randomBytes(1000));
      expect(s.code).toBe(4);
      expect(s.stdout.byteLength).toBe(0);
      expect(s.stderr).toContain("ContainerNotFound");
      expect(s.stderr).not.toContain("trying again");
      expect(Date.now() - started).toBeLessThan(5000);
      expect((await run(["purge", "-k", "2020/01/01/x"], ep)).code).toBe(4);
      const t = await run(["test"], ep);
      expect(t.code).toBe(4);
      expect(t.stderr).toContain("ContainerNotFound");
      expect(await service.getContainerClient("no-such-container").exists()).toBe(false);
    });

    test("a wrong account key fails at once: 403 in the service's words, no secret shown", async () => {
      const wrong = Buffer.from(randomBytes(64)).toString("base64");
      const s = await run(["store"], endpoint({ storage_account_key: wrong }), randomBytes(1000));
      expect(s.code).toBe(4);
      expect(s.stderr).toContain("403");
      expect(s.stderr).not.toContain("trying again");
      expect(s.stderr).not.toContain(wrong);
    });
  });

  describe("azure: faults between the store and the service (a TCP proxy)", () => {
    let proxy: FaultProxy;
    beforeAll(async () => { proxy = await startFaultProxy(az.port); });
    afterAll(async () => { await proxy?.close(); });
    const via = () => endpoint({ blob_endpoint: `http://127.0.0.1:${proxy.port}/${AZURITE_ACCOUNT}` });
    const isBlock = (r: { method: string; url: string }) => r.method === "PUT" && r.url.includes("comp=block") && !r.url.includes("comp=blocklist");
    const isCommit = (r: { method: string; url: string }) => r.method === "PUT" && r.url.includes("comp=blocklist");

    async function roundTrip(data: Uint8Array) {
      const s = await run(["store"], via(), data);
      const key = keyOf(s);
      const r = await run(["retrieve", "-k", key]);
      expect(r.code).toBe(0);
      expect(Buffer.compare(r.stdout, data)).toBe(0);
      return { key, stderr: s.stderr };
    }

    test("a connection reset in the middle of a block: that block is sent again, the blob byte-identical", async () => {
      const rule = proxy.add({ match: isBlock, fault: { resetAfterRequestBytes: 3 * MiB } });
      const { stderr } = await roundTrip(randomBytes(20 * MiB + 3));
      expect(rule.hits).toBe(1);
      expect(stderr).toContain("trying again");
    });

    for (const status of [500, 503]) {
      test(`a ${status} answer to a block, once: retried, byte-identical`, async () => {
        const rule = proxy.add({ match: isBlock, fault: { status } });
        const { stderr } = await roundTrip(randomBytes(9 * MiB));
        expect(rule.hits).toBe(1);
        expect(stderr).toContain(String(status));
      });
    }

    test("a 503 (ServerBusy) to the commit, once: retried, byte-identical", async () => {
      const rule = proxy.add({ match: isCommit, fault: { status: 503 } });
      await roundTrip(randomBytes(MiB));
      expect(rule.hits).toBe(1);
    });

    test("a reset after the commit reached the service: the retried commit finds its own blob, complete", async () => {
      // The request is forwarded whole, then the answer is cut: the commit happened, the store did not hear it.
      const rule = proxy.add({ match: isCommit, fault: { resetAfterResponseBytes: 0 } });
      await roundTrip(randomBytes(2 * MiB + 1));
      expect(rule.hits).toBe(1);
    });

    test("a permanent failure (403) is not retried, and leaves no blob", async () => {
      const before = await blobs();
      const rule = proxy.add({ match: isBlock, fault: { status: 403, code: "AuthorizationPermissionMismatch", message: "This request is not authorized to perform this operation using this permission." } });
      const s = await run(["store"], via(), randomBytes(9 * MiB));
      expect(s.code).toBe(4);
      expect(rule.hits).toBe(1);
      expect(s.stderr).toContain("AuthorizationPermissionMismatch");
      expect(s.stderr).toContain("nothing committed");
      expect(s.stderr).not.toContain("trying again");
      expect(await blobs()).toEqual(before);
    });

    test("retrieve resumes from the byte where the connection broke (a range request), byte-identical", async () => {
      const data = randomBytes(24 * MiB + 5);
      const key = keyOf(await run(["store"], endpoint(), data));
      const ranges: string[] = [];
      proxy.add({ match: (r) => { if (r.method === "GET" && r.url.includes(key)) ranges.push(r.headers["x-ms-range"] ?? r.headers.range ?? ""); return false; }, fault: { status: 500 }, times: 1e9 });
      const rule = proxy.add({ match: (r) => r.method === "GET" && r.url.includes(key), fault: { resetAfterResponseBytes: 5 * MiB }, times: 2 });
      const r = await run(["retrieve", "-k", key], via());
      expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
      expect(rule.hits).toBe(2);
      expect(r.stdout.byteLength).toBe(data.byteLength);
      expect(Buffer.compare(r.stdout, data)).toBe(0);
      expect(r.stderr).toContain("resuming from there");
      // Three requests: from 0, then from where each break left off (never from the start again).
      expect(ranges).toHaveLength(3);
      const starts = ranges.map((h) => Number(/bytes=(\d+)-/.exec(h)?.[1] ?? 0));
      expect(starts[0]).toBe(0);
      expect(starts[1]).toBeGreaterThan(0);
      expect(starts[2]).toBeGreaterThan(starts[1]!);
    });
  });
});
