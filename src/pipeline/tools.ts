// The programs the pipeline itself runs (plugins check their own: pg_dump, tar...).
// A missing one is named at daemon start, and fails only the tasks that need it,
// each with a task log line saying which program to install.
import { pluginEnv } from "../plugin-host/index.ts";

export interface Tool { name: string; neededFor: string }

export const TOOLS: readonly Tool[] = [
  { name: "zstd", neededFor: 'backups and restores with compression "zstd" (the default)' },
  { name: "gzip", neededFor: 'backups and restores with compression "gzip"' },
  // shield guard makes a FIFO for the input of every store and restoring target.
  { name: "mkfifo", neededFor: "every backup and restore" },
];

/** Looked up in the PATH the stages get, each time: a tool installed later is found. */
export function findTool(name: string): string | null {
  return Bun.which(name, { PATH: pluginEnv().PATH ?? "" });
}

export function missingTools(): Tool[] {
  return TOOLS.filter((t) => !findTool(t.name));
}

/** Why a task cannot run without `name`, or undefined when it is installed. */
export function toolMissing(name: string, purpose: string): string | undefined {
  if (findTool(name)) return undefined;
  return `${purpose} needs the ${name} program, which is not installed (not found in PATH=${pluginEnv().PATH ?? ""})`;
}
