// The shape of a mysql archive, and what a restore does to it on the way to the client.
//
// An archive is SQL, readable by `mariadb < archive` by hand:
//
//   -- shield-mysql archive v1: {"kind":"database","database":"shop"}
//   ...mariadb-dump of one database, without CREATE DATABASE or USE (so it restores under any name)
//
//   -- shield-mysql archive v1: {"kind":"server","databases":["other","shop"]}
//   ...mariadb-dump --databases other shop (a CREATE DATABASE and a USE before each)
//   -- shield-mysql: accounts and grants
//   ...mariadb-dump --system=users (CREATE USER, CREATE ROLE, GRANT), last, so that
//      grants on tables find their tables
//
// The first line says what the archive holds, so that a restore can refuse what
// cannot work (a database archive into a whole server) and name the databases a
// whole-server archive holds. Archives of the original Shield's mysql plugin have no
// such line: they are fed to the client as they are, as that plugin did.

import { unread } from "../unread.ts";

export const HEADER_PREFIX = "-- shield-mysql archive v1: ";
export const ACCOUNTS_LINE = "-- shield-mysql: accounts and grants";

export type ArchiveInfo =
  | { kind: "database"; database: string }
  | { kind: "server"; databases: string[]; accounts: boolean };

export function headerLine(info: ArchiveInfo): string {
  return `${HEADER_PREFIX}${JSON.stringify(info)}\n`;
}

/** How a physical archive (mariabackup --stream=xbstream) starts: see physical.ts. */
export const XBSTREAM_MAGIC = Buffer.from("XBSTCK01");

export type Sniffed = { kind: "empty" } | { kind: "plain" } | { kind: "xbstream" } | { kind: "shield"; info: ArchiveInfo };

/** Longest first line looked at: a header is far shorter (unless it names thousands of databases). */
const MAX_HEADER = 4 << 20;

/** Reads the first line to tell what the archive is; the stream returned still holds every byte. */
export async function sniff(input: ReadableStream<Uint8Array>): Promise<{ what: Sniffed; stream: ReadableStream<Uint8Array> }> {
  const reader = input.getReader();
  const head: Uint8Array[] = [];
  let have = 0;
  let done = false;
  let newline = -1;
  while (newline === -1 && have < MAX_HEADER) {
    const r = await reader.read();
    if (r.done) { done = true; break; }
    const at = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength).indexOf(10);
    if (at !== -1) newline = have + at;
    head.push(r.value);
    have += r.value.byteLength;
  }
  const first = Buffer.concat(head);
  const what = sniffed(first);
  const stream = unread(first, reader, done);
  return { what, stream };
}

/** What an archive that starts with `first` (its first line at least, unless that is all there is) is. */
export function sniffed(first: Buffer): Sniffed {
  const newline = first.indexOf(10);
  const line = first.subarray(0, newline === -1 ? first.byteLength : newline).toString("utf8");
  if (line.startsWith(HEADER_PREFIX)) {
    try {
      return { kind: "shield", info: JSON.parse(line.slice(HEADER_PREFIX.length)) as ArchiveInfo };
    } catch {
      throw new Error("the archive's first line is a damaged shield-mysql header");
    }
  }
  return { kind: first.byteLength === 0 ? "empty" : first.subarray(0, XBSTREAM_MAGIC.byteLength).equals(XBSTREAM_MAGIC) ? "xbstream" : "plain" };
}

const MARKER = Buffer.from(`\n${ACCOUNTS_LINE}\n`);
/** How mariadb-dump --databases starts each database; no routine body has this comment in it. */
const CREATE_DATABASE = Buffer.from("\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ ");
const LONGEST = Math.max(MARKER.byteLength, CREATE_DATABASE.byteLength);

/**
 * Finds the accounts section of a whole-server archive. Before it the bytes pass
 * untouched (only the last few of each chunk are held back, in case what is looked
 * for straddles two chunks); from it on:
 * - "one-database": nothing more passes (restoring one database of a whole-server
 *   archive creates no accounts). Before it, each database's CREATE DATABASE is
 *   made a comment: it comes while the previous database is the current one, so the
 *   client's --one-database would run it and create every database of the archive;
 * - "merge": the accounts are added to those the server has: CREATE USER becomes
 *   IF NOT EXISTS and GRANT no longer sets a password, so an account that exists
 *   (the restoring user's own) keeps its password and the restore cannot lock
 *   Shield out; roles are replaced by the archive's; every grant of the archive is
 *   added; the server's own accounts (root, mariadb.sys) are left alone.
 * Line numbers are kept: the client's "at line N" is the archive's line N.
 */
export class ServerArchiveFilter extends TransformStream<Uint8Array, Uint8Array> {
  constructor(mode: "one-database" | "merge") {
    let carry: Buffer = Buffer.alloc(0);
    let inAccounts = false;
    let partial = "";
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    const accounts = (text: string, ctl: TransformStreamDefaultController<Uint8Array>, end: boolean) => {
      if (mode === "one-database") return;
      partial += text;
      const lines = partial.split("\n");
      partial = end ? "" : lines.pop()!;
      if (!lines.length) return;
      ctl.enqueue(encoder.encode(lines.map(mergeAccountLine).join("\n") + (end ? "" : "\n")));
    };
    const emit = (ctl: TransformStreamDefaultController<Uint8Array>, b: Buffer) => { if (b.byteLength) ctl.enqueue(new Uint8Array(b)); };
    super({
      transform(chunk, ctl) {
        if (inAccounts) { accounts(decoder.decode(chunk, { stream: true }), ctl, false); return; }
        const buf = carry.byteLength ? Buffer.concat([carry, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        let pos = 0;
        for (;;) {
          const marker = buf.indexOf(MARKER, pos);
          const create = mode === "one-database" ? buf.indexOf(CREATE_DATABASE, pos) : -1;
          if (create !== -1 && (marker === -1 || create < marker)) {
            // "\nCREATE DATABASE ..." becomes "\n-- CREATE DATABASE ...": the same lines, one a comment.
            emit(ctl, buf.subarray(pos, create + 1));
            ctl.enqueue(encoder.encode("-- "));
            pos = create + 1;
            continue;
          }
          if (marker !== -1) {
            emit(ctl, buf.subarray(pos, marker + MARKER.byteLength));
            carry = Buffer.alloc(0);
            inAccounts = true;
            accounts(decoder.decode(buf.subarray(marker + MARKER.byteLength), { stream: true }), ctl, false);
            return;
          }
          break;
        }
        const keep = Math.min(buf.byteLength - pos, LONGEST - 1);
        emit(ctl, buf.subarray(pos, buf.byteLength - keep));
        carry = Buffer.from(buf.subarray(buf.byteLength - keep));
      },
      flush(ctl) {
        if (inAccounts) accounts(decoder.decode(), ctl, true);
        else emit(ctl, carry);
      },
    });
  }
}

/**
 * Statements about the server's own accounts (root, mariadb.sys, Debian's mysql):
 * every server has its own, and granting them PROXY or roles needs rights a
 * restoring user seldom has.
 */
const SERVER_ACCOUNT = /(?: TO | FOR |^CREATE USER |^\/\*!80001 ALTER USER )[`']?(root|mariadb\.sys|mysql)[`']?@/;

/** One line of mariadb-dump --system=users, made to add to the server's accounts rather than fail on or replace them. */
export function mergeAccountLine(line: string): string {
  // A comment in its place keeps the line numbers of the client's errors.
  if (SERVER_ACCOUNT.test(line)) return "-- (left out: a statement about the server's own account)";
  if (line.startsWith("CREATE USER `")) return "CREATE USER IF NOT EXISTS " + line.slice("CREATE USER ".length);
  // A role is replaced, not kept: its admin is the dump's import role (granting a role
  // needs its admin option), and what it grants becomes the archive's.
  if (line.startsWith("/*M!100005 CREATE ROLE '")) return line.replace("CREATE ROLE '", "CREATE OR REPLACE ROLE '");
  if (line.startsWith("GRANT ")) return line.replace(/ IDENTIFIED (BY PASSWORD|VIA) .*?(?=( WITH [A-Z_ ]+)?;$)/, "");
  return line;
}
