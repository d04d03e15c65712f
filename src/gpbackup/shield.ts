// Shield mode: gpbackup's files and data streams go into a Shield store, through
// that store's plugin run right here on the Greenplum host (`shield plugin NAME
// store|retrieve|purge`, the endpoint in SHIELD_ENDPOINT, never in the process
// arguments), and every object is recorded in the core's catalog (POST
// /v1/gpbackup/objects) under one archive per backup timestamp, which expires by
// the configured retention policy. The core tells us the store's plugin and
// endpoint (GET /v1/stores, operator token); the config file never holds them.
//
// Each object is sealed here, on the Greenplum host, before the store sees it
// (sealing.ts): encrypted with the backup's data key unless `shield_encryption:
// off`, and compressed with zstd when `shield_compression: zstd` (off by default:
// gpbackup compresses its data itself). The backup's archive records both, and
// every object of one backup is sealed alike: the first segment to begin a backup
// decides, the core answers the others with what it decided.
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { NotFound, type Backend } from "./backend.ts";
import type { ShieldConfig } from "./config.ts";
import type { Sink } from "./transfer.ts";
import { CIPHER_ID } from "../pipeline/encryption.ts";
import { open, seal, type ObjectSealing } from "./sealing.ts";

export class ShieldError extends Error {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How long delete_backup waits for the purger to purge every object. */
const PURGE_WAIT_MS = Number(process.env.SHIELD_GPBACKUP_PURGE_WAIT_MS ?? 300_000);

interface StoreJson { uuid: string; name: string; plugin: string; endpoint: string }
/** How the core answers for a backup's sealing (POST /v1/gpbackup/backups, GET /v1/gpbackup/object). */
interface SealingJson { compression: string; cipher: string; key?: string }

function sealingOf(j: SealingJson): ObjectSealing {
  if (j.cipher !== "none" && j.cipher !== CIPHER_ID) throw new ShieldError(`the backup is sealed with cipher "${j.cipher}", which this plugin cannot read`);
  if (j.compression !== "none" && j.compression !== "zstd") throw new ShieldError(`the backup is compressed with "${j.compression}", which this plugin cannot read`);
  if (j.cipher !== "none" && !j.key) throw new ShieldError("the core did not give the backup's data key");
  return { compression: j.compression, dataKey: j.cipher === "none" ? undefined : new Uint8Array(Buffer.from(j.key!, "base64")) };
}

/** `shield plugin` as this very executable runs it (compiled, or `bun src/main.ts` in development). */
function shieldArgv(): string[] {
  return basename(process.execPath).startsWith("bun") ? [process.execPath, Bun.main] : [process.execPath];
}

export class ShieldBackend implements Backend {
  /** The sealing of each backup this process writes to, asked of the core once. */
  private readonly sealings = new Map<string, Promise<ObjectSealing>>();

  private constructor(readonly config: ShieldConfig, readonly store: StoreJson, private readonly argv: string[]) {}

  static async connect(config: ShieldConfig): Promise<ShieldBackend> {
    const api = new CoreApi(config);
    // A viewer would read the store's endpoint with its secrets masked and fail in the store, obscurely.
    const me = await api.call<{ name: string; role: string }>("GET", "/v1/auth/whoami");
    if (me.role === "viewer") throw new ShieldError(`the token given to the plugin is viewer "${me.name}"'s; the plugin needs an operator's (or an admin's) token`);
    let store: StoreJson | undefined;
    if (UUID.test(config.store)) {
      store = await api.call<StoreJson>("GET", `/v1/store/${config.store}`, undefined, { 404: () => `no store with uuid ${config.store}` });
    } else {
      const all = await api.call<StoreJson[]>("GET", "/v1/stores?limit=1000");
      store = all.find((s) => s.name === config.store);
      if (!store) throw new ShieldError(`the Shield core at ${config.core} has no store named "${config.store}"`);
    }
    // Checked before anything is stored: a blob stored and then refused by the catalog would be nobody's.
    const policies = await api.call<{ name: string; uuid: string }[]>("GET", "/v1/retention?limit=1000");
    if (!policies.some((p) => p.name === config.retention || p.uuid === config.retention.toLowerCase())) {
      throw new ShieldError(`the Shield core at ${config.core} has no retention policy named "${config.retention}"`);
    }
    return new ShieldBackend(config, store, await pluginArgv(store.plugin));
  }

  private get api(): CoreApi { return new CoreApi(this.config); }

  /** connect() has reached the core and found the store and the policy: that is the check. */
  async probe(): Promise<void> {}

  private ref(key: string) {
    const ts = key.split("/")[2]!;
    return { target_name: this.config.targetName, store: this.store.uuid, timestamp: ts };
  }

  private spawn(action: string, key?: string, stdin: "pipe" | "ignore" = "ignore") {
    return Bun.spawn([...this.argv, action, ...(key ? ["--key", key] : [])], {
      // This executable may be a copy named gpbackup_shield_plugin: argv0 says which role to play.
      argv0: this.argv[0] === process.execPath && this.argv[1] === "plugin" ? "shield" : undefined,
      env: { ...process.env, SHIELD_ENDPOINT: this.store.endpoint },
      stdin, stdout: "pipe", stderr: "pipe",
    });
  }

  /** Begins (or joins) the backup of this key's timestamp: how its objects are sealed. */
  private begin(key: string): Promise<ObjectSealing> {
    const ref = this.ref(key);
    let sealing = this.sealings.get(ref.timestamp);
    if (!sealing) {
      sealing = this.api.call<SealingJson>("POST", "/v1/gpbackup/backups", {
        ...ref, retention: this.config.retention,
        compression: this.config.compression, cipher: this.config.encryption ? CIPHER_ID : "none",
      }).then(sealingOf);
      this.sealings.set(ref.timestamp, sealing);
    }
    return sealing;
  }

  async put(key: string, plain: AsyncIterable<Uint8Array>): Promise<number> {
    const source = seal(plain, await this.begin(key));
    const proc = this.spawn("store", undefined, "pipe");
    const stdin = proc.stdin as import("bun").FileSink;
    const out = new Response(proc.stdout).text();
    const err = new Response(proc.stderr).text();
    let size = 0;
    try {
      for await (const chunk of source) {
        stdin.write(chunk);
        size += chunk.length;
        await stdin.flush();
      }
      await stdin.end();
    } catch (e) {
      // Most often the store died and closed its stdin (EPIPE): its own words say why.
      proc.kill();
      await proc.exited;
      throw new ShieldError(`store "${this.store.name}" (${this.store.plugin}) failed to store ${key}: ${lastLine(await err) || (e as Error).message}`);
    }
    const code = await proc.exited;
    if (code !== 0) throw new ShieldError(`store "${this.store.name}" (${this.store.plugin}) failed to store ${key}: ${lastLine(await err) || `exit ${code}`}`);
    let stored: { key?: string; size?: number };
    try { stored = JSON.parse((await out).trim()); } catch { throw new ShieldError(`store "${this.store.name}" answered no key for ${key}`); }
    if (!stored.key) throw new ShieldError(`store "${this.store.name}" answered no key for ${key}`);
    let recorded: { replaced?: string };
    try {
      recorded = await this.api.call<{ replaced?: string }>("POST", "/v1/gpbackup/objects", {
        ...this.ref(key), retention: this.config.retention, name: key, store_key: stored.key, size,
      });
    } catch (err) {
      // Not in the catalog, so no purger would ever find it: take it back out of the store now.
      await this.purgeKey(stored.key).catch(() => {});
      throw err;
    }
    if (recorded.replaced) await this.purgeKey(recorded.replaced).catch(() => {}); // the purger cannot see it any more; best effort
    return size;
  }

  private async purgeKey(storeKey: string): Promise<void> {
    const proc = this.spawn("purge", storeKey);
    const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    if (code !== 0) throw new ShieldError(`purge of ${storeKey} failed: ${lastLine(err)}`);
  }

  async get(key: string, sink: Sink): Promise<number> {
    return this.getRange(key, 0, Infinity, sink);
  }

  async getRange(key: string, start: number, end: number, sink: Sink): Promise<number> {
    const q = new URLSearchParams({ ...this.ref(key), name: key });
    const object = await this.api.call<{ store_key: string; size: number } & SealingJson>("GET", `/v1/gpbackup/object?${q}`, undefined, {
      404: (msg) => { throw new NotFound(`no ${key} in Shield (${msg})`); },
    });
    const sealing = sealingOf(object);
    const proc = this.spawn("retrieve", object.store_key);
    const err = new Response(proc.stderr).text();
    let stored = 0;
    let ended = false;
    const counted = (proc.stdout as ReadableStream<Uint8Array>).pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) { stored += chunk.length; controller.enqueue(chunk); },
      flush() { ended = true; },
    }));
    let at = 0;
    let sent = 0;
    let early = false;
    try {
      for await (const chunk of open(counted, sealing) as unknown as AsyncIterable<Uint8Array>) {
        // A subset restore reads the ranges it needs out of the one stream: the store plugins have no ranged retrieve.
        const from = Math.max(0, start - at);
        const to = Math.min(chunk.length, end + 1 - at);
        if (to > from) {
          await sink(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
          sent += to - from;
        }
        at += chunk.length;
        if (at > end) { early = true; break; }
      }
    } catch (e) {
      // A store whose output ended early, and failed, says why in its own words; bytes that
      // failed to open before the store's output ended (authentication) are the cause themselves.
      if (!ended) proc.kill();
      const code = await proc.exited;
      throw new ShieldError(`${key}: ${(ended && code !== 0 && lastLine(await err)) || (e as Error).message}`);
    }
    if (early) proc.kill();
    const code = await proc.exited;
    if (!early && code !== 0) throw new ShieldError(`store "${this.store.name}" failed to retrieve ${key}: ${lastLine(await err) || `exit ${code}`}`);
    if (!early && stored !== object.size) throw new ShieldError(`${key}: retrieved ${stored} of its ${object.size} stored bytes`);
    return sent;
  }

  async deleteBackup(timestamp: string): Promise<void> {
    const res = await this.api.call<{ archive_uuid: string | null }>("POST", "/v1/gpbackup/delete", {
      target_name: this.config.targetName, store: this.store.uuid, timestamp,
    });
    if (!res.archive_uuid) return;
    // gpbackup expects the backup gone when delete_backup returns: wait for the purger.
    const until = Date.now() + PURGE_WAIT_MS;
    for (;;) {
      const a = await this.api.call<{ status: string; purge_error: string | null }>("GET", `/v1/archive/${res.archive_uuid}`);
      if (a.status === "purged") return;
      if (a.status === "purge_failed") throw new ShieldError(`Shield could not purge backup ${timestamp} (archive ${res.archive_uuid}): ${a.purge_error}`);
      if (Date.now() > until) throw new ShieldError(`backup ${timestamp} (archive ${res.archive_uuid}) is deleted in Shield but not yet purged; the purger finishes it`);
      await Bun.sleep(250);
    }
  }
}

/** The command that runs a store plugin: a built-in one in this executable, else an executable of that name on the plugin path. */
async function pluginArgv(name: string): Promise<string[]> {
  const { builtinNames } = await import("../../plugins/index.ts");
  if (builtinNames().includes(name)) return [...shieldArgv(), "plugin", name];
  for (const dir of [...(process.env.SHIELD_PLUGIN_PATH ?? "").split(":").filter(Boolean), ...(process.env.PATH ?? "").split(":")]) {
    const p = join(dir, name);
    if (existsSync(p)) return [p];
  }
  throw new ShieldError(`the store's plugin "${name}" is neither built in nor on SHIELD_PLUGIN_PATH or PATH on this host`);
}

function lastLine(text: string): string {
  return text.trim().split("\n").pop() ?? "";
}

/** The /v1 API of the core, with the operator token; every failure is one clear line. */
class CoreApi {
  constructor(private readonly c: ShieldConfig) {}

  async call<T>(method: string, path: string, body?: unknown, on: Record<number, (msg: string) => string> = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.c.core}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.c.token}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      throw new ShieldError(`cannot reach the Shield core at ${this.c.core}: ${e.code ?? e.message}`);
    }
    const text = await res.text();
    let json: any;
    try { json = text ? JSON.parse(text) : undefined; } catch { /* said below */ }
    if (res.ok) {
      if (json === undefined) throw new ShieldError(`the Shield core at ${this.c.core} answered ${method} ${path.split("?")[0]} with no JSON`);
      return json as T;
    }
    const msg = (json && typeof json.error === "string" ? json.error : text.slice(0, 200)) || res.statusText;
    if (on[res.status]) throw new ShieldError(on[res.status]!(msg));
    if (res.status === 401) throw new ShieldError(`the Shield core at ${this.c.core} refused the token (401): ${msg}`);
    if (res.status === 403) throw new ShieldError(`the Shield core at ${this.c.core} refused (403): ${msg}; the plugin needs an operator's token`);
    throw new ShieldError(`the Shield core at ${this.c.core} answered ${method} ${path.split("?")[0]} with ${res.status}: ${msg}`);
  }
}
