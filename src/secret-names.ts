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
