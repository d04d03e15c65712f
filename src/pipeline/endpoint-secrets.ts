// Endpoint secrets at rest. The catalog keeps every secret value of a target's or
// store's endpoint (src/secret-names.ts says which) sealed with the master key,
// so a copy of the catalog file, its WAL or a database dump holds no password in
// clear. A sealed value replaces the clear one inside the endpoint's JSON, so the
// rest of the endpoint stays readable to people looking at the catalog:
//
//   {"pg_user":"backup","pg_password":"shield-sealed:v1:<base64 of nonce | ciphertext | tag>"}
//
// The AEAD is the one that wraps archive keys (AES-256-GCM under the master key,
// a random 96-bit nonce per value); the associated data names the key the value
// sits under, so a sealed password cannot be moved to a field that is logged.
// What is sealed is the value's JSON, so a number or an object comes back as itself.
// Values are opened only where a plugin needs them (the supervisor, before a
// pipeline) and for the API's answers to operators; `shield rekey` re-seals them.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { mapSecrets } from "../secret-names.ts";
import { KEY_LENGTH, NONCE_LENGTH, TAG_LENGTH } from "./encryption.ts";

export const SEALED_PREFIX = "shield-sealed:v1:";
const AAD = "shield endpoint secret v1\0";

/** A sealed value does not open with this master key (another key, or damaged). */
export class SecretUnreadable extends Error {}

export function isSealed(value: unknown): value is string {
  return typeof value === "string" && value.startsWith(SEALED_PREFIX);
}

export interface Opened {
  /** The endpoint with every sealed value opened. */
  endpoint: string;
  /** The opened values (their text), for the task log to mask. */
  secrets: string[];
}

function parseObject(endpoint: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(endpoint);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Every string in a JSON value, with the key it sits under, replaced by `f`'s answer. */
function mapStrings(value: unknown, key: string, f: (s: string, key: string) => unknown): unknown {
  if (typeof value === "string") return f(value, key);
  if (Array.isArray(value)) return value.map((x) => mapStrings(x, key, f));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, k, f)]));
  return value;
}

/** The text of a secret's leaves, for masking: strings and numbers of two characters or more. */
function leaves(value: unknown, out: string[]): void {
  if (typeof value === "string" || typeof value === "number") {
    const s = String(value);
    if (s.length >= 2) out.push(s);
  } else if (value && typeof value === "object") {
    for (const v of Object.values(value)) leaves(v, out);
  }
}

/**
 * Seals and opens the secret values of endpoints with one master key. Every
 * method takes and gives the endpoint as the catalog stores it: a string holding
 * a JSON object. An endpoint that is not one holds no value to seal and is left as it is.
 */
export class EndpointSecrets {
  private readonly key: Buffer;

  constructor(masterKey: Uint8Array) {
    if (!(masterKey instanceof Uint8Array) || masterKey.length !== KEY_LENGTH) throw new TypeError(`master key must be ${KEY_LENGTH} bytes`);
    this.key = Buffer.from(masterKey);
  }

  private sealValue(value: unknown, key: string): string {
    const nonce = randomBytes(NONCE_LENGTH);
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce, { authTagLength: TAG_LENGTH });
    cipher.setAAD(Buffer.from(AAD + key));
    const sealed = Buffer.concat([nonce, cipher.update(JSON.stringify(value) ?? "null", "utf8"), cipher.final(), cipher.getAuthTag()]);
    return SEALED_PREFIX + sealed.toString("base64");
  }

  // Opened values by key name and sealed text: an operator's list of thousands of
  // jobs opens the same few endpoints again and again, and each opening costs a
  // cipher setup (~20 µs). A sealed text is unique (random nonce), so it never
  // stands for two values. Bounded; the oldest go first.
  private readonly opened = new Map<string, string>();
  private static readonly OPENED_MAX = 4096;

  /** The value sealed in `text`, or SecretUnreadable. */
  private openValue(text: string, key: string): unknown {
    const cacheKey = `${key}\0${text}`;
    const hit = this.opened.get(cacheKey);
    if (hit !== undefined) return JSON.parse(hit);
    const clear = this.decrypt(text, key);
    if (this.opened.size >= EndpointSecrets.OPENED_MAX) this.opened.delete(this.opened.keys().next().value!);
    this.opened.set(cacheKey, clear);
    return JSON.parse(clear);
  }

  private decrypt(text: string, key: string): string {
    const sealed = Buffer.from(text.slice(SEALED_PREFIX.length), "base64");
    if (sealed.length < NONCE_LENGTH + TAG_LENGTH) throw new SecretUnreadable(`the sealed value of "${key}" is damaged (too short)`);
    const decipher = createDecipheriv("aes-256-gcm", this.key, sealed.subarray(0, NONCE_LENGTH), { authTagLength: TAG_LENGTH });
    decipher.setAAD(Buffer.from(AAD + key));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
    let clear: string;
    try {
      clear = Buffer.concat([decipher.update(sealed.subarray(NONCE_LENGTH, sealed.length - TAG_LENGTH)), decipher.final()]).toString("utf8");
    } catch {
      throw new SecretUnreadable(`the sealed value of "${key}" does not open with this master key (sealed under another key, or damaged)`);
    }
    return clear;
  }

  private opens(text: string, key: string): boolean {
    try {
      this.openValue(text, key);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The endpoint with every secret value sealed; `declared` holds the plugin's
   * password fields. A value already sealed under this key is kept, so sealing
   * twice changes nothing. A value that only looks sealed (not ours) is sealed
   * like any other, so it comes back as it was given.
   */
  seal(endpoint: string, declared: ReadonlySet<string>): string {
    const obj = parseObject(endpoint);
    if (!obj) return endpoint;
    let changed = false;
    const out = mapSecrets(obj, declared, (value, key) => {
      if (isSealed(value) && this.opens(value, key)) return value;
      changed = true;
      return this.sealValue(value, key);
    });
    return changed ? JSON.stringify(out) : endpoint;
  }

  /**
   * The endpoint with every sealed value opened, and those values. A value that
   * does not open throws SecretUnreadable, or becomes `unreadable` when given.
   */
  open(endpoint: string, unreadable?: unknown): Opened {
    const obj = parseObject(endpoint);
    if (!obj || !endpoint.includes(SEALED_PREFIX)) return { endpoint, secrets: [] };
    const secrets: string[] = [];
    const out = mapStrings(obj, "", (s, key) => {
      if (!isSealed(s)) return s;
      try {
        const value = this.openValue(s, key);
        leaves(value, secrets);
        return value;
      } catch (err) {
        if (unreadable === undefined) throw err;
        return unreadable;
      }
    });
    return { endpoint: JSON.stringify(out), secrets };
  }

  /** How many values of the endpoint are sealed (under any key). */
  static countSealed(endpoint: string): number {
    return endpoint.split(SEALED_PREFIX).length - 1;
  }

  /**
   * The endpoint with every value sealed under this key sealed again under
   * `next`'s. A value that already opens with `next` is kept, so a rekey
   * interrupted and run again finishes the job; one that opens with neither throws.
   */
  rewrap(endpoint: string, next: EndpointSecrets): string {
    const obj = parseObject(endpoint);
    if (!obj || !endpoint.includes(SEALED_PREFIX)) return endpoint;
    const out = mapStrings(obj, "", (s, key) => {
      if (!isSealed(s)) return s;
      if (next.opens(s, key)) return s;
      return next.sealValue(this.openValue(s, key), key);
    });
    return JSON.stringify(out);
  }
}
