// What the postgres restore does to the stream on its way to pg_restore or psql:
// look at its first bytes to tell the two kinds of dump apart, and leave out the
// two statements of a cluster dump that PostgreSQL always refuses.

import { unread } from "../unread.ts";

export type DumpKind = "custom" | "plain" | "unknown" | "empty";

/** pg_dump's custom format starts with these bytes; pg_dumpall's SQL with a comment. */
export const CUSTOM_MAGIC = Buffer.from("PGDMP");
const PLAIN_START = Buffer.from("--");

/** Reads just enough to tell the kind of dump; the stream returned still holds every byte. */
export async function sniff(input: ReadableStream<Uint8Array>): Promise<{ kind: DumpKind; stream: ReadableStream<Uint8Array> }> {
  const reader = input.getReader();
  const head: Uint8Array[] = [];
  let have = 0;
  let done = false;
  while (have < CUSTOM_MAGIC.length) {
    const r = await reader.read();
    if (r.done) { done = true; break; }
    head.push(r.value);
    have += r.value.byteLength;
  }
  const first = Buffer.concat(head);
  const stream = unread(first, reader, done);
  return { kind: kindOf(first), stream };
}

/** The kind of dump that starts with `first` (at least the custom format's magic, unless that is all there is). */
export function kindOf(first: Buffer): DumpKind {
  return first.byteLength === 0 ? "empty"
    : first.subarray(0, CUSTOM_MAGIC.length).equals(CUSTOM_MAGIC) ? "custom"
    : first.subarray(0, PLAIN_START.length).equals(PLAIN_START) ? "plain"
    : "unknown";
}

/** How pg_dumpall writes an identifier: bare when it may be, else double-quoted. */
function quoteIdent(name: string): string[] {
  const quoted = `"${name.replace(/"/g, '""')}"`;
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? [name, quoted] : [quoted];
}

/** The statements of a cluster dump that drop and create `user`'s own role, as pg_dumpall writes them. */
function ownRoleStatements(user: string): Set<string> {
  return new Set(quoteIdent(user).flatMap((id) => [`DROP ROLE IF EXISTS ${id};`, `DROP ROLE ${id};`, `CREATE ROLE ${id};`]));
}

/**
 * The head of a cluster dump (whole lines, everything before its first `\connect`: the roles)
 * without the statements that drop and create `user`'s own role: what RoleFilter makes of it.
 */
export function withoutOwnRole(head: Buffer, user: string): Buffer {
  const drop = ownRoleStatements(user);
  const lines = head.toString("utf8").split("\n");
  return Buffer.from(lines.filter((l) => !drop.has(l.replace(/\r$/, ""))).join("\n"));
}

/** Longest line looked at; a longer one cannot be a role statement. */
const MAX_LINE = 1 << 20;

/**
 * Drops `DROP ROLE [IF EXISTS] <user>;` and `CREATE ROLE <user>;` for the
 * restoring user (who cannot drop itself and already exists). Only the head of
 * the dump, before its first `\connect`, holds role statements: after it the
 * bytes pass untouched, so table data can never be mistaken for one.
 */
export class RoleFilter extends TransformStream<Uint8Array, Uint8Array> {
  constructor(user: string) {
    const drop = ownRoleStatements(user);
    let passthrough = false;
    let pending: Buffer = Buffer.alloc(0);
    super({
      transform(chunk, ctl) {
        if (passthrough) { ctl.enqueue(chunk); return; }
        pending = pending.byteLength ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
        let start = 0;
        for (let nl = pending.indexOf(10, start); nl !== -1; nl = pending.indexOf(10, start)) {
          const line = pending.subarray(start, nl + 1);
          const text = line.toString("utf8").replace(/\r?\n$/, "");
          if (text.startsWith("\\connect ")) {
            passthrough = true;
            ctl.enqueue(pending.subarray(start));
            pending = Buffer.alloc(0);
            return;
          }
          if (!drop.has(text)) ctl.enqueue(line);
          start = nl + 1;
        }
        pending = pending.subarray(start);
        if (pending.byteLength > MAX_LINE) {
          passthrough = true;
          ctl.enqueue(pending);
          pending = Buffer.alloc(0);
        }
      },
      flush(ctl) {
        if (pending.byteLength) ctl.enqueue(pending);
      },
    });
  }
}
