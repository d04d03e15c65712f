// The agent channel's keys and framing, in-process.
import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { utils } from "ssh2";
import { sshPublicKey } from "../../src/daemon/keys.ts";
import { fingerprint, opensshPrivateKey, parseAuthorizedKeys, parsePublicKeyLine, publicBlob } from "../../src/agent/keys.ts";
import { COMMIT_FRAME, Deframer, frame } from "../../src/agent/protocol.ts";
import { osPipe } from "../../src/agent/os-pipe.ts";
import { seal } from "../../src/pipeline/seal.ts";
import { decryptStream } from "../../src/pipeline/encryption.ts";

const sshKeygen = Bun.which("ssh-keygen");

describe("keys", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;

  test("the daemon's PKCS#8 key becomes an OpenSSH key ssh2 reads, with the same public half", () => {
    const parsed = utils.parseKey(opensshPrivateKey(pem));
    expect(parsed).not.toBeInstanceOf(Error);
    expect(Buffer.from(parsed.getPublicSSH()).equals(publicBlob(privateKey))).toBe(true);
    // It signs what the public key (as /v1/meta/pubkey serves it) verifies.
    const pub = utils.parseKey(sshPublicKey(publicKey));
    const sig = parsed.sign(Buffer.from("hello"));
    expect(pub.verify(Buffer.from("hello"), sig)).toBe(true);
  });

  test.skipIf(!sshKeygen)("fingerprints are the ones ssh-keygen prints; OpenSSH reads the private key", () => {
    const dir = mkdtempSync(join(tmpdir(), "shield-keys-"));
    try {
      writeFileSync(join(dir, "k.pub"), sshPublicKey(publicKey) + "\n");
      const out = Bun.spawnSync([sshKeygen!, "-lf", join(dir, "k.pub")]).stdout.toString();
      expect(out).toContain(fingerprint(publicBlob(privateKey)));
      writeFileSync(join(dir, "k"), opensshPrivateKey(pem), { mode: 0o600 });
      const derived = Bun.spawnSync([sshKeygen!, "-y", "-f", join(dir, "k")]).stdout.toString();
      expect(derived.split(" ").slice(0, 2).join(" ")).toBe(sshPublicKey(publicKey).split(" ").slice(0, 2).join(" "));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("authorized keys: comments and blank lines skipped; anything else is an error naming the line", () => {
    const line = sshPublicKey(publicKey);
    expect(parseAuthorizedKeys(`# the core\n\n${line}\n`, "f")).toHaveLength(1);
    expect(() => parseAuthorizedKeys(`${line}\nssh-rsa AAAAB3NzaC1yc2E x\n`, "keys.txt")).toThrow("keys.txt line 2");
    // A line that says ed25519 over a blob of another algorithm is no key.
    const lying = `ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from("ssh-rsa"), Buffer.alloc(8)]).toString("base64")}`;
    expect(parsePublicKeyLine(lying)).toBeUndefined();
  });
});

describe("restore framing", () => {
  test("payload comes through whatever the cuts; only the zero frame commits", () => {
    const data = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    const wire = Buffer.concat([frame(data.subarray(0, 70_000)), frame(data.subarray(70_000)), COMMIT_FRAME]);
    for (const cut of [1, 3, 4, 5, 4096, 70_003, 70_004]) {
      const got: Buffer[] = [];
      let committed = 0;
      const d = new Deframer((b) => got.push(Buffer.from(b)), () => committed++);
      for (let at = 0; at < wire.length; at += cut) d.push(wire.subarray(at, at + cut));
      expect(Buffer.concat(got).equals(data)).toBe(true);
      expect(committed).toBe(1);
    }
    // Without the zero frame: no commit, however much came.
    const d = new Deframer(() => {}, () => { throw new Error("committed"); });
    d.push(frame(data));
    expect(d.committed).toBe(false);
    expect(() => { const e = new Deframer(() => {}, () => {}); e.push(Buffer.concat([COMMIT_FRAME, Buffer.from([1])])); }).toThrow("after the commit");
  });
});

describe("sealing on the agent", () => {
  // As server.ts does it: a process writes into a kernel pipe (os-pipe.ts), the agent seals
  // what it reads with seal.ts, and checks the stages' exits before the last chunk.
  async function sealFromProcess(data: Buffer, key: Uint8Array, beforeLast?: () => Promise<void>) {
    const pipe = osPipe();
    const writer = Bun.spawn(["cat"], { stdin: "pipe", stdout: pipe.write });
    pipe.closeWrite();
    void (async () => { for (let at = 0; at < data.length; at += 100_003) { writer.stdin.write(data.subarray(at, at + 100_003)); await writer.stdin.flush(); } await writer.stdin.end(); })();
    const parts: Uint8Array[] = [];
    try {
      const sealed = await seal({ from: { nonBlocking: pipe.nonBlocking, blocking: pipe.read }, write: (b) => { parts.push(b); }, writeKeepsChunks: true, dataKey: key, beforeLast });
      return { parts, sealed };
    } catch (err) {
      return { parts, error: err as Error };
    } finally {
      pipe.closeRead();
      await writer.exited;
    }
  }

  test("what the agent seals from a process's pipe, the core's decryption opens; its count and SHA-256 are of the sealed bytes", async () => {
    const key = new Uint8Array(32).fill(9);
    const data = Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 17 }, (_, i) => (i * 7) % 256));
    const { parts, sealed } = await sealFromProcess(data, key);
    const all = Buffer.concat(parts);
    expect(sealed).toMatchObject({ bytesIn: data.length, bytes: all.length, sha256: new Bun.CryptoHasher("sha256").update(all).digest("hex") });
    const opened = await new Response(new Blob(parts).stream().pipeThrough(decryptStream(key))).arrayBuffer();
    expect(Buffer.from(opened).equals(data)).toBe(true);
    // Cut before its last chunk (a stream cut half way), it does not open.
    const cut = parts.slice(0, -1);
    await expect(new Response(new Blob(cut).stream().pipeThrough(decryptStream(key))).arrayBuffer()).rejects.toThrow();
  });

  test("a stage that failed (the check before the last chunk throws): no last chunk, so nothing that opens", async () => {
    const key = new Uint8Array(32).fill(9);
    const { parts, error } = await sealFromProcess(Buffer.alloc(200_000, 1), key, async () => { throw new Error("zstd failed (exit 1)"); });
    expect(error?.message).toBe("zstd failed (exit 1)");
    await expect(new Response(new Blob(parts).stream().pipeThrough(decryptStream(key))).arrayBuffer()).rejects.toThrow();
  });
});
