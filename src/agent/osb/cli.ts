// `shield osb-agent`: the osb-backup-agent API on its own, until `shield agent
// --osb-listen` serves it beside the agent (the same options, the same module).
// The credentials come from the environment (never an argument: the process
// list is public): SHIELD_OSB_USERNAME and SHIELD_OSB_PASSWORD, or the seed's
// client_username and client_password.
import { UsageError, parseArgs } from "../../args.ts";
import { startOsbServer } from "./index.ts";

export const OSB_HELP = `usage: shield osb-agent --osb-listen HOST:PORT --osb-script-dir DIR [options]

Serves the osb-backup-agent HTTP API (GET /status, POST /backup, GET /backup/ID,
DELETE /backup, PUT /restore, GET /restore/ID, DELETE /restore) with Basic auth.

  --osb-listen HOST:PORT     where to listen (the original agent's port was 8000)
  --osb-script-dir DIR       the phase scripts (pre-backup-lock, backup, ...)
  --osb-backup-dir DIR       where backup jobs' files are made (default: a temp dir)
  --osb-restore-dir DIR      where restore files are downloaded (default: a temp dir)
  --osb-s3-endpoint URL      an S3-compatible service instead of AWS

Environment: SHIELD_OSB_USERNAME and SHIELD_OSB_PASSWORD (or client_username and
client_password) are the Basic auth credentials a broker must send.
`;

export async function runOsbAgent(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  const p = parseArgs(argv, [
    { name: "osb-listen" }, { name: "osb-script-dir" }, { name: "osb-backup-dir" }, { name: "osb-restore-dir" },
    { name: "osb-s3-endpoint" }, { name: "help", short: "h", flag: true },
  ]);
  if (p.options.help) { process.stdout.write(OSB_HELP); return 0; }
  const opt = (k: string) => p.options[k] as string | undefined;
  const listen = opt("osb-listen");
  const scriptDir = opt("osb-script-dir");
  if (!listen || !scriptDir) throw new UsageError("shield osb-agent needs --osb-listen HOST:PORT and --osb-script-dir DIR (shield osb-agent --help)");
  const username = env.SHIELD_OSB_USERNAME ?? env.client_username;
  const password = env.SHIELD_OSB_PASSWORD ?? env.client_password;
  if (!username || !password) throw new UsageError("set SHIELD_OSB_USERNAME and SHIELD_OSB_PASSWORD in the environment: the API's Basic auth credentials");
  let server;
  try {
    server = startOsbServer({
      listen, username, password, scriptDir,
      backupDir: opt("osb-backup-dir"), restoreDir: opt("osb-restore-dir"),
      s3: { endpoint: opt("osb-s3-endpoint") },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  process.stderr.write(`shield osb-agent: listening on ${server.url}\n`);
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.once(sig, () => {
      process.stderr.write(`shield osb-agent: ${sig}: stopping (running jobs are canceled; their cleanup and unlock run)\n`);
      void server.stop().finally(() => process.exit(0));
    });
  }
  return -1;
}
