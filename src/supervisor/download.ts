// Archive downloads (GET /v1/archive/:uuid/download): an archive's raw stream,
// decrypted and decompressed, for a person to restore by hand or move elsewhere.
// Not a task: it lives as long as the HTTP response, and stops when the client
// goes away. Verified like a restore (pipeline/run.ts download). What its stages
// say goes to the daemon's log, every secret of the store's endpoint masked.
import type { Catalog } from "../catalog/index.ts";
import { Conflict, NotFound } from "../core/errors.ts";
import { log } from "../log.ts";
import { unwrapKey } from "../pipeline/encryption.ts";
import { EndpointSecrets } from "../pipeline/endpoint-secrets.ts";
import { download, PipelineFailed } from "../pipeline/run.ts";
import type { PluginRegistry } from "../plugin-host/index.ts";
import { maskSecrets, secretsOf } from "./tasklog.ts";

export interface ArchiveDownload {
  stream: ReadableStream<Uint8Array>;
  /** A file name for it: the target's name and the time it was taken. */
  filename: string;
}

export type Downloader = (uuid: string, signal: AbortSignal) => Promise<ArchiveDownload>;

export function archiveDownloads(o: { catalog: Catalog; plugins: PluginRegistry; masterKey: Uint8Array }): Downloader {
  const secrets = new EndpointSecrets(o.masterKey);
  return async (uuid, signal) => {
    const archive = await o.catalog.archives.get(uuid);
    if (!archive) throw new NotFound("archive", uuid);
    if (archive.status !== "valid") throw new Conflict(`archive ${uuid} is ${archive.status}: only a valid archive can be downloaded`);
    if (!archive.storePlugin || archive.storeEndpoint === null) throw new Conflict(`the store of archive ${uuid} no longer exists`);
    const opened = secrets.open(archive.storeEndpoint);
    const hidden = [...new Set([...opened.secrets, ...secretsOf(opened.endpoint)])].sort((a, b) => b.length - a.length);
    const ctx = {
      plugins: o.plugins, signal,
      log: (line: string) => log.info("archive download", { archive: uuid, line: maskSecrets(line, hidden) }),
    };
    try {
      const stream = await download(ctx, { plugin: archive.storePlugin, endpoint: opened.endpoint }, {
        storeKey: archive.storeKey, sha256: archive.sha256, size: archive.size, compression: archive.compression, cipher: archive.cipher,
        dataKey: archive.encryptionKey ? unwrapKey(o.masterKey, archive.encryptionKey) : null,
      });
      const when = new Date(archive.takenAt * 1000).toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
      const name = (archive.targetName ?? "archive").replace(/[^A-Za-z0-9._-]+/g, "_");
      return { stream, filename: `${name}-${when}.raw` };
    } catch (err) {
      // Before a byte went out: the verify pass or a stage's start failed. The archive is what is wrong, not the request.
      if (err instanceof PipelineFailed) throw new Conflict(`archive ${uuid} cannot be downloaded: ${maskSecrets(err.message, hidden)}`);
      throw err;
    }
  };
}
