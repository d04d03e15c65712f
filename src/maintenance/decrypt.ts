// `shield archive decrypt`: turns a stored blob back into the plugin's backup
// stream without a daemon, given the master key and the archive's wrapped key
// (the encryption_key column of the catalog's archives table; the API never shows
// it, so that a leaked master key alone does not open archives). For disaster recovery by hand.
import { readFileSync } from "node:fs";
import { parseArgs, UsageError } from "../args.ts";
import { decryptStream, unwrapKey } from "../pipeline/encryption.ts";
import { decompressor } from "../pipeline/compression.ts";
import { pump } from "../pipeline/pump.ts";
import { parseMasterKey } from "../daemon/master-key.ts";

export const DECRYPT_HELP = `Usage: shield archive decrypt --master-key-file FILE --wrapped-key KEY [--compression C] < BLOB > DATA

Decrypts an archive's blob (as the store holds it) from stdin to stdout, checking
every chunk; exits non-zero, with the reason, on any tampering or truncation.

Options:
  --master-key-file FILE   the daemon's master key (DATA_DIR/master.key), base64 of 32 bytes;
                           or set SHIELD_MASTER_KEY
  --wrapped-key KEY        the archive's wrapped data key ("v1:..."), from the catalog:
                           sqlite3 shield-data/shield.db "select encryption_key from archives where uuid='...'"
  --compression C          also decompress: zstd, gzip or none (default none: output the
                           compressed stream, as recorded on the archive)

Example:
  shield plugin fs retrieve --endpoint '{"base_dir":"/backups"}' --key KEY \\
    | shield archive decrypt --master-key-file shield-data/master.key --wrapped-key 'v1:...' --compression zstd \\
    | pg_restore -d mydb
`;

export async function archiveDecrypt(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, [
    { name: "master-key-file" }, { name: "wrapped-key" }, { name: "compression" }, { name: "help", short: "h", flag: true },
  ]);
  if (options.help) { process.stdout.write(DECRYPT_HELP); return 0; }
  const keyText = options["master-key-file"] ? readFileSync(options["master-key-file"] as string, "utf8") : process.env.SHIELD_MASTER_KEY;
  if (!keyText) throw new UsageError("give --master-key-file FILE or SHIELD_MASTER_KEY");
  if (!options["wrapped-key"]) throw new UsageError("give --wrapped-key (the archive's encryption key, \"v1:...\")");
  const masterKey = parseMasterKey(keyText, (options["master-key-file"] as string) ?? "SHIELD_MASTER_KEY");
  const dataKey = unwrapKey(masterKey, options["wrapped-key"] as string);
  const unzip = decompressor((options.compression as string) ?? "none");

  const plain = Bun.stdin.stream().pipeThrough(decryptStream(dataKey));
  if (!unzip) {
    await pump(plain, Bun.stdout.writer());
    return 0;
  }
  const z = Bun.spawn(unzip, { stdin: "pipe", stdout: "inherit", stderr: "inherit" });
  await pump(plain, z.stdin);
  const code = await z.exited;
  if (code !== 0) throw new Error(`${unzip[0]} failed (exit ${code})`);
  return 0;
}
