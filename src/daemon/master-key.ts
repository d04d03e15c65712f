// The master key wraps every archive's data key. It is generated into the data
// dir at first start (mode 0600) unless SHIELD_MASTER_KEY gives it (base64 of
// 32 bytes), which keeps it off the disk next to the catalog.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export function loadOrCreateMasterKey(dataDir: string, fromEnv: string | undefined): Uint8Array {
  if (fromEnv) return parseMasterKey(fromEnv, "SHIELD_MASTER_KEY");
  const path = join(dataDir, "master.key");
  if (!existsSync(path)) {
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
    try {
      writeFileSync(path, key + "\n", { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  return parseMasterKey(readFileSync(path, "utf8").trim(), path);
}

/** A master key as written in a key file or SHIELD_MASTER_KEY: base64 of 32 bytes. */
export function parseMasterKey(text: string, where: string): Uint8Array {
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== 32) throw new Error(`${where} must hold 32 bytes, base64-encoded (it holds ${key.length})`);
  return new Uint8Array(key);
}
