// The osb API's destination "S3": one file up (the backup script's output,
// under the name the script gave it: <host>_YYYY_MM_DD_<dbname>.tar.gz) and one
// file down (the restore's `filename`), with the credentials of the request.
//
// Why not through `shield plugin s3 store`: the osb contract names the object
// (the broker later asks for it back by that `filename`), and Shield's s3 store
// chooses its own keys ([prefix/]YYYY/MM/DD/…-uuid), as a store must for its
// catalog. So the transfer is done here with the same SDK, as a plain object
// upload and download; the data never passes through Shield's catalog.
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand,
  PutObjectCommand, S3Client, UploadPartCommand,
} from "@aws-sdk/client-s3";
import { createReadStream, createWriteStream, statSync } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** What a request's destination gives, plus the agent's own endpoint override. */
export interface S3Destination {
  bucket: string;
  region: string;
  authKey: string;
  authSecret: string;
}

/** The agent's settings for every destination (not the request's: a broker must not point the agent anywhere it likes). */
export interface S3Settings {
  /** An S3-compatible service instead of AWS (path-style addressing then). */
  endpoint?: string;
  /** Files larger than this go up in parts of this size (minimum 5 MiB: S3's rule). */
  partSize?: number;
}

const DEFAULT_PART = 64 << 20;

function client(d: S3Destination, s: S3Settings): S3Client {
  return new S3Client({
    region: d.region,
    credentials: { accessKeyId: d.authKey, secretAccessKey: d.authSecret },
    // S3-compatible services often lack the SDK's newer default checksums (aws-chunked trailers).
    ...(s.endpoint ? { endpoint: s.endpoint, forcePathStyle: true, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" } as const : {}),
  });
}

/** Uploads `file` as `key`; the object exists (complete) only once this resolves. */
export async function upload(d: S3Destination, s: S3Settings, key: string, file: string): Promise<number> {
  const size = statSync(file).size;
  const partSize = Math.max(s.partSize ?? DEFAULT_PART, 5 << 20);
  const c = client(d, s);
  try {
    if (size <= partSize) {
      await c.send(new PutObjectCommand({ Bucket: d.bucket, Key: key, Body: createReadStream(file), ContentLength: size }));
      return size;
    }
    const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: d.bucket, Key: key }));
    try {
      const parts: { ETag?: string; PartNumber: number }[] = [];
      for (let start = 0, n = 1; start < size; start += partSize, n++) {
        const end = Math.min(start + partSize, size);
        const r = await c.send(new UploadPartCommand({
          Bucket: d.bucket, Key: key, UploadId, PartNumber: n,
          Body: createReadStream(file, { start, end: end - 1 }), ContentLength: end - start,
        }));
        parts.push({ ETag: r.ETag, PartNumber: n });
      }
      await c.send(new CompleteMultipartUploadCommand({ Bucket: d.bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      // A half upload must not linger (and cost) in the bucket.
      await c.send(new AbortMultipartUploadCommand({ Bucket: d.bucket, Key: key, UploadId })).catch(() => {});
      throw err;
    }
    return size;
  } finally {
    c.destroy();
  }
}

/** Downloads `key` into `file`; the file is complete only once this resolves. */
export async function download(d: S3Destination, s: S3Settings, key: string, file: string): Promise<number> {
  const c = client(d, s);
  try {
    const r = await c.send(new GetObjectCommand({ Bucket: d.bucket, Key: key }));
    if (!r.Body) throw new Error(`s3://${d.bucket}/${key} has no body`);
    await pipeline(r.Body as Readable, createWriteStream(file, { mode: 0o600 }));
    const size = statSync(file).size;
    if (r.ContentLength !== undefined && size !== r.ContentLength) throw new Error(`s3://${d.bucket}/${key}: got ${size} of ${r.ContentLength} bytes`);
    return size;
  } finally {
    c.destroy();
  }
}

/** An S3 error in words a broker's operator can act on (no request ids, no stack). */
export function s3Message(err: unknown): string {
  const e = err as { name?: string; message?: string; Code?: string };
  const name = e?.Code ?? e?.name;
  return name && name !== "Error" ? `${name}: ${e.message ?? ""}`.trim() : String(e?.message ?? err);
}
