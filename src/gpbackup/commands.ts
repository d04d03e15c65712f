// The gpbackup storage plugin API (seeds/gpbackup-plugin-api.md), one command per
// run: `gpbackup_shield_plugin COMMAND ARGS...` or `shield gpbackup-plugin COMMAND ARGS...`.
//
// stdout carries only what the API says (the API version, the --version line,
// restore_data's stream, list_directory's table); everything else goes to stderr,
// and any failure is one line there with exit code 1.
//
// API 0.5.0 (gpbackup_s3_plugin's) adds to 0.4.0's commands the directory commands
// backup managers call (backup_directory, restore_directory and their _parallel
// forms, list_directory, delete_directory); gprestore's filtered restore of an
// uncompressed single-data-file backup calls restore_data_subset when the config
// says `restore_subset: "on"`.
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { VERSION } from "../version.ts";
import { NotFound, type Backend } from "./backend.ts";
import { readConfig, type PluginConfig } from "./config.ts";
import { isTimestamp, relativeKey } from "./layout.ts";
import { flushStdout, stdoutSink, type Sink } from "./transfer.ts";

export const API_VERSION = "0.5.0";
export const PLUGIN_NAME = "gpbackup_shield_plugin";

export class CommandError extends Error {}

const SCOPES = new Set(["coordinator", "master", "segment_host", "segment"]);

interface Command {
  /** Accepted argument counts, as gpbackup_s3_plugin checks them. */
  args: number[];
  run(args: string[]): Promise<void>;
}

async function backendOf(config: PluginConfig): Promise<Backend> {
  if (config.mode === "s3") {
    const { S3Backend } = await import("./s3.ts");
    return new S3Backend(config);
  }
  const { ShieldBackend } = await import("./shield.ts");
  return ShieldBackend.connect(config);
}

async function s3Only(configPath: string, command: string) {
  const config = readConfig(configPath);
  if (config.mode !== "s3") throw new CommandError(`${command} works in S3 mode only: a Shield store's objects are reached through its archives`);
  const { S3Backend } = await import("./s3.ts");
  return new S3Backend(config);
}

function scopeOf(args: string[]): string {
  const scope = args[2]!;
  if (!SCOPES.has(scope)) throw new CommandError(`unknown scope "${scope}" (coordinator, master, segment_host or segment)`);
  if (args[3] !== undefined && !/^-?[0-9]+$/.test(args[3])) throw new CommandError(`contentID "${args[3]}" is not a number`);
  return scope;
}

/** Reads a local file as a stream of pieces. */
async function* fileSource(path: string): AsyncGenerator<Uint8Array> {
  yield* Bun.file(path).stream() as unknown as AsyncIterable<Uint8Array>;
}

async function* stdinSource(): AsyncGenerator<Uint8Array> {
  yield* Bun.stdin.stream() as unknown as AsyncIterable<Uint8Array>;
}

/** Restores into a temporary name beside the file, renamed once complete: a failed restore leaves no half file. */
async function restoreTo(path: string, fetch: (sink: Sink) => Promise<number>): Promise<number> {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.shield-${process.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const fh = await open(tmp, "w", 0o600);
  try {
    const n = await fetch(async (chunk) => { await fh.write(chunk); });
    await fh.close();
    await rename(tmp, path);
    return n;
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(p));
    else if (entry.isFile()) out.push(p);
  }
  return out.sort();
}

/** Runs f over items, at most `parallel` at once. */
async function pool<T>(items: T[], parallel: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(parallel, items.length)) }, async () => {
    while (next < items.length) await f(items[next++]!);
  });
  await Promise.all(workers);
}

function parallelOf(arg: string | undefined): number {
  if (arg === undefined) return 5;
  if (!/^[0-9]+$/.test(arg) || Number(arg) < 1) throw new CommandError(`parallel "${arg}" must be a whole number of at least 1`);
  return Number(arg);
}

/** list_directory's table, laid out as the Go plugin's tablewriter lays it out. */
function table(rows: string[][]): string {
  const header = ["NAME", "SIZE(bytes)"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => c.padEnd(widths[i]!)).join("   ")}  \n`;
  return line(header) + ` ${widths.map((w) => "-".repeat(w + 2)).join(" ")} \n` + rows.map(line).join("");
}

const setup = (restore: boolean): Command => ({
  args: [3, 4],
  async run(args) {
    const scope = scopeOf(args);
    const config = readConfig(args[0]!);
    // gprestore reads the restored files from the local backup directory: make sure it exists.
    if (restore) mkdirSync(args[1]!, { recursive: true });
    // Once per cluster and once per host: check the destination answers; per segment nothing more.
    if (scope === "segment") return;
    const backend = await backendOf(config);
    if (!restore) await backend.probe(args[1]!);
  },
});

const cleanup: Command = {
  args: [3, 4],
  async run(args) {
    scopeOf(args);
    readConfig(args[0]!);
  },
};

export const COMMANDS: Record<string, Command> = {
  setup_plugin_for_backup: setup(false),
  setup_plugin_for_restore: setup(true),
  cleanup_plugin_for_backup: cleanup,
  cleanup_plugin_for_restore: cleanup,
  backup_file: {
    args: [2],
    async run([configPath, path]) {
      const backend = await backendOf(readConfig(configPath!));
      const key = relativeKey(path!);
      try { statSync(path!); } catch (err) { throw new CommandError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`); }
      await backend.put(key, fileSource(path!));
    },
  },
  restore_file: {
    args: [2],
    async run([configPath, path]) {
      const backend = await backendOf(readConfig(configPath!));
      const key = relativeKey(path!);
      await restoreTo(path!, (sink) => backend.get(key, sink));
    },
  },
  backup_data: {
    args: [2],
    async run([configPath, dataKey]) {
      const backend = await backendOf(readConfig(configPath!));
      await backend.put(relativeKey(dataKey!), stdinSource());
    },
  },
  restore_data: {
    args: [2],
    async run([configPath, dataKey]) {
      const backend = await backendOf(readConfig(configPath!));
      await backend.get(relativeKey(dataKey!), stdoutSink());
      await flushStdout();
    },
  },
  restore_data_subset: {
    args: [3],
    async run([configPath, dataKey, offsetsFile]) {
      const backend = await backendOf(readConfig(configPath!));
      const key = relativeKey(dataKey!);
      // "N start1 end1 start2 end2 ...": each relation's bytes [start, end) of the data file, in order.
      const words = (await Bun.file(offsetsFile!).text()).trim().split(/\s+/).map(Number);
      const count = words[0];
      if (!Number.isInteger(count) || words.length !== 1 + 2 * count! || words.some((w) => !Number.isInteger(w) || w < 0)) {
        throw new CommandError(`${offsetsFile} is not an offsets file ("N start end ..." with N pairs of whole numbers)`);
      }
      const sink = stdoutSink();
      for (let i = 0; i < count!; i++) {
        const start = words[1 + 2 * i]!;
        const end = words[2 + 2 * i]!;
        if (end < start) throw new CommandError(`${offsetsFile}: relation ${i + 1} ends (${end}) before it starts (${start})`);
        if (end > start) await backend.getRange(key, start, end - 1, sink);
      }
      await flushStdout();
    },
  },
  delete_backup: {
    args: [2],
    async run([configPath, timestamp]) {
      if (!isTimestamp(timestamp!)) throw new CommandError(`delete requires a <timestamp> with format YYYYMMDDHHMMSS, but received: ${timestamp}`);
      const backend = await backendOf(readConfig(configPath!));
      await backend.deleteBackup(timestamp!);
    },
  },
  plugin_api_version: {
    args: [0],
    async run() {
      process.stdout.write(`${API_VERSION}\n`);
    },
  },
  // The directory commands: S3 mode, keys are the local paths themselves (as gpbackup_s3_plugin's).
  backup_directory: {
    args: [2, 3],
    async run([configPath, dir]) {
      const s3 = await s3Only(configPath!, "backup_directory");
      for (const file of filesUnder(dir!)) await s3.putKey(file, fileSource(file));
    },
  },
  backup_directory_parallel: {
    args: [2, 3],
    async run([configPath, dir, parallel]) {
      const s3 = await s3Only(configPath!, "backup_directory_parallel");
      await pool(filesUnder(dir!), parallelOf(parallel), async (file) => { await s3.putKey(file, fileSource(file)); });
    },
  },
  restore_directory: {
    args: [2, 3],
    async run([configPath, dir]) {
      const s3 = await s3Only(configPath!, "restore_directory");
      mkdirSync(dir!, { recursive: true });
      for (const o of await s3.list(dir!)) {
        if (o.key.endsWith("/")) continue;
        await restoreTo(join(dir!, basename(o.key)), (sink) => s3.getKey(o.key, sink));
      }
    },
  },
  restore_directory_parallel: {
    args: [2, 3],
    async run([configPath, dir, parallel]) {
      const s3 = await s3Only(configPath!, "restore_directory_parallel");
      mkdirSync(dir!, { recursive: true });
      const objects = (await s3.list(dir!)).filter((o) => !o.key.endsWith("/"));
      await pool(objects, parallelOf(parallel), async (o) => { await restoreTo(join(dir!, basename(o.key)), (sink) => s3.getKey(o.key, sink)); });
    },
  },
  list_directory: {
    args: [1, 2],
    async run([configPath, prefix]) {
      const s3 = await s3Only(configPath!, "list_directory");
      const objects = (await s3.list(prefix ?? s3.config.folder)).filter((o) => !o.key.endsWith("/"));
      process.stdout.write(table(objects.map((o) => [o.key, String(o.size)])));
    },
  },
  delete_directory: {
    args: [2],
    async run([configPath, prefix]) {
      const s3 = await s3Only(configPath!, "delete_directory");
      if (!prefix) throw new CommandError("delete_directory needs a non-empty directory");
      await s3.deletePrefix(prefix);
    },
  },
};

export const USAGE = `Usage: ${PLUGIN_NAME} COMMAND ARGS...   (or: shield gpbackup-plugin COMMAND ARGS...)
A gpbackup/gprestore storage plugin (plugin API ${API_VERSION}); gpbackup runs it, named as
executablepath in the YAML file given with --plugin-config. Commands:
  ${Object.keys(COMMANDS).join("\n  ")}
  --version
`;

/** Runs one command; resolves with the exit code. */
export async function runGpbackupPlugin(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  try {
    if (name === "--version" || name === "-v" || name === "version") {
      process.stdout.write(`${PLUGIN_NAME} version ${VERSION}\n`);
      return 0;
    }
    if (name === "--help" || name === "-h" || name === "help") {
      process.stdout.write(USAGE);
      return 0;
    }
    if (name === undefined) {
      process.stderr.write(USAGE);
      return 1;
    }
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command) throw new CommandError(`unknown command "${name}" (${PLUGIN_NAME} --help lists them)`);
    if (!command.args.includes(args.length)) {
      throw new CommandError(`${name}: invalid number of arguments: expected ${command.args.join(" or ")}, got ${args.length}`);
    }
    await command.run(args);
    return 0;
  } catch (err) {
    const message = err instanceof NotFound ? err.message : ((err as Error)?.message ?? String(err));
    process.stderr.write(`${PLUGIN_NAME}: ${message.split("\n")[0]}\n`);
    return 1;
  }
}
