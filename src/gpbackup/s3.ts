// S3 mode: gpbackup_s3_plugin's options, object layout and directory commands,
// on @aws-sdk/client-s3. Objects are stored as they come (no Shield compression
// or encryption), so either plugin restores what the other wrote.
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectsCommand,
  GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand,
} from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { HttpProxyAgent } from "http-proxy-agent";
import { HttpsProxyAgent } from "https-proxy-agent";
import { crc32Base64, createMultipart, PART_CHECKSUM_ALGORITHM } from "../../plugins/s3/checksum.ts";
import { FetchRequestHandler } from "../../plugins/s3/fetch-handler.ts";
import { NotFound, type Backend } from "./backend.ts";
import type { S3Config } from "./config.ts";
import { backupPrefix, relativeKey } from "./layout.ts";
import { download, upload, type MultipartTarget, type Sink } from "./transfer.ts";

export function s3Client(c: S3Config): S3Client {
  return new S3Client({
    region: c.region,
    endpoint: c.endpoint,
    // Path-style, as the Go plugin forces it: works with every S3-compatible server.
    forcePathStyle: true,
    maxAttempts: c.maxRetries + 1,
    // No CRC32 computed by the SDK over every part (its default since 2025): its JS CRC32
    // cost ~25% of backup_data's speed (bench/GPBACKUP.md). A multipart upload's parts carry
    // the CRC32 Bun computes instead (plugins/s3/checksum.ts: without one, the service
    // checksums the whole object at completion, which cost moto twice boto3's CPU there).
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    credentials: c.accessKeyId ? { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey! } : undefined,
    // Bun's fetch, as the s3 store uses it (plugins/s3/fetch-handler.ts says why: node:http
    // under Bun cost CPU and speed); through a proxy, the proxy agents over node:http as before.
    ...(c.httpProxy
      ? { requestHandler: new NodeHttpHandler({ httpAgent: new HttpProxyAgent(c.httpProxy), httpsAgent: new HttpsProxyAgent(c.httpProxy) }) }
      : { requestHandler: new FetchRequestHandler(), expectContinueHeader: false }),
  });
}

function notFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

async function pipeBody(body: unknown, sink: Sink): Promise<number> {
  let n = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    await sink(chunk);
    n += chunk.length;
  }
  return n;
}

export interface ListedObject { key: string; size: number }

export class S3Backend implements Backend {
  readonly client: S3Client;
  constructor(readonly config: S3Config) {
    this.client = s3Client(config);
  }

  /** The object key of a relative key: under the folder, as gpbackup_s3_plugin places it. */
  objectKey(rel: string): string {
    return `${this.config.folder}/${rel}`;
  }

  async probe(localBackupDir: string): Promise<void> {
    // What gpbackup_s3_plugin does: an empty report object proves the bucket is writable;
    // the real report replaces it at the end of the backup.
    const dir = localBackupDir.replace(/\/+$/, "");
    const ts = dir.split("/").pop()!;
    await this.putRaw(relativeKey(`${dir}/gpbackup_${ts}_report`), new Uint8Array(0));
  }

  private async putRaw(rel: string, body: Uint8Array): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(rel), Body: body }));
  }

  put(rel: string, source: AsyncIterable<Uint8Array>): Promise<number> {
    return this.putKey(this.objectKey(rel), source);
  }

  /** Stores under a raw object key (the directory commands use local paths as keys, as the Go plugin does). */
  putKey(key: string, source: AsyncIterable<Uint8Array>): Promise<number> {
    return upload(multipart(this.client, this.config.bucket, key), source, this.config.backup);
  }

  get(rel: string, sink: Sink): Promise<number> {
    return this.getKey(this.objectKey(rel), sink);
  }

  async getKey(key: string, sink: Sink): Promise<number> {
    const { bucket, restore } = this.config;
    let size: number;
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      size = head.ContentLength ?? 0;
    } catch (err) {
      if (notFound(err)) throw new NotFound(`no object s3://${bucket}/${key}`);
      throw err;
    }
    if (size <= restore.chunkSize) {
      const got = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return pipeBody(got.Body, sink);
    }
    const n = await download(size, restore, async (start, end) => {
      const got = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}` }));
      return got.Body!.transformToByteArray();
    }, sink);
    if (n !== size) throw new Error(`s3://${bucket}/${key}: got ${n} of its ${size} bytes`);
    return n;
  }

  async getRange(rel: string, start: number, end: number, sink: Sink): Promise<number> {
    const key = this.objectKey(rel);
    try {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key, Range: `bytes=${start}-${end}` }));
      return pipeBody(got.Body, sink);
    } catch (err) {
      if (notFound(err)) throw new NotFound(`no object s3://${this.config.bucket}/${key}`);
      throw err;
    }
  }

  async list(prefix: string): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Deletes every object under the prefix (as the Go plugin's batch delete: a plain prefix, no slash added). */
  async deletePrefix(prefix: string): Promise<number> {
    const keys = (await this.list(prefix)).map((o) => o.key);
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const res = await this.client.send(new DeleteObjectsCommand({
        Bucket: this.config.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
      }));
      if (res.Errors?.length) throw new Error(`cannot delete s3://${this.config.bucket}/${res.Errors[0]!.Key}: ${res.Errors[0]!.Message}`);
    }
    return keys.length;
  }

  async deleteBackup(timestamp: string): Promise<void> {
    await this.deletePrefix(backupPrefix(this.config.folder, timestamp));
  }
}

function multipart(client: S3Client, bucket: string, key: string): MultipartTarget {
  let uploadId: string | undefined;
  let checksums = true;
  // Each part's CRC32, by part number, for the completion (plugins/s3/checksum.ts).
  const crcs: string[] = [];
  return {
    async putWhole(body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }));
    },
    async begin() {
      ({ uploadId, checksums } = await createMultipart((withChecksum) => client.send(new CreateMultipartUploadCommand({
        Bucket: bucket, Key: key, ChecksumAlgorithm: withChecksum ? PART_CHECKSUM_ALGORITHM : undefined,
      })), (line) => process.stderr.write(`${line}\n`)));
    },
    async part(number, body) {
      const crc = checksums ? crc32Base64(body) : undefined;
      const res = await client.send(new UploadPartCommand({
        Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: number, Body: body, ContentLength: body.length, ChecksumCRC32: crc,
      }));
      if (crc) crcs[number - 1] = crc;
      return res.ETag!;
    },
    async complete(etags) {
      await client.send(new CompleteMultipartUploadCommand({
        Bucket: bucket, Key: key, UploadId: uploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1, ChecksumCRC32: crcs[i] })) },
      }));
    },
    async abort() {
      if (uploadId) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    },
  };
}
