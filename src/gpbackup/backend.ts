// What the commands need from where backups go. Keys are gpbackup's relative keys
// (backups/<date>/<timestamp>/<file>, see layout.ts); each mode decides what
// they become: S3 mode an object under the folder, Shield mode a blob in a
// Shield store recorded in the catalog under the backup's archive.
import type { Sink } from "./transfer.ts";

export class NotFound extends Error {}

export interface Backend {
  /** Checks that the place is reachable and usable (setup at coordinator and segment_host scope). */
  probe(localBackupDir: string): Promise<void>;
  /** Stores the stream under the key; resolves with its size. Replaces an object of the same key. */
  put(key: string, source: AsyncIterable<Uint8Array>): Promise<number>;
  /** Sends the object to the sink; throws NotFound when there is none. */
  get(key: string, sink: Sink): Promise<number>;
  /** Sends bytes start..end (inclusive) of the object to the sink. */
  getRange(key: string, start: number, end: number, sink: Sink): Promise<number>;
  /** Deletes every object of one backup. */
  deleteBackup(timestamp: string): Promise<void>;
}
