// Archive encryption: chunked AES-256-GCM with a fresh data key per archive.
// The byte format is specified in docs/archive-format.md; keep the two in step, since the
// point of writing it down is that an archive can be decrypted without Shield.

// node:crypto is loaded at its first use, not with this module: loading it (and the Node
// streams its ciphers stand on) costs ~3–4 ms of CPU, in the guards a backup and a restore
// start for every archive (seal.ts, unseal.ts). An archive of one chunk (an empty database's,
// a small one's) never loads it there: its only chunk is its last, sealed and opened with
// WebCrypto (sealLast, openLast), which is always there. node:crypto seals and opens the
// whole chunks before it: ~10 times the throughput of WebCrypto here (bench/DATAPATH.md,
// "Twelfth session").
type NodeCrypto = typeof import("node:crypto");
let loaded: NodeCrypto | undefined;
function nodeCrypto(): NodeCrypto {
  return (loaded ??= require("node:crypto") as NodeCrypto);
}

/** Recorded on the archive row so that a future format can be told apart. */
export const CIPHER_ID = "aes-256-gcm-chunked-v1";

export const KEY_LENGTH = 32;
export const TAG_LENGTH = 16;
export const NONCE_LENGTH = 12;
export const HEADER_LENGTH = 12;
/** Plaintext bytes per chunk: large enough that per-chunk overhead is noise, small enough
 *  that the decryptor's buffer (one chunk) stays well under the daemon's memory budget. */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
/** The decryptor trusts the header's chunk size before it can authenticate it (the header is
 *  only authenticated by the first chunk's tag), so it must refuse sizes that would let a
 *  forged header make it buffer without limit. */
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

const MAGIC = new TextEncoder().encode("SHIELD");
const FORMAT_VERSION = 1;
const CIPHER_AES_256_GCM = 1;
const WRAP_PREFIX = "v1:";
const WRAP_AAD = new TextEncoder().encode("shield key wrap v1");
const WRAPPED_LENGTH = NONCE_LENGTH + KEY_LENGTH + TAG_LENGTH;

/** Any refusal to decrypt: callers can tell a bad archive from an I/O failure. */
export class ArchiveDecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArchiveDecryptError";
  }
}

export function newDataKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(KEY_LENGTH));
}

function checkKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_LENGTH) {
    throw new TypeError(`${what} must be ${KEY_LENGTH} bytes`);
  }
}

function checkChunkSize(chunkSize: number): void {
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
    throw new RangeError(`chunk size must be an integer in 1..${MAX_CHUNK_SIZE}, got ${chunkSize}`);
  }
}

function encodeHeader(chunkSize: number): Uint8Array {
  const header = new Uint8Array(HEADER_LENGTH);
  header.set(MAGIC, 0);
  header[6] = FORMAT_VERSION;
  header[7] = CIPHER_AES_256_GCM;
  new DataView(header.buffer).setUint32(8, chunkSize, false);
  return header;
}

/** Returns the chunk size, or throws saying precisely why this is not an archive we can read. */
function parseHeader(header: Uint8Array): number {
  for (let i = 0; i < MAGIC.length; i++) {
    if (header[i] !== MAGIC[i]) {
      throw new ArchiveDecryptError("not a Shield encrypted archive (bad magic)");
    }
  }
  if (header[6] !== FORMAT_VERSION) {
    throw new ArchiveDecryptError(`unsupported archive format version ${header[6]}`);
  }
  if (header[7] !== CIPHER_AES_256_GCM) {
    throw new ArchiveDecryptError(`unsupported archive cipher ${header[7]}`);
  }
  const chunkSize = new DataView(header.buffer, header.byteOffset, HEADER_LENGTH).getUint32(8, false);
  if (chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
    throw new ArchiveDecryptError(`archive header has an invalid chunk size ${chunkSize}`);
  }
  return chunkSize;
}

/** The counter in the nonce binds each chunk to its position (no reordering, no dropping), and
 *  the last byte binds "this is the end" (no truncation at a chunk boundary): both are
 *  authenticated by GCM without costing a byte on the wire. */
function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(NONCE_LENGTH);
  nonce.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 3);
  nonce.writeUInt32BE(counter >>> 0, 7);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** One chunk through WebCrypto's AES-256-GCM, whose output (and input to decrypt) is the ciphertext then the tag: a frame. */
async function webGcm(op: "encrypt" | "decrypt", key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, data: Uint8Array): Promise<Buffer> {
  const k = await crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, "AES-GCM", false, [op]);
  const params = { name: "AES-GCM", iv: nonce as Uint8Array<ArrayBuffer>, additionalData: aad as Uint8Array<ArrayBuffer>, tagLength: TAG_LENGTH * 8 };
  return Buffer.from(await crypto.subtle[op](params, k, data as Uint8Array<ArrayBuffer>));
}

/**
 * Seals one archive's chunks in order: the header first, then each chunk with its
 * counter. Every chunk but the last carries exactly `chunkSize` plaintext bytes and
 * the last carries fewer (possibly none), so a reader knows a chunk's length without
 * a length field and never needs to look ahead. Shared by the stream below and the
 * store guard's synchronous sealer (seal.ts), so that the format lives in one place.
 */
export class ChunkSealer {
  readonly chunkSize: number;
  /** The bytes that open the archive, before the first chunk. */
  readonly header: Uint8Array;
  private readonly key: Buffer;
  private counter = 0;
  private ended = false;

  constructor(dataKey: Uint8Array, options: { chunkSize?: number } = {}) {
    checkKey(dataKey, "data key");
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    checkChunkSize(this.chunkSize);
    // Copied so that a caller reusing or wiping its key buffer cannot change ours mid-stream.
    this.key = Buffer.from(dataKey);
    this.header = encodeHeader(this.chunkSize);
  }

  /** Ciphertext and tag of the next chunk: `chunkSize` bytes, or fewer when `last`. */
  seal(plaintext: Uint8Array, last: boolean): Buffer {
    const out = Buffer.allocUnsafe(plaintext.length + TAG_LENGTH);
    this.sealInto(plaintext, last, out, 0);
    return out;
  }

  /** seal(), written into `out` at `at` (it must have room for the chunk and its tag); returns the offset after it. */
  sealInto(plaintext: Uint8Array, last: boolean, out: Buffer, at: number): number {
    const nonce = this.next(plaintext, last);
    const cipher = nodeCrypto().createCipheriv("aes-256-gcm", this.key, nonce, { authTagLength: TAG_LENGTH });
    cipher.setAAD(this.header);
    at += cipher.update(plaintext).copy(out, at);
    at += cipher.final().copy(out, at);
    at += cipher.getAuthTag().copy(out, at);
    return at;
  }

  /**
   * The last chunk, sealed with WebCrypto: the same bytes as seal(plaintext, true), without
   * loading node:crypto (see the top of this file) when it is the archive's only chunk.
   */
  async sealLast(plaintext: Uint8Array): Promise<Buffer> {
    return webGcm("encrypt", this.key, this.next(plaintext, true), this.header, plaintext);
  }

  /** The nonce of the next chunk, which holds `plaintext`; from here on it counts as sealed. */
  private next(plaintext: Uint8Array, last: boolean): Buffer {
    if (this.ended) throw new Error("the archive's last chunk is already sealed");
    if (last ? plaintext.length >= this.chunkSize : plaintext.length !== this.chunkSize) {
      throw new RangeError(`a ${last ? "last" : "full"} chunk cannot hold ${plaintext.length} bytes (chunk size ${this.chunkSize})`);
    }
    const nonce = chunkNonce(this.counter, last);
    this.counter++;
    this.ended = last;
    return nonce;
  }
}

/**
 * Seals whole chunks (`plaintext` is a multiple of the sealer's chunk size, none of them
 * the last) into one buffer: the frames exactly as seal() would give them one by one.
 * For a caller that moves them on together (seal.ts): one write, one hash update, one
 * wakeup of the store per read rather than per 64 KiB chunk. Each frame is written
 * straight into that buffer (sealInto): a buffer and a copy per chunk fewer took the
 * sealing's CPU from 2.2–2.8 to 2.9–3.9 GiB/s (bench/DATAPATH.md, "Ninth session").
 */
export function sealChunks(sealer: ChunkSealer, plaintext: Uint8Array, into?: Buffer): Buffer {
  const size = sealer.chunkSize;
  if (plaintext.length % size !== 0) throw new RangeError(`${plaintext.length} bytes are not whole chunks of ${size}`);
  const n = plaintext.length / size;
  const length = plaintext.length + n * TAG_LENGTH;
  if (into && into.length < length) throw new RangeError(`${into.length} bytes cannot hold ${n} sealed chunks of ${size}`);
  // `into`: a caller's buffer, reused from read to read when what it writes is let go at once
  // (seal.ts): a fresh buffer per read was a page fault per 4 KiB of it.
  const out = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
  for (let i = 0, at = 0; i < n; i++) at = sealer.sealInto(plaintext.subarray(i * size, (i + 1) * size), false, out, at);
  return out;
}

/** The room sealChunks needs for up to `plaintext` bytes of whole chunks. */
export function sealedRoom(sealer: ChunkSealer, plaintext: number): number {
  return plaintext + Math.floor(plaintext / sealer.chunkSize) * TAG_LENGTH;
}

/** Encrypts a byte stream into the archive format (see ChunkSealer). */
export function encryptStream(
  dataKey: Uint8Array,
  options: { chunkSize?: number } = {},
): TransformStream<Uint8Array, Uint8Array> {
  const sealer = new ChunkSealer(dataKey, options);
  const chunkSize = sealer.chunkSize;
  const pending = Buffer.allocUnsafe(chunkSize);
  let fill = 0;

  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      controller.enqueue(sealer.header.slice());
    },
    transform(input, controller) {
      if (!(input instanceof Uint8Array)) {
        throw new TypeError("encryptStream accepts only Uint8Array chunks");
      }
      let off = 0;
      if (fill > 0) {
        const take = Math.min(chunkSize - fill, input.length);
        pending.set(input.subarray(0, take), fill);
        fill += take;
        off = take;
        if (fill < chunkSize) return;
        controller.enqueue(sealer.seal(pending, false));
        fill = 0;
      }
      // Whole chunks are sealed straight from the input, sparing a copy on the hot path.
      while (input.length - off >= chunkSize) {
        controller.enqueue(sealer.seal(input.subarray(off, off + chunkSize), false));
        off += chunkSize;
      }
      if (off < input.length) {
        pending.set(input.subarray(off), 0);
        fill = input.length - off;
      }
    },
    async flush(controller) {
      // Always emitted, even when empty, so that the end of the archive is itself authenticated.
      controller.enqueue(await sealer.sealLast(pending.subarray(0, fill)));
    },
  });
}

/**
 * Opens one archive's chunks in order, the counterpart of ChunkSealer: the header
 * first (readHeader), then each frame (ciphertext and tag) with its counter. A
 * frame of `frameSize` bytes is never the last (the last always carries less than a
 * chunk), so a reader opens every full frame at once and the remainder at the end.
 * Shared by the stream below and the restore guard's unsealer (unseal.ts), so that
 * the format lives in one place. Every refusal is an ArchiveDecryptError.
 */
export class ChunkOpener {
  /** Plaintext bytes per chunk, once the header is read (0 before). */
  chunkSize = 0;
  /** A whole frame: a chunk's ciphertext and its tag. */
  frameSize = 0;
  /** The chunks opened so far. */
  counter = 0;
  private readonly key: Buffer;
  private header: Uint8Array | undefined;
  /** The header padded to a whole GCM block, as GHASH reads it (check()). */
  private paddedHeader: Buffer | undefined;
  /** See fullFrameTagDelta(); computed at the first check(). */
  private delta: Buffer | undefined;

  constructor(dataKey: Uint8Array) {
    checkKey(dataKey, "data key");
    this.key = Buffer.from(dataKey);
  }

  /** Reads the archive's first HEADER_LENGTH bytes; throws unless they are a header we can read. */
  readHeader(header: Uint8Array): void {
    this.chunkSize = parseHeader(header);
    this.frameSize = this.chunkSize + TAG_LENGTH;
    // Copied: the caller's buffer is reused for what follows.
    this.header = Uint8Array.from(header.subarray(0, HEADER_LENGTH));
    this.paddedHeader = Buffer.alloc(16);
    this.paddedHeader.set(this.header);
    this.delta = undefined;
  }

  /**
   * The plaintext of the next frame, only once its tag was verified; `last`: the
   * frame that ends the archive. Throws, and nothing of the frame escapes, when it
   * fails authentication.
   */
  open(frame: Uint8Array, last: boolean): Buffer {
    if (!this.header) throw new Error("the archive's header is not read yet");
    const decipher = nodeCrypto().createDecipheriv("aes-256-gcm", this.key, chunkNonce(this.counter, last), { authTagLength: TAG_LENGTH });
    decipher.setAAD(this.header);
    const ctLength = frame.length - TAG_LENGTH;
    decipher.setAuthTag(frame.subarray(ctLength));
    const plaintext = decipher.update(frame.subarray(0, ctLength));
    try {
      // Throws on a bad tag; `plaintext` must not escape before this returns.
      const rest = decipher.final();
      this.counter++;
      return rest.length === 0 ? plaintext : Buffer.concat([plaintext, rest]);
    } catch {
      throw this.refusal();
    }
  }

  /**
   * Authenticates the next full frame without decrypting it (the verify pass, which
   * passes no plaintext on); throws as open() does when it fails. GCM's tag is
   * E(nonce) ⊕ GHASH over the header (padded to 16 bytes), the ciphertext and a block of
   * their lengths. Computed with the ciphertext given as more authenticated data and no
   * plaintext, the same GHASH runs over the same blocks but the last: only the lengths
   * block differs, so the two tags differ by a constant (fullFrameTagDelta), the same for
   * every full frame. No AES runs over the ciphertext: ~11 µs per 64 KiB against ~16 to
   * decrypt it (bench/DATAPATH.md, "Fifteenth session").
   */
  check(frame: Uint8Array): void {
    if (!this.header) throw new Error("the archive's header is not read yet");
    if (frame.length !== this.frameSize) throw new RangeError(`a full frame is ${this.frameSize} bytes, not ${frame.length}`);
    const ctLength = this.chunkSize;
    const gmac = nodeCrypto().createCipheriv("aes-256-gcm", this.key, chunkNonce(this.counter, false), { authTagLength: TAG_LENGTH });
    gmac.setAAD(this.paddedHeader!);
    gmac.setAAD(frame.subarray(0, ctLength));
    gmac.final();
    const tag = gmac.getAuthTag();
    const delta = (this.delta ??= this.fullFrameTagDelta());
    for (let i = 0; i < TAG_LENGTH; i++) tag[i]! ^= delta[i]!;
    if (!nodeCrypto().timingSafeEqual(tag, frame.subarray(ctLength))) throw this.refusal();
    this.counter++;
  }

  /**
   * The tag of a full frame ⊕ the tag check() computes over it, found by sealing a chunk of
   * zeros both ways under a nonce no chunk has (its first byte is 0xff; a chunk's counter
   * starts at the fourth), so that no code of our own multiplies in GF(2^128). It is
   * (lengths block ⊕ check()'s lengths block) · H, H being the key's hash subkey: as secret
   * as the key, kept in this object only.
   */
  private fullFrameTagDelta(): Buffer {
    const nonce = Buffer.alloc(NONCE_LENGTH, 0xff);
    const sealed = nodeCrypto().createCipheriv("aes-256-gcm", this.key, nonce, { authTagLength: TAG_LENGTH });
    sealed.setAAD(this.header!);
    const ciphertext = Buffer.concat([sealed.update(Buffer.alloc(this.chunkSize)), sealed.final()]);
    const gmac = nodeCrypto().createCipheriv("aes-256-gcm", this.key, nonce, { authTagLength: TAG_LENGTH });
    gmac.setAAD(this.paddedHeader!);
    gmac.setAAD(ciphertext);
    gmac.final();
    const delta = sealed.getAuthTag();
    const other = gmac.getAuthTag();
    for (let i = 0; i < TAG_LENGTH; i++) delta[i]! ^= other[i]!;
    return delta;
  }

  /**
   * The end of the archive: opens what is left after the last full frame (`rest`,
   * fewer than frameSize bytes) as the last chunk, or says precisely how the archive
   * is cut short. `headerFill`: how many header bytes were read at all. Opened with
   * WebCrypto, as sealed (ChunkSealer.sealLast): an archive of one chunk is read
   * without loading node:crypto.
   */
  async openLast(rest: Uint8Array, headerFill = HEADER_LENGTH): Promise<Buffer> {
    if (headerFill === 0) throw new ArchiveDecryptError("empty input: not a Shield encrypted archive");
    if (headerFill < HEADER_LENGTH) throw new ArchiveDecryptError(`truncated archive: header is ${headerFill} of ${HEADER_LENGTH} bytes`);
    if (rest.length === 0) throw new ArchiveDecryptError(`truncated archive: final chunk missing after ${this.counter} chunks`);
    if (rest.length < TAG_LENGTH) {
      throw new ArchiveDecryptError(`truncated archive: final chunk is ${rest.length} bytes, shorter than its ${TAG_LENGTH}-byte tag`);
    }
    if (!this.header) throw new Error("the archive's header is not read yet");
    let plaintext: Buffer;
    try {
      // Rejects on a bad tag, and gives no plaintext then.
      plaintext = await webGcm("decrypt", this.key, chunkNonce(this.counter, true), this.header, rest);
    } catch {
      throw this.refusal();
    }
    this.counter++;
    return plaintext;
  }

  /** Why the next chunk failed authentication. */
  private refusal(): ArchiveDecryptError {
    const hint = this.counter === 0 ? "wrong key, or the archive is corrupted" : "the archive is corrupted, truncated or reordered";
    return new ArchiveDecryptError(`archive chunk ${this.counter} failed authentication: ${hint}`);
  }
}

/**
 * Opens whole frames (`frames` is a multiple of the opener's frame size, none of them
 * the last) into `out` (room for their plaintext), from its start: for a caller that
 * moves them on together (unseal.ts), one write per read rather than per 64 KiB chunk,
 * from one buffer it reuses (a fresh one per read was a page fault per 4 KiB of it).
 * Returns the plaintext's length. Should a frame fail, it throws: the earlier frames'
 * plaintext is in `out`, and the caller gives out none of it (a read's frames go on
 * together or not at all).
 */
export function openChunks(opener: ChunkOpener, frames: Uint8Array, out: Buffer): number {
  const n = wholeFrames(opener, frames);
  if (out.length < n * opener.chunkSize) throw new RangeError(`${out.length} bytes cannot hold the plaintext of ${n} chunks of ${opener.chunkSize}`);
  for (let i = 0; i < n; i++) opener.open(frames.subarray(i * opener.frameSize, (i + 1) * opener.frameSize), false).copy(out, i * opener.chunkSize);
  return n * opener.chunkSize;
}

/**
 * openChunks for a reader that only checks (the verify pass): each frame authenticated
 * (ChunkOpener.check), not decrypted; returns the plaintext's length.
 */
export function checkChunks(opener: ChunkOpener, frames: Uint8Array): number {
  const n = wholeFrames(opener, frames);
  for (let i = 0; i < n; i++) opener.check(frames.subarray(i * opener.frameSize, (i + 1) * opener.frameSize));
  return n * opener.chunkSize;
}

function wholeFrames(opener: ChunkOpener, frames: Uint8Array): number {
  if (frames.length % opener.frameSize !== 0) throw new RangeError(`${frames.length} bytes are not whole frames of ${opener.frameSize}`);
  return frames.length / opener.frameSize;
}

/**
 * Authenticates an archive sealed elsewhere (on an agent) as its bytes pass by, in pieces
 * of any size, without holding them up or changing them: the store's guard checks what
 * came over an agent's data connection before the commit, so that bytes altered or cut
 * on the way are never an archive (agent/data.ts). Each full frame is checked where it
 * lies in the piece (ChunkOpener.check: GHASH only, no AES over the ciphertext); only the
 * header or a frame split between two pieces is copied, into one frame's room. Every
 * refusal is an ArchiveDecryptError.
 */
export class PassingCheck {
  private readonly opener: ChunkOpener;
  /** The header, then a frame, split between pieces: its first `carried` bytes. */
  private carry = Buffer.allocUnsafe(HEADER_LENGTH);
  private carried = 0;
  private headed = false;

  constructor(dataKey: Uint8Array) {
    this.opener = new ChunkOpener(dataKey);
  }

  /** The next piece of the archive; throws at the first frame that fails. */
  update(piece: Uint8Array): void {
    let at = 0;
    while (at < piece.length) {
      const unit = this.headed ? this.opener.frameSize : HEADER_LENGTH;
      if (this.carried > 0 || piece.length - at < unit) {
        const n = Math.min(unit - this.carried, piece.length - at);
        this.carry.set(piece.subarray(at, at + n), this.carried);
        this.carried += n;
        at += n;
        if (this.carried < unit) return;
        this.carried = 0;
        this.take(this.carry.subarray(0, unit));
      } else if (!this.headed) {
        this.take(piece.subarray(at, at + unit));
        at += unit;
      } else {
        // A full frame is never the last (see ChunkSealer): every one here is checked as such.
        const whole = piece.length - at - ((piece.length - at) % unit);
        checkChunks(this.opener, piece.subarray(at, at + whole));
        at += whole;
      }
    }
  }

  /** The end of the archive: what is left must be its last chunk. */
  async end(): Promise<void> {
    const rest = this.headed ? this.carry.subarray(0, this.carried) : new Uint8Array(0);
    await this.opener.openLast(rest, this.headed ? HEADER_LENGTH : this.carried);
  }

  private take(unit: Uint8Array): void {
    if (this.headed) {
      this.opener.check(unit);
      return;
    }
    this.opener.readHeader(unit);
    this.headed = true;
    this.carry = Buffer.allocUnsafe(this.opener.frameSize);
  }
}

/**
 * Decrypts the archive format. A chunk's plaintext is emitted only after its tag has been
 * verified, and the stream errors with an ArchiveDecryptError on any tampering, reordering,
 * truncation, trailing data or wrong key. Plaintext of chunks verified before a failure has
 * already been emitted (that is what streaming means): a consumer must treat an errored
 * stream as a failed restore, never as a short one.
 */
export function decryptStream(dataKey: Uint8Array): TransformStream<Uint8Array, Uint8Array> {
  const opener = new ChunkOpener(dataKey);
  const header = new Uint8Array(HEADER_LENGTH);
  let headerFill = 0;
  let frameSize = 0; // chunk size + tag, known once the header is in
  let pending: Buffer | undefined;
  let fill = 0;

  return new TransformStream<Uint8Array, Uint8Array>({
    transform(input, controller) {
      if (!(input instanceof Uint8Array)) {
        throw new TypeError("decryptStream accepts only Uint8Array chunks");
      }
      let off = 0;
      if (headerFill < HEADER_LENGTH) {
        const take = Math.min(HEADER_LENGTH - headerFill, input.length);
        header.set(input.subarray(0, take), headerFill);
        headerFill += take;
        off = take;
        if (headerFill < HEADER_LENGTH) return;
        opener.readHeader(header);
        frameSize = opener.frameSize;
        pending = Buffer.allocUnsafe(frameSize);
      }
      const buf = pending!;
      // A full-size frame is never the last one (the last always carries less than a chunk),
      // so it can be verified and passed on at once, without waiting to see what follows.
      if (fill > 0) {
        const take = Math.min(frameSize - fill, input.length - off);
        buf.set(input.subarray(off, off + take), fill);
        fill += take;
        off += take;
        if (fill < frameSize) return;
        controller.enqueue(opener.open(buf, false));
        fill = 0;
      }
      while (input.length - off >= frameSize) {
        controller.enqueue(opener.open(input.subarray(off, off + frameSize), false));
        off += frameSize;
      }
      if (off < input.length) {
        buf.set(input.subarray(off), 0);
        fill = input.length - off;
      }
    },
    async flush(controller) {
      controller.enqueue(await opener.openLast(headerFill < HEADER_LENGTH ? new Uint8Array(0) : pending!.subarray(0, fill), headerFill));
    },
  });
}

/**
 * Wraps a data key under the master key. Archives store only the wrapped form, so rotating the
 * master key means re-wrapping these strings, never rewriting blobs. The nonce is random: the
 * same master key wraps many data keys.
 */
export function wrapKey(masterKey: Uint8Array, dataKey: Uint8Array): string {
  checkKey(masterKey, "master key");
  checkKey(dataKey, "data key");
  const nonce = crypto.getRandomValues(Buffer.alloc(NONCE_LENGTH));
  const cipher = nodeCrypto().createCipheriv("aes-256-gcm", masterKey, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(WRAP_AAD);
  const sealed = Buffer.concat([nonce, cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  return WRAP_PREFIX + sealed.toString("base64");
}

export function unwrapKey(masterKey: Uint8Array, wrapped: string): Uint8Array {
  checkKey(masterKey, "master key");
  if (typeof wrapped !== "string" || !wrapped.includes(":")) {
    throw new ArchiveDecryptError("malformed wrapped key");
  }
  if (!wrapped.startsWith(WRAP_PREFIX)) {
    throw new ArchiveDecryptError(`unsupported wrapped key version "${wrapped.slice(0, wrapped.indexOf(":"))}"`);
  }
  const body = wrapped.slice(WRAP_PREFIX.length);
  // Buffer.from(..., "base64") silently skips bad characters; a strict check keeps a mangled
  // string from being reported as a wrong master key.
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) {
    throw new ArchiveDecryptError("malformed wrapped key: not base64");
  }
  const sealed = Buffer.from(body, "base64");
  if (sealed.length !== WRAPPED_LENGTH) {
    throw new ArchiveDecryptError(`malformed wrapped key: ${sealed.length} bytes, expected ${WRAPPED_LENGTH}`);
  }
  const decipher = nodeCrypto().createDecipheriv("aes-256-gcm", masterKey, sealed.subarray(0, NONCE_LENGTH), {
    authTagLength: TAG_LENGTH,
  });
  decipher.setAAD(WRAP_AAD);
  decipher.setAuthTag(sealed.subarray(NONCE_LENGTH + KEY_LENGTH));
  const key = decipher.update(sealed.subarray(NONCE_LENGTH, NONCE_LENGTH + KEY_LENGTH));
  try {
    decipher.final();
  } catch {
    throw new ArchiveDecryptError("cannot unwrap data key: wrong master key or corrupted wrapped key");
  }
  return new Uint8Array(key);
}
