// `shield agent --osb-listen HOST:PORT ...`: the osb-backup-agent API served
// beside the agent (an ExtraServer of server.ts). Its options are parsed here,
// with the agent's. The credentials come from the environment (never an
// argument: the process list is public): SHIELD_OSB_USERNAME and
// SHIELD_OSB_PASSWORD, or the seed's client_username and client_password.
import { resolve } from "node:path";
import { UsageError } from "../../args.ts";
import { log } from "../../log.ts";
import type { ExtraServer } from "../server.ts";
import { parseListen, startOsbServer, type OsbOptions } from "./index.ts";

export const OSB_OPTION_SPECS = [
  { name: "osb-listen" }, { name: "osb-script-dir" }, { name: "osb-backup-dir" }, { name: "osb-restore-dir" }, { name: "osb-s3-endpoint" },
];

export const OSB_HELP = `The osb-backup-agent HTTP API (off unless --osb-listen is given):
  --osb-listen HOST:PORT  serve GET /status, POST /backup, GET /backup/ID, DELETE /backup,
                          PUT /restore, GET /restore/ID, DELETE /restore (Basic auth) there
                          (the original agent's port was 8000)
  --osb-script-dir DIR    the phase scripts (pre-backup-lock, backup, ...); required with it
  --osb-backup-dir DIR    where backup jobs' files are made (default: a temp dir)
  --osb-restore-dir DIR   where restore files are downloaded (default: a temp dir)
  --osb-s3-endpoint URL   an S3-compatible service instead of AWS
  Credentials from the environment only: SHIELD_OSB_USERNAME and SHIELD_OSB_PASSWORD
  (or client_username and client_password), the Basic auth a broker must send.
`;

/** The osb options of `shield agent`, or undefined without --osb-listen. Throws UsageError. */
export function osbOptions(options: Record<string, unknown>, env: Record<string, string | undefined>): OsbOptions | undefined {
  const opt = (k: string) => options[k] as string | undefined;
  const listen = opt("osb-listen");
  if (!listen) {
    const stray = OSB_OPTION_SPECS.map((s) => s.name).filter((n) => opt(n) !== undefined);
    if (stray.length) throw new UsageError(`--${stray[0]} needs --osb-listen HOST:PORT (the osb API is off without it)`);
    return undefined;
  }
  try { parseListen(listen); } catch (err) { throw new UsageError((err as Error).message); }
  const scriptDir = opt("osb-script-dir");
  if (!scriptDir) throw new UsageError("--osb-listen needs --osb-script-dir DIR: the phase scripts");
  const username = env.SHIELD_OSB_USERNAME ?? env.client_username;
  const password = env.SHIELD_OSB_PASSWORD ?? env.client_password;
  if (!username || !password) throw new UsageError("--osb-listen needs SHIELD_OSB_USERNAME and SHIELD_OSB_PASSWORD in the environment: the API's Basic auth credentials");
  const dir = (k: string) => (opt(k) === undefined ? undefined : resolve(opt(k)!));
  return {
    listen, username, password, scriptDir: resolve(scriptDir),
    backupDir: dir("osb-backup-dir"), restoreDir: dir("osb-restore-dir"),
    s3: { endpoint: opt("osb-s3-endpoint") },
  };
}

/** The osb API as a server of the agent: started after its SSH side, stopped (jobs canceled, cleanup and unlock run) before it. */
export function osbServer(o: OsbOptions): ExtraServer {
  return {
    async start() {
      let server;
      try {
        server = startOsbServer(o);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      log.info("osb-backup-agent API listening", { url: server.url });
      return { stop: () => server.stop() };
    },
  };
}
