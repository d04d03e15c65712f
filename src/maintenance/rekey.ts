// `shield rekey`: rotates the master key. Every archive's data key is unwrapped
// with the old master key and wrapped with the new one; blobs are not touched.
// Run it with the daemon stopped, then start the daemon with the new key.
import { readFileSync } from "node:fs";
import { parseArgs, UsageError } from "../args.ts";
import { connectCatalog } from "../catalog/index.ts";
import { unwrapKey, wrapKey } from "../pipeline/encryption.ts";
import { parseMasterKey } from "../daemon/master-key.ts";

export const REKEY_HELP = `Usage: shield rekey --database URL --old-key-file FILE --new-key-file FILE

(--database may be left out when SHIELD_DATABASE_URL is set: better for a URL with a password)

Re-wraps the key of every archive in the catalog with a new master key. Stop the
daemon first; start it afterwards with the new key (DATA_DIR/master.key or
SHIELD_MASTER_KEY). Keys are files holding base64 of 32 bytes (make one with
'openssl rand -base64 32').
`;

function readKey(path: string): Uint8Array {
  return parseMasterKey(readFileSync(path, "utf8"), path);
}

export async function rekey(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, [
    { name: "database" }, { name: "old-key-file" }, { name: "new-key-file" }, { name: "help", short: "h", flag: true },
  ]);
  if (options.help) { process.stdout.write(REKEY_HELP); return 0; }
  // The environment keeps a catalog password out of the process list.
  options.database ??= process.env.SHIELD_DATABASE_URL;
  for (const o of ["database", "old-key-file", "new-key-file"]) if (!options[o]) throw new UsageError(`--${o} is required (shield rekey --help)`);
  const oldKey = readKey(options["old-key-file"] as string);
  const newKey = readKey(options["new-key-file"] as string);
  const catalog = await connectCatalog(options.database as string);
  try {
    const wrapped = await catalog.archives.wrappedKeys();
    // Unwrap all first: a wrong old key fails before anything is written.
    const rewrapped = wrapped.map((a) => ({ uuid: a.uuid, key: wrapKey(newKey, unwrapKey(oldKey, a.encryptionKey)) }));
    for (const r of rewrapped) await catalog.archives.setEncryptionKey(r.uuid, r.key);
    process.stdout.write(`re-wrapped the keys of ${rewrapped.length} archive${rewrapped.length === 1 ? "" : "s"}\n`);
    return 0;
  } finally {
    await catalog.close();
  }
}
