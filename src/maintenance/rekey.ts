// `shield rekey`: rotates the master key. Every archive's data key is unwrapped
// with the old master key and wrapped with the new one, and every sealed secret
// of a target's or store's endpoint is sealed again under the new key; blobs are
// not touched. Run it with the daemon stopped, then start the daemon with the new key.
import { readFileSync } from "node:fs";
import { parseArgs, UsageError } from "../args.ts";
import { connectCatalog } from "../catalog/index.ts";
import { unwrapKey, wrapKey } from "../pipeline/encryption.ts";
import { EndpointSecrets } from "../pipeline/endpoint-secrets.ts";
import { parseMasterKey } from "../daemon/master-key.ts";

export const REKEY_HELP = `Usage: shield rekey --database URL --old-key-file FILE --new-key-file FILE

(--database may be left out when SHIELD_DATABASE_URL is set: better for a URL with a password)

Re-wraps the key of every archive, and re-seals the secrets of every target and
store endpoint, in the catalog with a new master key. Stop the daemon first;
start it afterwards with the new key (DATA_DIR/master.key or SHIELD_MASTER_KEY).
Keys are files holding base64 of 32 bytes (make one with 'openssl rand -base64 32').
Interrupted, it can be run again with the same keys: what it re-keyed already is kept.
`;

function readKey(path: string): Uint8Array {
  return parseMasterKey(readFileSync(path, "utf8"), path);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

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
    // Everything is unwrapped and re-sealed first: a wrong old key fails before anything is written.
    const wrapped = await catalog.archives.wrappedKeys();
    const rewrapped = wrapped.flatMap((a) => {
      const key = rewrapKey(oldKey, newKey, a.encryptionKey);
      return key === a.encryptionKey ? [] : [{ uuid: a.uuid, key }];
    });
    const oldSecrets = new EndpointSecrets(oldKey);
    const newSecrets = new EndpointSecrets(newKey);
    /** `sealed` re-sealed under the new key; a secret that does not open is named as `what`. */
    const reseal = (sealed: string, what: string): string => {
      try {
        return oldSecrets.rewrap(sealed, newSecrets);
      } catch (err) {
        throw new Error(`${what}: ${(err as Error).message}`);
      }
    };
    const endpoints = (await catalog.endpoints.all()).flatMap((e) => {
      const next = reseal(e.endpoint, `the endpoint of ${e.kind} "${e.name}"`);
      return next === e.endpoint ? [] : [{ ...e, next }];
    });
    // Notification channels keep their secrets sealed the same way (SMTP password, webhook secret and URLs).
    const channels = (await catalog.notifications.channels.list()).flatMap((ch) => {
      const next = reseal(ch.settings, `the settings of notification channel "${ch.name}"`);
      return next === ch.settings ? [] : [{ uuid: ch.uuid, next }];
    });
    // So do auth providers (the LDAP service account's bind_password).
    const providers = (await catalog.authProviders.list()).flatMap((p) => {
      const next = reseal(p.config, `the settings of auth provider "${p.name}"`);
      return next === p.config ? [] : [{ uuid: p.uuid, next }];
    });
    // And what OIDC users keep for re-checks (their refresh token).
    const users = (await catalog.users.list()).flatMap((u) => {
      if (!u.providerData) return [];
      const next = reseal(u.providerData, `the sign-in data of user "${u.name}"`);
      return next === u.providerData ? [] : [{ uuid: u.uuid, next }];
    });
    for (const r of rewrapped) await catalog.archives.setEncryptionKey(r.uuid, r.key);
    let resealed = 0;
    for (const e of endpoints) {
      if (!(await catalog.endpoints.replace(e.kind, e.uuid, e.endpoint, e.next))) throw new Error(`the endpoint of ${e.kind} "${e.name}" changed while re-keying: is a daemon running? Stop it and run rekey again`);
      resealed++;
    }
    for (const ch of channels) await catalog.notifications.channels.update(ch.uuid, { settings: ch.next });
    process.stdout.write(`re-wrapped the keys of ${plural(rewrapped.length, "archive")}; re-sealed the secrets of ${plural(resealed, "endpoint")}\n`);
    if (channels.length) process.stdout.write(`re-sealed the secrets of ${plural(channels.length, "notification channel")}\n`);
    for (const p of providers) await catalog.authProviders.update(p.uuid, p.next);
    if (providers.length) process.stdout.write(`re-sealed the secrets of ${plural(providers.length, "auth provider")}\n`);
    for (const u of users) await catalog.users.update(u.uuid, { providerData: u.next });
    if (users.length) process.stdout.write(`re-sealed the refresh tokens of ${plural(users.length, "single sign-on user")}\n`);
    return 0;
  } finally {
    await catalog.close();
  }
}

/** A wrapped data key under the new master key; one that is already (a rekey run again) is kept. */
function rewrapKey(oldKey: Uint8Array, newKey: Uint8Array, wrapped: string): string {
  try {
    unwrapKey(newKey, wrapped);
    return wrapped;
  } catch {
    return wrapKey(newKey, unwrapKey(oldKey, wrapped));
  }
}
