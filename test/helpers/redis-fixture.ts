// A Redis data set with every kind of value, and a way to compare two servers':
// strings (text, binary, integer-encoded), hashes, lists, sets, sorted sets,
// streams (with a consumer group and a pending entry), keys with TTLs, in several
// logical databases.
import { RedisConnection, RedisError, type Reply } from "../../plugins/redis/resp.ts";

const b = (r: Reply) => (Buffer.isBuffer(r) ? r.toString("base64") : r);

async function must(c: RedisConnection, ...args: (string | number | Buffer)[]): Promise<Reply> {
  const r = await c.call(...args);
  if (r instanceof RedisError) throw r;
  return r;
}

/** Fills databases 0, 3 and 15 of `c` (which it empties first). */
export async function seed(c: RedisConnection): Promise<void> {
  await must(c, "FLUSHALL");
  await must(c, "SELECT", 0);
  await must(c, "SET", "greeting", "hello, world");
  await must(c, "SET", "counter", 42);
  await must(c, "SET", "binary", Buffer.from([0, 1, 2, 255, 13, 10, 36, 42]));
  await must(c, "SET", "big", "x".repeat(100_000));
  await must(c, "HSET", "user:1", "name", "Ada", "lang", "en", "visits", 7);
  await must(c, "HSET", "bighash", ...Array.from({ length: 600 }, (_, i) => [`f${i}`, `v${i}`]).flat());
  await must(c, "RPUSH", "queue", "a", "b", "c", "a");
  await must(c, "RPUSH", "biglist", ...Array.from({ length: 1000 }, (_, i) => `item-${i}`));
  await must(c, "SADD", "tags", "red", "green", "blue");
  await must(c, "SADD", "ints", 1, 2, 3, 100000);
  await must(c, "ZADD", "scores", 1.5, "ada", -3, "bob", 1e10, "eve");
  await must(c, "ZADD", "bigzset", ...Array.from({ length: 300 }, (_, i) => [i * 0.25, `m${i}`]).flat());
  await must(c, "XADD", "events", "1700000000000-0", "type", "login", "user", "ada");
  await must(c, "XADD", "events", "1700000000001-0", "type", "logout", "user", "ada");
  await must(c, "XGROUP", "CREATE", "events", "workers", "0");
  await must(c, "XREADGROUP", "GROUP", "workers", "w1", "COUNT", 1, "STREAMS", "events", ">");
  await must(c, "SET", "session", "expiring", "PX", 3_600_000);
  await must(c, "HSET", "cache", "k", "v");
  await must(c, "PEXPIRE", "cache", 600_000);
  await must(c, "SELECT", 3);
  await must(c, "SET", "db3:only", "three");
  await must(c, "SET", "greeting", "another db");
  await must(c, "RPUSH", "db3:list", 1, 2, 3);
  await must(c, "SET", "db3:ttl", "soon", "EX", 7200);
  await must(c, "SELECT", 15);
  await must(c, "ZADD", "last", 1, "one");
  await must(c, "SELECT", 0);
}

/** Every key of every database, with its type, value and TTL (ms, -1 for none). */
export async function snapshot(c: RedisConnection): Promise<Record<string, Record<string, { type: string; value: unknown; ttl: number }>>> {
  const out: Record<string, Record<string, { type: string; value: unknown; ttl: number }>> = {};
  const keyspace = await c.info("keyspace");
  for (const name of [...keyspace.keys()].sort()) {
    const db = Number(name.slice(2));
    await must(c, "SELECT", db);
    const keys = ((await must(c, "KEYS", "*")) as Buffer[]).map((k) => k.toString("utf8")).sort();
    const entries: Record<string, { type: string; value: unknown; ttl: number }> = {};
    for (const k of keys) {
      const type = String(await must(c, "TYPE", k));
      let value: unknown;
      switch (type) {
        case "string": value = b(await must(c, "GET", k)); break;
        case "hash": {
          const flat = (await must(c, "HGETALL", k)) as Buffer[];
          const h: Record<string, string> = {};
          for (let i = 0; i < flat.length; i += 2) h[flat[i]!.toString()] = flat[i + 1]!.toString();
          value = h;
          break;
        }
        case "list": value = ((await must(c, "LRANGE", k, 0, -1)) as Buffer[]).map(String); break;
        case "set": value = ((await must(c, "SMEMBERS", k)) as Buffer[]).map(String).sort(); break;
        case "zset": value = ((await must(c, "ZRANGE", k, 0, -1, "WITHSCORES")) as Buffer[]).map(String); break;
        case "stream": value = {
          entries: JSON.stringify(await must(c, "XRANGE", k, "-", "+"), (_k, v) => (v?.type === "Buffer" ? Buffer.from(v.data).toString() : v)),
          groups: JSON.stringify(await must(c, "XINFO", "GROUPS", k), (_k, v) => (v?.type === "Buffer" ? Buffer.from(v.data).toString() : v)),
          pending: JSON.stringify(await must(c, "XPENDING", k, "workers"), (_k, v) => (v?.type === "Buffer" ? Buffer.from(v.data).toString() : v)),
        }; break;
        default: value = `(${type})`;
      }
      entries[k] = { type, value, ttl: Number(await must(c, "PTTL", k)) };
    }
    out[name.replace(/^db/, "db")] = entries;
  }
  await must(c, "SELECT", 0);
  return out;
}

type Snap = Awaited<ReturnType<typeof snapshot>>;

/** The snapshot with each TTL replaced by whether it has one, and the TTL pairs for a within-a-second check. */
export function compare(want: Snap, got: Snap): { want: unknown; got: unknown; ttls: [string, number, number][] } {
  const strip = (s: Snap) => Object.fromEntries(Object.entries(s).map(([db, keys]) => [db, Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, { ...v, ttl: v.ttl > 0 ? "set" : v.ttl }]))]));
  const ttls: [string, number, number][] = [];
  for (const [db, keys] of Object.entries(want)) for (const [k, v] of Object.entries(keys)) if (v.ttl > 0) ttls.push([`${db}/${k}`, v.ttl, got[db]?.[k]?.ttl ?? -2]);
  return { want: strip(want), got: strip(got), ttls };
}
