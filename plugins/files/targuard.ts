// Reads a tar stream on its way to `tar -x` and refuses it at the first member
// that could land outside the directory restored into: an absolute name, a ".."
// component, a hard link to such a name, or a path through a symlink the same
// archive created. The member is refused before tar sees its header.
//
// Every header is checked (checksum included) and nothing after the end-of-archive
// marker is passed on, so tar never reads a header this guard did not read:
// their views of the stream cannot drift apart.
import { PluginError } from "../protocol.ts";

const BLOCK = 512;
/** Longest GNU long name or pax header accepted. */
const MAX_META = 1 << 20;

/** The refusal is a plugin failure, not tar's: exit 4 with this line. */
export class UnsafeArchive extends PluginError {}

const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

/** A name as quoted in an error line: a hostile one may be very long. */
const show = (name: string) => JSON.stringify(name.length > 120 ? `${name.slice(0, 60)}…${name.slice(-60)}` : name);

function cstring(b: Uint8Array, from: number, len: number): string {
  const field = b.subarray(from, from + len);
  const end = field.indexOf(0);
  return Buffer.from(end === -1 ? field : field.subarray(0, end)).toString("utf8");
}

/** A numeric field: octal text, or GNU's base-256 when the high bit is set. */
function number(b: Uint8Array, from: number, len: number): number {
  if (b[from]! & 0x80) {
    let n = b[from]! & 0x7f;
    for (let i = from + 1; i < from + len; i++) n = n * 256 + b[i]!;
    return n;
  }
  const text = cstring(b, from, len).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function checksumOk(b: Uint8Array): boolean {
  const stored = number(b, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 32 : b[i]!;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  return stored === unsigned || stored === signed;
}

/** "./a//b/" → "a/b"; the name as a path relative to where tar extracts. */
function normal(name: string): string {
  return name.split("/").filter((p) => p !== "" && p !== ".").join("/");
}

function pax(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(32, off);
    const len = sp === -1 ? NaN : Number(data.subarray(off, sp).toString("ascii"));
    if (!Number.isInteger(len) || len <= 0 || off + len > data.length) throw new UnsafeArchive("the archive has a malformed pax header");
    const record = data.subarray(sp + 1, off + len - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    off += len;
  }
  return records;
}

export interface TarGuardOptions {
  /**
   * The daemon is confined (--allow-path): a symlink member may not lead out of the
   * directory restored into either. tar follows a symlink already on disk when it
   * extracts a later member beneath it, so an escaping link left by one restore
   * would let the next write outside the allowed paths.
   */
  confined?: boolean;
}

export class TarGuard extends TransformStream<Uint8Array, Uint8Array> {
  constructor(opts: TarGuardOptions = {}) {
    const block = new Uint8Array(BLOCK);
    let fill = 0;
    /** Bytes of member data (and padding) still to pass before the next header. */
    let skip = 0;
    /** For GNU long names and pax headers: their data is read, not just passed. */
    let meta: { type: string; want: number; parts: Buffer[] } | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    let paxRecords = new Map<string, string>();
    let globalRecords = new Map<string, string>();
    let zeros = 0;
    let ended = false;
    let sparseExt = false;
    let sparseSkip = 0;
    let offset = 0;
    let total = 0;
    const symlinks = new Set<string>();

    const refuse = (why: string) => { throw new UnsafeArchive(`refusing the archive: ${why}`); };

    const checkPath = (path: string, what: string) => {
      if (path === "") refuse(`a member has an empty ${what}`);
      if (path.startsWith("/")) refuse(`member ${what} ${show(path)} is absolute`);
      if (path.split("/").includes("..")) refuse(`member ${what} ${show(path)} contains ".."`);
    };

    const finishMeta = () => {
      const data = Buffer.concat(meta!.parts);
      const name = data.subarray(0, data.indexOf(0) === -1 ? data.length : data.indexOf(0)).toString("utf8");
      if (meta!.type === "L") longName = name;
      else if (meta!.type === "K") longLink = name;
      else if (meta!.type === "x") paxRecords = pax(data);
      else if (meta!.type === "g") {
        globalRecords = new Map([...globalRecords, ...pax(data)]);
        for (const k of ["path", "linkpath"]) if (globalRecords.has(k)) checkPath(globalRecords.get(k)!, k);
      }
      meta = undefined;
    };

    const onHeader = (b: Uint8Array): void => {
      if (b.every((v) => v === 0)) {
        if (++zeros === 2) ended = true;
        return;
      }
      zeros = 0;
      if (!checksumOk(b)) refuse(`damaged or non-tar header at byte ${offset}`);
      const type = String.fromCharCode(b[156]!);
      let size = number(b, 124, 12);
      if (type === "L" || type === "K" || type === "x" || type === "g") {
        if (size > MAX_META) refuse(`a ${type} header of ${size} bytes`);
        meta = { type, want: size, parts: [] };
        skip = padded(size);
        if (size === 0) finishMeta();
        return;
      }
      if (type === "M") refuse("multi-volume members are not supported");
      const ustar = cstring(b, 257, 6) === "ustar";
      const prefix = ustar ? cstring(b, 345, 155) : "";
      const raw = cstring(b, 0, 100);
      const name = longName ?? paxRecords.get("path") ?? globalRecords.get("path") ?? (prefix ? `${prefix}/${raw}` : raw);
      const link = longLink ?? paxRecords.get("linkpath") ?? globalRecords.get("linkpath") ?? cstring(b, 157, 100);
      if (paxRecords.has("size")) size = Number(paxRecords.get("size"));
      longName = longLink = undefined;
      paxRecords = new Map();
      if (!Number.isSafeInteger(size) || size < 0) refuse(`member ${show(name)} has a malformed size`);
      if (type !== "V") {
        checkPath(name, "name");
        const path = normal(name);
        const throughSymlink = (p: string, what: string) => {
          for (let i = p.indexOf("/"); i !== -1; i = p.indexOf("/", i + 1)) {
            if (symlinks.has(p.slice(0, i))) refuse(`${what} ${show(p)} lies beyond the symlink ${show(p.slice(0, i))} of the same archive`);
          }
        };
        throughSymlink(path, "member");
        if (type === "1") {
          checkPath(link, "hard link target");
          throughSymlink(normal(link), "hard link target");
        }
        if (type === "2" && opts.confined) {
          // Where the link leads, from the directory holding it: absolute, or climbing above the top, is outside.
          const out = () => refuse(`symlink ${show(path)} leads out of the directory restored into (to ${show(link)}), which a confined Shield does not allow`);
          if (link.startsWith("/")) out();
          const parts: string[] = path.split("/").slice(0, -1);
          for (const part of link.split("/")) {
            if (part === "..") { if (parts.pop() === undefined) out(); }
            else if (part !== "" && part !== ".") parts.push(part);
          }
        }
        if (type === "2") symlinks.add(path);
        else symlinks.delete(path);
        if ("123456".includes(type) && size !== 0) refuse(`member ${show(name)} (type ${type}) claims ${size} bytes of data`);
      }
      if (type === "S" && b[482] !== 0) {
        sparseExt = true;
        sparseSkip = padded(size);
        return;
      }
      skip = "123456".includes(type) ? 0 : padded(size);
    };

    super({
      transform(chunk, ctl) {
        total += chunk.byteLength;
        let off = 0;
        while (off < chunk.byteLength && !ended) {
          if (skip > 0) {
            const n = Math.min(skip, chunk.byteLength - off);
            const part = chunk.subarray(off, off + n);
            if (meta) {
              const take = Math.min(meta.want, n);
              if (take > 0) meta.parts.push(Buffer.from(part.subarray(0, take)));
              meta.want -= take;
            }
            ctl.enqueue(part);
            off += n;
            offset += n;
            skip -= n;
            if (skip === 0 && meta) finishMeta();
            continue;
          }
          const n = Math.min(BLOCK - fill, chunk.byteLength - off);
          block.set(chunk.subarray(off, off + n), fill);
          fill += n;
          off += n;
          if (fill < BLOCK) break;
          fill = 0;
          if (sparseExt) {
            // Old GNU sparse maps continue in extension blocks before the data.
            if (block[504] === 0) { sparseExt = false; skip = sparseSkip; }
          } else {
            onHeader(block);
          }
          ctl.enqueue(block.slice());
          offset += BLOCK;
        }
        // Whatever follows the end-of-archive marker is not passed on.
      },
      flush() {
        if (total === 0) throw new UnsafeArchive("nothing to restore: the input is empty");
        if (offset === 0) throw new UnsafeArchive(`the input is not a tar archive (${total} bytes)`);
        if (!ended && (skip > 0 || fill > 0 || meta || sparseExt)) throw new UnsafeArchive(`the archive is truncated (it ends inside a member, at byte ${total})`);
      },
    });
  }
}
