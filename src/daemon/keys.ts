// The daemon's key pair: created at first start in the data dir; its public half
// is served by /v1/meta/pubkey in SSH format so that agents can authorize the core.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface HostKey { privateKey: KeyObject; sshPublicKey: string }

export function loadOrCreateHostKey(dataDir: string): HostKey {
  const path = join(dataDir, "host_key");
  if (!existsSync(path)) {
    const { privateKey } = generateKeyPairSync("ed25519");
    // wx: never overwrite a key another process wrote meanwhile.
    try {
      writeFileSync(path, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  const privateKey = createPrivateKey(readFileSync(path));
  return { privateKey, sshPublicKey: sshPublicKey(createPublicKey(privateKey)) };
}

/** "ssh-ed25519 AAAA... core@shield", the authorized_keys form (RFC 8709). */
export function sshPublicKey(key: KeyObject): string {
  const raw = Buffer.from(key.export({ format: "jwk" }).x!, "base64url");
  const str = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([str(Buffer.from("ssh-ed25519")), str(raw)]);
  return `ssh-ed25519 ${blob.toString("base64")} core@shield`;
}
