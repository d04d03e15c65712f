// Keys of the agent channel. Both ends are Ed25519 key pairs kept as PKCS#8 PEM
// (the core's is daemon/keys.ts's host_key; the agent's is made the same way in
// its own data dir). ssh2 reads private keys only in OpenSSH's own format, so the
// PEM is rewritten into it here; public keys travel in authorized_keys form
// ("ssh-ed25519 AAAA… comment"), and an operator compares them by the
// fingerprint OpenSSH prints (`SHA256:` + unpadded base64 of the key blob's SHA-256).
import { createHash, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from "node:crypto";

const ALGO = "ssh-ed25519";

function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

function rawKeys(key: KeyObject): { pub: Buffer; seed: Buffer } {
  const jwk = key.export({ format: "jwk" });
  return { pub: Buffer.from(jwk.x!, "base64url"), seed: Buffer.from(jwk.d!, "base64url") };
}

/** The public key blob (RFC 8709): string "ssh-ed25519", string key. */
export function publicBlob(key: KeyObject): Buffer {
  const pub = Buffer.from(createPublicKey(key).export({ format: "jwk" }).x!, "base64url");
  return Buffer.concat([sshString(Buffer.from(ALGO)), sshString(pub)]);
}

/** An Ed25519 private key (PKCS#8 PEM) in the unencrypted "openssh-key-v1" format ssh2 reads. */
export function opensshPrivateKey(pem: string | Buffer, comment = "shield"): string {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`an ${key.asymmetricKeyType} key: the agent channel uses Ed25519 keys`);
  const { pub, seed } = rawKeys(key);
  const pubBlob = Buffer.concat([sshString(Buffer.from(ALGO)), sshString(pub)]);
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, sshString(Buffer.from(ALGO)), sshString(pub),
    sshString(Buffer.concat([seed, pub])), sshString(Buffer.from(comment))]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const none = sshString(Buffer.from("none"));
  const body = Buffer.concat([Buffer.from("openssh-key-v1\0"), none, none, sshString(Buffer.alloc(0)),
    Buffer.from([0, 0, 0, 1]), sshString(pubBlob), sshString(priv)]);
  const b64 = body.toString("base64").replace(/.{70}/g, "$&\n");
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/** "SHA256:…" of a public key blob, as `ssh-keygen -lf` prints it. */
export function fingerprint(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** The blob of one authorized_keys line ("ssh-ed25519 AAAA… comment"), or undefined when it is not one. */
export function parsePublicKeyLine(line: string): Buffer | undefined {
  const m = /^\s*(ssh-ed25519)\s+([A-Za-z0-9+/=]+)(\s.*)?$/.exec(line);
  if (!m) return undefined;
  const blob = Buffer.from(m[2]!, "base64");
  // The blob must say what the line says: a line naming one algorithm over another's key is refused.
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (len !== ALGO.length || blob.subarray(4, 4 + len).toString() !== ALGO) return undefined;
  return blob;
}

/** Every key of an authorized_keys text; comments and blank lines skipped; other lines are errors. */
export function parseAuthorizedKeys(text: string, where: string): Buffer[] {
  const keys: Buffer[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim() || line.trim().startsWith("#")) return;
    const blob = parsePublicKeyLine(line);
    if (!blob) throw new Error(`${where} line ${i + 1}: not an "ssh-ed25519 AAAA…" public key (the form GET /v1/meta/pubkey serves)`);
    keys.push(blob);
  });
  return keys;
}
