// The programs the pipeline itself runs (plugins check their own: pg_dump, tar...).
// A missing one is named at daemon start, and fails only the tasks that need it,
// each with a task log line saying which program to install.
import { libc } from "../libc.ts";
import { pluginEnv } from "../plugin-host/index.ts";

export interface Tool { name: string; neededFor: string; needed?: () => boolean }

export const TOOLS: readonly Tool[] = [
  { name: "zstd", neededFor: 'backups and restores with compression "zstd" (the default)' },
  { name: "gzip", neededFor: 'backups and restores with compression "gzip"' },
  // Every store's and restoring target's input is a FIFO. libc's mkfifo makes it
  // (fifo.ts); the tool is the fallback where libc cannot be called.
  { name: "mkfifo", neededFor: "every backup and restore", needed: () => fifoTool() !== undefined },
];

/** The mkfifo tool when the pipeline will need it (libc's mkfifo unavailable), else undefined. */
export function fifoTool(): string | undefined {
  return libc() ? undefined : "mkfifo";
}

/** Looked up in the PATH the stages get, each time: a tool installed later is found. */
export function findTool(name: string): string | null {
  return Bun.which(name, { PATH: pluginEnv().PATH ?? "" });
}

export function missingTools(): Tool[] {
  return TOOLS.filter((t) => (t.needed?.() ?? true) && !findTool(t.name));
}

/** Why a task cannot run without `name`, or undefined when it is installed. */
export function toolMissing(name: string, purpose: string): string | undefined {
  if (findTool(name)) return undefined;
  return `${purpose} needs the ${name} program, which is not installed (not found in PATH=${pluginEnv().PATH ?? ""})`;
}
