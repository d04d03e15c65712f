// The files target: a directory tree, streamed as a tar archive by the system's
// tar, and extracted back into base_dir (the same directory, or another one
// when the endpoint of the target restored to says so).
//
// include: glob patterns relative to base_dir (Bun.Glob; "**" crosses directories);
//   a directory that matches comes with everything under it. Empty: the whole tree.
// exclude: tar --exclude patterns, matched against every member's path and each
//   of its trailing parts ("*.log" anywhere, "cache" any file or directory so named).
// Restore adds and overwrites; files in base_dir that the archive lacks are left alone.
import { lstatSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { isAbsolute } from "node:path";
import {
  EndpointInvalid, ExecFailure, PluginError, exec, strList, type ActionContext, type Plugin, type VerifyResult,
} from "../protocol.ts";
import { confine, endpointPath } from "../confine.ts";
import { VERSION } from "../../src/version.ts";
import { TarGuard } from "./targuard.ts";

interface Config { baseDir: string; include: string[]; exclude: string[] }

/** Every action reads its endpoint here: the path is normal and, when the daemon is confined, inside an allowed one. */
function config(ctx: ActionContext): Config {
  const endpoint = ctx.endpoint;
  const baseDir = endpointPath(endpoint, "base_dir", { required: true });
  confine("base_dir", baseDir, ctx.allowPaths);
  const include = strList(endpoint, "include");
  for (const pattern of include) {
    if (isAbsolute(pattern) || pattern.split("/").includes("..")) {
      throw new EndpointInvalid("include", `patterns are relative to base_dir and stay inside it: "${pattern}" does not`);
    }
  }
  return { baseDir, include, exclude: strList(endpoint, "exclude") };
}

function tarBinary(): string {
  const tar = Bun.which("tar");
  if (!tar) throw new ExecFailure("cannot find tar on PATH");
  return tar;
}

/** The members for tar: every include match, minus those already inside a matched directory. */
async function members(c: Config): Promise<string[]> {
  const found = new Map<string, boolean>();
  for (const pattern of c.include) {
    for await (const path of new Bun.Glob(pattern).scan({ cwd: c.baseDir, dot: true, onlyFiles: false, followSymlinks: false })) {
      if (!found.has(path)) found.set(path, statSync(`${c.baseDir}/${path}`, { throwIfNoEntry: false })?.isDirectory() ?? false);
    }
  }
  const sorted = [...found.keys()].sort();
  const dirs: string[] = [];
  return sorted.filter((p) => {
    if (dirs.some((d) => p.startsWith(d + "/"))) return false;
    if (found.get(p)) dirs.push(p);
    return true;
  });
}

async function backup(ctx: ActionContext): Promise<void> {
  const c = config(ctx);
  if (!statSync(c.baseDir, { throwIfNoEntry: false })?.isDirectory()) throw new PluginError(`base_dir ${c.baseDir} is not an existing directory`);
  const argv = [tarBinary(), "--create", "--file=-", `--directory=${c.baseDir}`, ...c.exclude.map((p) => `--exclude=${p}`)];
  let list: ReadableStream<Uint8Array> | undefined;
  if (c.include.length) {
    const names = await members(c);
    if (!names.length) ctx.log(`files: warning: no path in ${c.baseDir} matches the include patterns; the archive is empty`);
    // Names go through stdin, NUL-separated: no length limit, no name taken for an option.
    argv.push("--verbatim-files-from", "--null", "--files-from=-");
    list = new Response(names.map((n) => n + "\0").join("")).body!;
  } else {
    argv.push(".");
  }
  ctx.log(`files: archiving ${c.baseDir}`);
  const r = await exec(argv, { stdin: list ?? "ignore", stdout: "inherit", signal: ctx.signal, okCodes: [1] });
  // tar's 1 on create: a file changed while it was read. The archive is sound; the file's copy may not be.
  if (r.code === 1) ctx.log("files: warning: some files changed while they were archived (tar said which above)");
}

async function restore(ctx: ActionContext): Promise<void> {
  const c = config(ctx);
  try {
    mkdirSync(c.baseDir, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new PluginError(`cannot create ${c.baseDir}: ${(err as Error).message}`);
  }
  ctx.log(`files: extracting into ${c.baseDir}`);
  await exec([tarBinary(), "--extract", "--file=-", `--directory=${c.baseDir}`], {
    stdin: ctx.stdin.pipeThrough(new TarGuard({ confined: ctx.allowPaths.length > 0 })), stdout: "ignore", signal: ctx.signal,
  });
}

/** Restore drills: the number of files (and directories, symlinks) and the bytes of the files under base_dir. */
async function verify(ctx: ActionContext): Promise<VerifyResult> {
  const c = config(ctx);
  if (!statSync(c.baseDir, { throwIfNoEntry: false })?.isDirectory()) throw new PluginError(`base_dir ${c.baseDir} is not an existing directory`);
  let files = 0, dirs = 0, links = 0, bytes = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const st = lstatSync(path);
      if (st.isDirectory()) { dirs++; walk(path); }
      else if (st.isSymbolicLink()) links++;
      else { files++; bytes += st.size; }
    }
  };
  walk(c.baseDir);
  return { summary: `${files} files, ${bytes} bytes, ${dirs} directories, ${links} symlinks`, figures: { files, bytes, directories: dirs, symlinks: links } };
}

/** Restore drills: empties base_dir (the scratch directory), keeping the directory itself. */
async function clean(ctx: ActionContext): Promise<string[]> {
  const c = config(ctx);
  if (!statSync(c.baseDir, { throwIfNoEntry: false })?.isDirectory()) return [`files: ${c.baseDir} does not exist; nothing to clean`];
  const names = readdirSync(c.baseDir);
  for (const name of names) rmSync(join(c.baseDir, name), { recursive: true, force: true });
  return [`files: removed ${names.length} entries from ${c.baseDir}`];
}

export const files: Plugin = {
  info: {
    name: "files",
    author: "Shield",
    version: VERSION,
    features: { target: "yes", store: "no" },
    endpoint_from: "env",
    fields: [
      { name: "base_dir", type: "abspath", title: "Directory", required: true, help: "Absolute path of the directory tree to back up, and to restore into (created when absent); inside an allowed path when Shield is confined.", example: "/srv/app/uploads" },
      { name: "include", type: "list", title: "Include", required: false, help: "Glob patterns relative to the directory (one per line); empty: everything. A matching directory brings all it holds.", example: "config/*.yml" },
      { name: "exclude", type: "list", title: "Exclude", required: false, help: "tar --exclude patterns (one per line), matched anywhere in a path.", example: "*.tmp" },
    ],
  },
  validate(ctx) {
    const c = config(ctx);
    return [
      `base_dir: ${c.baseDir}`,
      `include: ${c.include.length ? c.include.join(", ") : "(everything)"}`,
      `exclude: ${c.exclude.length ? c.exclude.join(", ") : "(nothing)"}`,
    ];
  },
  backup,
  restore,
  verify,
  clean,
};
