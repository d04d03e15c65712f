// Confinement: what an endpoint may make a built-in plugin touch.
//
// The model (README, "Confinement"): operators configure targets and stores; they
// do not get a shell on the daemon's host. So every path an endpoint gives is
// checked here before any plugin touches it:
// - it is absolute, free of NUL and "..", and written in its normal form (what is
//   stored is what is used: "/srv/x/../../etc" is refused, never quietly read as
//   "/etc");
// - when the admin confined the daemon (`shield daemon --allow-path DIR`, handed to
//   plugins as SHIELD_ALLOW_PATH, ctx.allowPaths), directories that data is read from or written to
//   must resolve, symlinks followed, to a place inside one of those directories;
// - a directory of tools to run (pg_bindir) must hold the tool, and it and the
//   tool must be owned by root or by the daemon's user and writable by nobody else,
//   so that no one but the admin chooses what the daemon executes.
// Everything is checked again on every action (validate runs first), so an endpoint
// saved before the daemon was confined is refused when it next runs.
import { lstatSync, realpathSync, statSync, accessSync, constants } from "node:fs";
import { basename, dirname, isAbsolute, join, normalize } from "node:path";
import { EndpointInvalid, str, type Endpoint } from "./protocol.ts";

/** "/a//b/./c/" → "/a/b/c": the one spelling of an absolute path that is stored. */
export function normalForm(path: string): string {
  const n = normalize(path);
  return n.length > 1 ? n.replace(/\/+$/, "") : n;
}

/**
 * An absolute path from the endpoint, refused (exit 13) unless it is written in
 * normal form; the message gives the form to write instead.
 */
export function endpointPath(endpoint: Endpoint, field: string, opts: { required: true }): string;
export function endpointPath(endpoint: Endpoint, field: string, opts?: { required?: false }): string | undefined;
export function endpointPath(endpoint: Endpoint, field: string, opts: { required?: boolean } = {}): string | undefined {
  const path = opts.required ? str(endpoint, field, { required: true }) : str(endpoint, field);
  if (path === undefined) return undefined;
  if (path.includes("\0")) throw new EndpointInvalid(field, "must not contain a NUL byte");
  if (!isAbsolute(path)) throw new EndpointInvalid(field, `must be an absolute path, not "${path}"`);
  if (path.split("/").includes("..")) {
    throw new EndpointInvalid(field, `must not contain "..": write the directory it means, "${normalForm(path)}", if that is what you want`);
  }
  const normal = normalForm(path);
  if (normal !== path) throw new EndpointInvalid(field, `must be written in normal form: "${normal}", not "${path}"`);
  return path;
}

/**
 * Where a path leads once every symlink is followed. A path that does not exist
 * yet (a restore creates its directory) resolves through its longest existing
 * ancestor; a dangling symlink on the way is refused, since what it will lead to
 * once created cannot be known now.
 */
export function resolvePath(path: string): string {
  const rest: string[] = [];
  for (let at = path; ; at = dirname(at)) {
    try {
      return join(realpathSync(at), ...rest.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") throw new Error(`cannot resolve ${at}: ${(err as Error).message}`);
      if (lstatSync(at, { throwIfNoEntry: false })) throw new Error(`${at} is a symlink to nothing`);
      if (at === dirname(at)) throw err;
      rest.push(basename(at));
    }
  }
}

function isInside(path: string, dir: string): boolean {
  return dir === "/" || path === dir || path.startsWith(dir + "/");
}

/** The allowed directory holding `path` (both resolved), or undefined. */
function holder(path: string, allowed: readonly string[]): string | undefined {
  for (const dir of allowed) {
    let real: string;
    try { real = resolvePath(dir); } catch { continue; }
    if (isInside(path, real)) return dir;
  }
  return undefined;
}

/**
 * Refuses (exit 13) a directory of data that lies outside every allowed directory,
 * symlinks followed, when the daemon is confined. Unconfined: anything goes.
 */
export function confine(field: string, path: string, allowed: readonly string[]): void {
  if (!allowed.length) return;
  let real: string;
  try {
    real = resolvePath(path);
  } catch (err) {
    throw new EndpointInvalid(field, `cannot be checked against the allowed paths: ${(err as Error).message}`);
  }
  if (holder(real, allowed)) return;
  const via = real === path ? "" : ` (it leads to ${real})`;
  throw new EndpointInvalid(field, `${path} is outside the paths this Shield may use${via}; allowed: ${allowed.join(", ")}`);
}

/** Root or the daemon's own user: nobody else may choose what the daemon runs. */
function trustedOwner(uid: number): boolean {
  return uid === 0 || uid === process.getuid?.();
}

function checkTrusted(field: string, path: string, what: string): void {
  const st = statSync(path);
  if (!trustedOwner(st.uid)) throw new EndpointInvalid(field, `${what} ${path} must be owned by root or by the user Shield runs as (its owner is uid ${st.uid})`);
  if (st.mode & 0o022) throw new EndpointInvalid(field, `${what} ${path} must not be writable by group or others (mode ${(st.mode & 0o7777).toString(8)})`);
}

/**
 * A directory of tools the plugin runs (pg_bindir). It must hold every tool in
 * `required`; it, and each of `tools` it holds (symlinks followed, with the
 * directory the real file lies in), must be owned by root or the daemon's user and
 * not writable by group or others; and it may not lie inside an allowed directory,
 * where operators can put files through restores.
 */
export function checkToolDir(field: string, dir: string, tools: { required: string[]; optional?: string[] }, allowed: readonly string[]): void {
  let real: string;
  try {
    real = realpathSync(dir);
    if (!statSync(real).isDirectory()) throw new Error("not a directory");
  } catch {
    throw new EndpointInvalid(field, `${dir} is not an existing directory`);
  }
  checkTrusted(field, real, "the directory");
  const inAllowed = holder(real, allowed);
  if (inAllowed) throw new EndpointInvalid(field, `${dir} lies inside ${inAllowed}, an allowed path for data: tools must live elsewhere`);
  for (const tool of [...tools.required, ...(tools.optional ?? [])]) {
    const path = join(dir, tool);
    let target: string;
    try {
      target = realpathSync(path);
    } catch {
      if (tools.required.includes(tool)) throw new EndpointInvalid(field, `${dir} holds no ${tool}`);
      continue;
    }
    const st = statSync(target);
    if (!st.isFile()) throw new EndpointInvalid(field, `${path} is not a file`);
    try { accessSync(target, constants.X_OK); } catch { throw new EndpointInvalid(field, `${path} is not executable`); }
    checkTrusted(field, target, "the tool");
    if (dirname(target) !== real) checkTrusted(field, dirname(target), "the directory");
  }
}
