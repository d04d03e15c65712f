// The S3 service as the store's actions see it: the SDK client behind one
// wrapper that gives every call its deadline and its retries (retry.ts), so that
// no call site has a loop of its own. A call's name and the bytes it carries
// (which stretch its deadline) are read from the command itself.
import type { S3Client } from "@aws-sdk/client-s3";
import { withRetry, type RetryPolicy } from "./retry.ts";

/** Any command of the S3 client (the SDK's own type for it is not generic enough to infer the output). */
type Sendable = { input: object; resolveMiddleware(...args: any[]): unknown };
/** What a command resolves to (the SDK's types carry it in resolveMiddleware's handler). */
type Output<C> = C extends { resolveMiddleware(...args: any[]): (...args: any[]) => Promise<{ output: infer O }> } ? O : never;

export interface CallOptions {
  /** The action being stopped: no more attempts, the call rejects at once. */
  stop?: AbortSignal;
  /** Fewer (or more) attempts than the service's policy. */
  attempts?: number;
  /** How the call is named in retries and errors (default: the command's name, and the part number). */
  what?: string;
  /** More time per attempt than the bytes it carries call for (a completion that assembles a large object). */
  extraMs?: number;
}

export class S3Service {
  constructor(readonly client: S3Client, readonly policy: RetryPolicy, private readonly log: (line: string) => void) {}

  /** One call, retried while its failures are transient; a permanent failure rejects at once (an S3Failure). */
  send<C extends Sendable>(command: C, opts: CallOptions = {}): Promise<Output<C>> {
    const input = command.input as { ContentLength?: number; PartNumber?: number };
    // The bundler may suffix class names (PutObjectCommand2): only the operation is wanted.
    const op = command.constructor.name.replace(/Command\d*$/, "");
    const what = opts.what ?? (input.PartNumber ? `${op} ${input.PartNumber}` : op);
    const policy = opts.attempts ? { ...this.policy, attempts: opts.attempts } : this.policy;
    return withRetry(what, policy, ({ signal }) => this.client.send(command as never, { abortSignal: signal }) as Promise<Output<C>>,
      { bytes: input.ContentLength, extraMs: opts.extraMs, stop: opts.stop, log: this.log });
  }

  destroy(): void {
    this.client.destroy();
  }
}
