// `shield agent [options]`: settings, keys, and running until a signal.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs, UsageError } from "../args.ts";
import { describeError, log } from "../log.ts";
import { loadOrCreateHostKey } from "../daemon/keys.ts";
import { PluginRegistry, selfCommand } from "../plugin-host/index.ts";
import { builtinNames } from "../../plugins/index.ts";
import { fingerprint, opensshPrivateKey, parseAuthorizedKeys, publicBlob } from "./keys.ts";
import { DEFAULT_AGENT_PORT, NAT_NAME } from "./protocol.ts";
import { dialCore } from "./dial.ts";
import { startAgent, type ExtraServer } from "./server.ts";
import { OSB_HELP, OSB_OPTION_SPECS, osbOptions, osbServer } from "./osb/cli.ts";
import type { OsbOptions } from "./osb/index.ts";

export const AGENT_HELP = `Usage: shield agent [options]

Runs on a data host, for systems that must be backed up from their own host. A
Shield core connects to it over SSH (mutually authenticated: the agent accepts only
the core keys it was given; the core pins the agent's key at first contact) and runs
the target's plugin here: compression and encryption happen here, before any byte
leaves the host.

Options:
  --listen HOST:PORT      where to listen (default 0.0.0.0:${DEFAULT_AGENT_PORT}; env SHIELD_AGENT_LISTEN)
  --data-port PORT        the data port, on the --listen address: the core dials it for a
                          backup's archive bytes (already compressed and sealed here;
                          bound to the request by a one-time token sent over SSH and
                          checked end to end), much faster than the SSH channel.
                          Default: the --listen port + 1 (${DEFAULT_AGENT_PORT + 1}); 0: any free port;
                          "off": none (every byte over SSH). env SHIELD_AGENT_DATA_PORT.
                          A core that cannot reach it falls back to SSH and says so.
  --data-dir DIR          the agent's key and the pinned core key (default ./shield-agent-data;
                          env SHIELD_AGENT_DATA_DIR)
  --authorized-keys FILE  the core public keys accepted, one a line, as the core's
                          GET /v1/meta/pubkey serves them ("ssh-ed25519 AAAA… core@shield")
  --core URL              at first start, fetch the core's key from URL/v1/meta/pubkey and
                          pin it in the data dir (printed with its fingerprint: compare it
                          with the core's); later starts use the pinned key, never the URL
  --name NAME             behind NAT: dial the core at --core URL instead of listening, keep
                          one connection open (reconnecting with backoff) and be driven
                          over it; targets then name the agent NAME. Needs an API token of
                          an operator or admin: env SHIELD_AGENT_TOKEN or --token-file FILE
                          (--token TOKEN works too, but every user of the host can read
                          process arguments). Listens as well only when --listen is given.
  --token-file FILE       the API token for --name, in a file (mode 0600)
  --plugin-dir DIR        a directory of external plugins (repeatable; env SHIELD_PLUGIN_PATH)
  --allow-path DIR        the directories endpoints may read and write (repeatable)
  -h, --help              this help

${OSB_HELP}
Logs are JSON lines on stderr. SIGTERM or SIGINT stop it; requests still running are
killed (their tasks fail on the core; nothing half-done becomes an archive).

Install as a systemd service:
  install -m 0755 shield /usr/local/bin/shield
  useradd --system --home /var/lib/shield-agent shield-agent
  curl -s https://CORE:8888/v1/meta/pubkey > /etc/shield-agent.keys   # check its fingerprint
  cat > /etc/systemd/system/shield-agent.service <<'UNIT'
  [Unit]
  Description=Shield agent
  After=network-online.target
  [Service]
  User=shield-agent
  StateDirectory=shield-agent
  ExecStart=/usr/local/bin/shield agent --data-dir /var/lib/shield-agent \\
            --authorized-keys /etc/shield-agent.keys
  Restart=on-failure
  KillMode=mixed
  [Install]
  WantedBy=multi-user.target
  UNIT
  systemctl daemon-reload && systemctl enable --now shield-agent
Then name it on a target: shield create target ... --agent HOST:${DEFAULT_AGENT_PORT}
Firewall: the core connects to TCP ${DEFAULT_AGENT_PORT} (SSH) and ${DEFAULT_AGENT_PORT + 1} (the data port); open both from the
core's address. With the data port closed, backups still run, over SSH and slower.

Behind NAT (nothing can reach it, it can reach the core):
  install -m 0600 -o shield-agent token.txt /etc/shield-agent.token   # an operator's API token
  ExecStart=/usr/local/bin/shield agent --data-dir /var/lib/shield-agent \\
            --core https://CORE:8888 --name db1 --token-file /etc/shield-agent.token
Then name it on a target: shield create target ... --agent db1
`;

export interface AgentConfig {
  /** Undefined port: no listener (NAT mode without --listen). */
  host?: string;
  port?: number;
  /** The data port (server.ts AgentOptions.dataPort); undefined: off. */
  dataPort?: number;
  dataDir: string;
  authorizedKeys?: string;
  core?: string;
  pluginDirs: string[];
  allowPaths: string[];
  /** NAT mode (--name): dial the core at `core` with `token` instead of waiting for it. */
  nat?: { name: string; token: string };
  /** The osb-backup-agent API beside the agent (--osb-listen), or undefined. */
  osb?: OsbOptions;
}

export function agentConfig(argv: string[], env: Record<string, string | undefined>): AgentConfig | "help" {
  const { options, positionals } = parseArgs(argv, [
    { name: "listen" }, { name: "data-port" }, { name: "data-dir" }, { name: "authorized-keys" }, { name: "core" },
    { name: "name" }, { name: "token" }, { name: "token-file" },
    { name: "plugin-dir", repeatable: true }, { name: "allow-path", repeatable: true }, { name: "help", short: "h", flag: true },
    ...OSB_OPTION_SPECS,
  ]);
  if (options.help) return "help";
  if (positionals.length) throw new UsageError(`shield agent takes no arguments (got "${positionals.join(" ")}")`);
  const nat = natOptions(options, env);
  const given = (options.listen as string) ?? env.SHIELD_AGENT_LISTEN;
  const listen = given ?? `0.0.0.0:${DEFAULT_AGENT_PORT}`;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[3]) > 65535) throw new UsageError(`--listen must be HOST:PORT, like 0.0.0.0:${DEFAULT_AGENT_PORT} (got "${listen}")`);
  if (!options["authorized-keys"] && !options.core) throw new UsageError("shield agent needs --authorized-keys FILE or --core URL: which core may drive it");
  const allowPaths = ((options["allow-path"] as string[] | undefined) ?? []).map((d) => {
    if (!d.startsWith("/")) throw new UsageError(`--allow-path must be an absolute directory (got "${d}")`);
    return resolve(d);
  });
  const dataGiven = (options["data-port"] as string | undefined) ?? env.SHIELD_AGENT_DATA_PORT;
  let dataPort: number | undefined;
  if (dataGiven === undefined) dataPort = Number(m[3]) === 0 ? 0 : Number(m[3]) + 1;
  else if (dataGiven !== "off") {
    if (!/^\d{1,5}$/.test(dataGiven) || Number(dataGiven) > 65535) throw new UsageError(`--data-port must be a port number, 0 or "off" (got "${dataGiven}")`);
    dataPort = Number(dataGiven);
  }
  if (dataPort !== undefined && dataPort !== 0 && dataPort === Number(m[3])) throw new UsageError(`--data-port must differ from the --listen port (${dataPort})`);
  return {
    dataPort,
    // A NAT agent listens only when told to: it is there because nothing can reach it.
    ...(nat && given === undefined ? {} : { host: m[1] ?? (m[2] || "0.0.0.0"), port: Number(m[3]) }),
    nat,
    dataDir: resolve((options["data-dir"] as string) ?? env.SHIELD_AGENT_DATA_DIR ?? "./shield-agent-data"),
    authorizedKeys: options["authorized-keys"] as string | undefined,
    core: options.core as string | undefined,
    pluginDirs: [...((options["plugin-dir"] as string[] | undefined) ?? []), ...(env.SHIELD_PLUGIN_PATH ?? "").split(":").filter(Boolean)].map((d) => resolve(d)),
    allowPaths,
    osb: osbOptions(options, env),
  };
}

/** --name, and the token from SHIELD_AGENT_TOKEN, --token-file or (warned) --token. */
function natOptions(options: Record<string, unknown>, env: Record<string, string | undefined>): AgentConfig["nat"] {
  const name = options.name as string | undefined;
  if (name === undefined) {
    if (options.token !== undefined || options["token-file"] !== undefined) throw new UsageError("--token and --token-file are for --name NAME (an agent that dials the core)");
    return undefined;
  }
  if (!NAT_NAME.test(name)) throw new UsageError(`--name must be 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit, not an IP address (got "${name}")`);
  if (!options.core) throw new UsageError("--name needs --core URL: the core to dial");
  let token: string | undefined;
  if (options["token-file"] !== undefined) {
    try { token = readFileSync(options["token-file"] as string, "utf8").trim(); } catch (err) { throw new UsageError(`cannot read --token-file: ${(err as Error).message}`); }
  } else if (options.token !== undefined) {
    token = options.token as string;
    process.stderr.write("shield agent: warning: --token shows the token to every user of this host (ps); use SHIELD_AGENT_TOKEN or --token-file\n");
  } else token = env.SHIELD_AGENT_TOKEN;
  if (!token) throw new UsageError("--name needs an API token: set SHIELD_AGENT_TOKEN, or give --token-file FILE");
  return { name, token };
}

/**
 * The core keys the agent accepts. With --core, the key is fetched once and pinned
 * in the data dir: the agent then trusts that key, not whatever the URL serves
 * later, so that someone who takes over the core's address (or DNS) afterwards
 * cannot drive the agent, and the operator checks the fingerprint once, at install.
 */
async function coreKeys(config: AgentConfig): Promise<Buffer[]> {
  const keys: Buffer[] = [];
  if (config.authorizedKeys) {
    let text: string;
    try { text = readFileSync(config.authorizedKeys, "utf8"); } catch (err) { throw new UsageError(`cannot read --authorized-keys ${config.authorizedKeys}: ${(err as Error).message}`); }
    keys.push(...parseAuthorizedKeys(text, config.authorizedKeys));
  }
  if (config.core) {
    const pinned = join(config.dataDir, "core.pub");
    if (!existsSync(pinned)) {
      const url = `${config.core.replace(/\/+$/, "")}/v1/meta/pubkey`;
      let text: string;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        text = await res.text();
      } catch (err) {
        throw new Error(`cannot fetch the core's key from ${url}: ${(err as Error).message}`);
      }
      const blob = parseAuthorizedKeys(text, url)[0];
      if (!blob) throw new Error(`${url} served no key`);
      writeFileSync(pinned, text.trim() + "\n", { mode: 0o600 });
      process.stderr.write(`Pinned the core's key from ${url}: ${fingerprint(blob)}\nCompare it with the core's (shield daemon logs it; ssh-keygen -lf on its pubkey). Delete ${pinned} to pin again.\n`);
    }
    keys.push(...parseAuthorizedKeys(readFileSync(pinned, "utf8"), pinned));
  }
  if (!keys.length) throw new UsageError("no core key to accept: the authorized keys file is empty");
  return keys;
}

/** Runs until SIGINT or SIGTERM. `extra`: other servers the agent runs (the osb API). */
export async function runAgent(config: AgentConfig, extra: ExtraServer[] = []): Promise<void> {
  for (const event of ["uncaughtException", "unhandledRejection"] as const) {
    process.on(event, (err: unknown) => {
      log.error("shield agent crashed", { event, ...describeError(err) });
      process.exit(1);
    });
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(config.dataDir, 0o700);
  const own = loadOrCreateHostKey(config.dataDir);
  const authorizedKeys = await coreKeys(config);
  log.info("agent host key", { fingerprint: fingerprint(publicBlob(own.privateKey)) });
  const plugins = new PluginRegistry({ dirs: config.pluginDirs, self: selfCommand(), builtins: builtinNames(), allowPaths: config.allowPaths });
  if (config.osb) extra = [...extra, osbServer(config.osb)];
  const agent = await startAgent({
    host: config.host, port: config.port, dataPort: config.dataPort, authorizedKeys, plugins,
    hostKey: opensshPrivateKey(own.privateKey.export({ type: "pkcs8", format: "pem" }) as string, "agent@shield"),
  }, extra);
  const dialer = config.nat && dialCore({ core: config.core!, ...config.nat, inject: (sock) => agent.inject(sock) });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shield agent stopping", { signal });
    if (dialer) dialer.stop();
    agent.stop().then(() => { log.info("shield agent stopped"); process.exit(0); },
      (err) => { log.error("cannot stop cleanly", describeError(err)); process.exit(1); });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
