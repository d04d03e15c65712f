// Which endpoint values are secrets: the one rule, shared by everything that
// hides them (the API's viewer redaction, the catalog's encryption at rest, the
// task log's masking, the CLI's readable output). A plain module with no imports,
// so the CLI (which may reach nothing of the daemon's) can share it.
//
// A value is secret when the plugin's `info` declares its field with type
// "password" (top-level fields only: that is all `fields` can name), or when its
// key is named like a secret, at any depth. The name rule stands in for plugins
// that declare nothing (or cannot be asked) and catches a secret declared
// carelessly as a plain string. Over-hiding costs a harmless value; so anything
// mentioning a password, secret, token or credential goes, and `key` as a whole
// word at the end (key, api_key, storage_account_key, sshKey) but not in the
// middle (access_key_id, key_id, keyspace are names, not secrets).

const SECRET_WORD = /pass|pwd|secret|token|credential|private|auth/i;
const SECRET_KEY_END = /(?:^|[_\-.])key$|apikey$/i;
const CAMEL_KEY_END = /[a-z0-9]Key$/;

/** The name rule: a key whose value is a secret whatever the plugin says. */
export function looksSecret(name: string): boolean {
  return SECRET_WORD.test(name) || SECRET_KEY_END.test(name) || CAMEL_KEY_END.test(name);
}

/**
 * A copy of an endpoint object with every secret value replaced by what
 * `replace` makes of it (given the value and its key). `declared` holds the
 * plugin's password fields. The value under a secret key is replaced whole,
 * even an object or array; elsewhere objects are searched, nested in arrays too.
 */
export function mapSecrets(endpoint: Record<string, unknown>, declared: ReadonlySet<string>, replace: (value: unknown, key: string) => unknown): Record<string, unknown> {
  const byName = (key: string, value: unknown): unknown => {
    if (key && looksSecret(key)) return replace(value, key);
    if (Array.isArray(value)) return value.map((x) => byName("", x));
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, byName(k, v)]));
    return value;
  };
  return Object.fromEntries(Object.entries(endpoint).map(([k, v]) => [k, declared.has(k) ? replace(v, k) : byName(k, v)]));
}

/** A field as a plugin's `info` declares it; only its type matters here. */
interface Declaration { name?: unknown; type?: unknown }

/**
 * Whether the value under `key` is a secret: its field is declared a password
 * (`field`, when the plugin declares one by that name), or its name says so.
 */
export function isSecretField(field: Declaration | undefined, key: string): boolean {
  return field?.type === "password" || looksSecret(key);
}

/**
 * The top-level endpoint keys a plugin's `info` declares with type "password".
 * `fields` is the plugin's own output (possibly a plugin written for the original
 * Shield, whose fields also carry "mode"): only well-formed entries count.
 */
export function passwordFields(info: { fields?: unknown } | undefined): ReadonlySet<string> {
  const fields = info?.fields;
  if (!Array.isArray(fields)) return new Set();
  return new Set((fields as (Declaration | null)[]).flatMap((f) => (f && typeof f.name === "string" && f.type === "password" ? [f.name] : [])));
}

/**
 * The top-level keys of `endpoint` that are secret or hold a secret below them,
 * for the plugin whose `info` is given (undefined: the name rule alone).
 */
export function secretKeys(info: { fields?: unknown } | undefined, endpoint: Record<string, unknown>): string[] {
  const declared = passwordFields(info);
  const within = (key: string, value: unknown): boolean => (key !== "" && looksSecret(key))
    || (Array.isArray(value) ? value.some((x) => within("", x))
      : !!value && typeof value === "object" && Object.entries(value).some(([k, v]) => within(k, v)));
  return Object.keys(endpoint).filter((k) => declared.has(k) || within(k, endpoint[k]));
}
