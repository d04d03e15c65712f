// The S3 client of an endpoint: the AWS SDK v3 with its own retries off (retry.ts
// owns them), its own checksum calculation off (its aws-chunked trailers are what S3
// work-alikes do not all know; the store gives each part's CRC32 itself as a plain
// header, checksum.ts, and checks the size of what landed), and credentials only from
// the endpoint, the standard AWS environment variables, or the instance profile:
// never a file in a home directory, never a command line.
import { S3Client } from "@aws-sdk/client-s3";
import { fromEnv } from "@aws-sdk/credential-provider-env";
import { fromInstanceMetadata } from "@smithy/credential-provider-imds";
import type { S3Config } from "./config.ts";
import { FetchRequestHandler } from "./fetch-handler.ts";

export function makeClient(c: S3Config): S3Client {
  const tls = { rejectUnauthorized: !c.skipSslValidation, ...(c.caCert ? { ca: c.caCert } : {}) };
  const credentials = c.credentials.from === "endpoint"
    ? { accessKeyId: c.credentials.accessKeyId, secretAccessKey: c.credentials.secretAccessKey }
    : c.credentials.from === "env" ? fromEnv() : fromInstanceMetadata({ timeout: 5000, maxRetries: 2 });
  return new S3Client({
    region: c.region,
    endpoint: c.endpointUrl,
    forcePathStyle: c.pathStyle,
    credentials,
    maxAttempts: 1,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // Bun's fetch, not node:http (fetch-handler.ts says why); and so no `Expect: 100-continue`
    // round trip before each part's body either (the SDK adds it for node:http only, and
    // Bun's fetch sends the body at once anyway).
    expectContinueHeader: false,
    requestHandler: new FetchRequestHandler({ tls }),
  });
}
