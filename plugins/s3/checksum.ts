// The CRC32 each part of a multipart upload carries (the s3 store's and gpbackup's
// S3 mode's uploaders both use it).
//
// Why a checksum at all (bench/S3.md, "What moto spent the extra CPU on"): a
// multipart upload created without a checksum algorithm leaves the service to pick
// one for the whole object. moto then copies the whole object twice more while it
// completes the upload (to CRC it as one piece), which made its CompleteMultipartUpload
// cost about twice what boto3's did; AWS itself computes a full-object CRC64NVME for
// such uploads. Created with CRC32 and every part carrying its own, the service only
// combines the parts' checksums; and every part is checked on arrival besides.
//
// Contract: `PART_CHECKSUM_ALGORITHM` is given to CreateMultipartUpload, and then every
// UploadPart carries `ChecksumCRC32: crc32Base64(body)` and CompleteMultipartUpload
// lists the same value beside each part's ETag (S3 refuses the completion otherwise).
// These are plain headers and XML elements of S3's API since 2022, as boto3 and the
// AWS SDKs send them by default; not the SDK's aws-chunked trailers, which S3
// work-alikes know less well (the SDK's own checksum calculation stays off).
// Computed with Bun's CRC32 (tens of GB/s here, against ~1 GB/s for the
// SHA-256 that signing already pays): no measurable cost to the uploader.

import { errorCode, httpStatus, S3Failure } from "./retry.ts";

export const PART_CHECKSUM_ALGORITHM = "CRC32" as const;

/** CRC32 of `bytes`, big-endian, in base64: the form of `x-amz-checksum-crc32`. */
export function crc32Base64(bytes: Uint8Array): string {
  const v = Bun.hash.crc32(bytes) >>> 0;
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(v, 0);
  return out.toString("base64");
}

/**
 * Whether a refused CreateMultipartUpload may be the checksum's fault. An S3 work-alike
 * older than S3's checksums answers an `x-amz-checksum-algorithm` it does not know with
 * 400 (InvalidArgument, InvalidRequest, NotImplemented) or 501; asked again without it,
 * it accepts. Access, bucket and throttling errors are not that: they fail as they are.
 */
export function checksumMayBeRefused(err: unknown): boolean {
  const status = httpStatus(err instanceof S3Failure ? err.cause : err);
  const code = errorCode(err);
  return status === 501 || (status === 400 && ["InvalidArgument", "InvalidRequest", "NotImplemented"].includes(code ?? ""));
}

/**
 * Creates a multipart upload whose parts carry a CRC32 where the service takes them:
 * `create(true)` first. The parts carry one only when the service's answer names the
 * algorithm back (S3 and moto do): a work-alike that ignores the header it does not
 * know would otherwise be sent part checksums it may refuse at the very end, at
 * completion. One that refuses the header (checksumMayBeRefused) is asked again
 * without it, `create(false)`, and that is said once in the log, so that its user
 * knows why the parts are not checked on arrival. `checksums` says which, for the
 * parts and the completion.
 */
export async function createMultipart(
  create: (withChecksum: boolean) => Promise<{ UploadId?: string; ChecksumAlgorithm?: string }>,
  log: (line: string) => void,
): Promise<{ uploadId: string | undefined; checksums: boolean }> {
  try {
    const created = await create(true);
    return { uploadId: created.UploadId, checksums: created.ChecksumAlgorithm?.toUpperCase() === PART_CHECKSUM_ALGORITHM };
  } catch (err) {
    if (!checksumMayBeRefused(err)) throw err;
    log(`s3: the service refused a multipart upload with part checksums (${(err as Error).message}); uploading without them`);
    return { uploadId: (await create(false)).UploadId, checksums: false };
  }
}
