// Which core to talk to and with what token: flags, then the environment, then the
// config file that `shield login` writes. Tokens in the file are kept per core URL,
// so a token is only ever sent to the core that issued it.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { CliError } from "./errors.ts";

export const DEFAULT_CORE = "http://127.0.0.1:8888";

export interface SavedLogin {
  token: string;
  /** Who signed in, and the token's UUID (so `shield logout` can revoke it). */
  user: string;
  token_uuid: string;
}

export interface ConfigFile {
  /** The core used when neither --core nor SHIELD_CORE says otherwise. */
  core?: string;
  logins: Record<string, SavedLogin>;
}

export interface Connection {
  core: string;
  token: string | undefined;
  /** Where the token came from, for error messages ("--token", "SHIELD_TOKEN", the file). */
  tokenSource: string | undefined;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "shield", "config.json");
}

export function readConfig(path = configPath()): ConfigFile {
  if (!existsSync(path)) return { logins: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message} (fix it, or remove it and run shield login)`);
  }
  const c = (parsed && typeof parsed === "object" ? parsed : {}) as Partial<ConfigFile>;
  return { core: typeof c.core === "string" ? c.core : undefined, logins: c.logins && typeof c.logins === "object" ? c.logins : {} };
}

/** Written to a temporary file with mode 0600 and renamed: the token is never readable by others, even briefly. */
export function writeConfig(config: ConfigFile, path = configPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** "localhost:8888" → "http://localhost:8888"; no trailing slash, so paths join cleanly. */
export function normalizeCore(url: string): string {
  let u = url.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) u = `http://${u}`;
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    throw new CliError(`"${url}" is not a URL of a Shield core (like http://shield.example.com:8888)`, 1);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new CliError(`"${url}": the core is reached over http:// or https://`, 1);
  }
  return parsed.toString().replace(/\/+$/, "");
}

/** The core: --core, then SHIELD_CORE, then the one last signed in to, then the default. */
export function chosenCore(flag: string | undefined, config: ConfigFile, env: NodeJS.ProcessEnv = process.env): string {
  return normalizeCore(flag ?? (env.SHIELD_CORE || undefined) ?? config.core ?? DEFAULT_CORE);
}

export function connection(flags: { core?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): Connection {
  const config = readConfig(configPath(env));
  const core = chosenCore(flags.core, config, env);
  if (flags.token) return { core, token: flags.token, tokenSource: "--token" };
  if (env.SHIELD_TOKEN) return { core, token: env.SHIELD_TOKEN, tokenSource: "SHIELD_TOKEN" };
  const saved = config.logins[core];
  if (saved?.token) return { core, token: saved.token, tokenSource: `${configPath(env)} (shield login as ${saved.user})` };
  return { core, token: undefined, tokenSource: undefined };
}
