// One built-in plugin by name, loading its own module only: a guard that runs a
// built-in in its own process (src/plugin-host/in-process.ts) needs one plugin, and
// evaluating all of them (index.ts) cost every such guard ~5 ms of CPU, twice per
// backup (bench/DATAPATH.md, "Fixed cost (issue 20)"). The names are index.ts's;
// test/plugin-host/in-process.test.ts checks that both lists agree.
import type { Plugin } from "./protocol.ts";

const loaders: Record<string, () => Promise<Plugin>> = {
  azure: async () => (await import("./azure/index.ts")).azure,
  files: async () => (await import("./files/index.ts")).files,
  fs: async () => (await import("./fs/index.ts")).fs,
  mysql: async () => (await import("./mysql/index.ts")).mysql,
  postgres: async () => (await import("./postgres/index.ts")).postgres,
  rabbitmq: async () => (await import("./rabbitmq/index.ts")).rabbitmq,
  redis: async () => (await import("./redis/index.ts")).redis,
  s3: async () => (await import("./s3/index.ts")).s3,
  script: async () => (await import("./script/index.ts")).script,
};

/**
 * The built-in stores whose blobs are local files (their Plugin says localBlobs): the
 * daemon runs their retrieve inside a restore's unsealing guard, which reads the blob's
 * file itself (src/pipeline/guard.ts). A list here, so that the daemon need not load them.
 */
export const localBlobStores: readonly string[] = ["fs"];

/**
 * The built-in targets whose backup's output is their tools' (pg_dump, pg_dumpall,
 * mariadb-dump, mariabackup write it, handed ctx.stdoutFd; mysql's few lines of its own go
 * there too, written on the thread pool): the store's guard can run it beside the store, in
 * one process, without the two sharing the work of each byte (src/pipeline/guard.ts,
 * --with-source). One Bun start fewer per backup.
 */
export const toolBackups: readonly string[] = ["postgres", "mysql"];

/** The names loadBuiltin knows. */
export const loadableBuiltins: readonly string[] = Object.keys(loaders);

/** The built-in plugin `name`, or undefined when there is none of that name. */
export function loadBuiltin(name: string): Promise<Plugin | undefined> {
  return Object.hasOwn(loaders, name) ? loaders[name]!() : Promise.resolve(undefined);
}
