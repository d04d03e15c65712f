// argv → role: `shield daemon`, `shield plugin`, the maintenance commands, `shield
// version`, `shield help`, and the CLI's `shield VERB NOUN` (src/cli: a /v1 client).
//
// Every role is imported on demand: `shield guard` and `shield plugin` start once
// per stage of every backup, and evaluating the daemon's modules (API, catalog,
// CLI) would cost each of them ~50 ms of CPU for nothing (bench/DATAPATH.md).
// An import() defers that only because the build splits the bundle (package.json:
// --format=esm --splitting; test/startup.test.ts): with --bytecode's default, CommonJS,
// every module is in the one file each start loads, ~4.5 ms of CPU a start.
import { UsageError } from "./args.ts";
import { VERSION } from "./version.ts";
import { nearest, tolerance } from "./edit-distance.ts";

const HELP = `Shield ${VERSION}: backup and restore for data systems.

Usage: shield COMMAND [options]

Commands:
  daemon     run the core: the /v1 API and the catalog (shield daemon --help)
  agent      run the agent on a data host, driven by a core over SSH (shield agent --help)
  plugin     run a built-in plugin: shield plugin NAME ACTION ... (shield plugin lists them)
  gpbackup-plugin   Greenplum gpbackup's storage plugin (also as a link named gpbackup_shield_plugin)
  archive decrypt   decrypt a stored blob offline (shield archive decrypt --help)
  rekey      rotate the master key: re-wrap every archive's key (shield rekey --help)
  version    print the version
  help       this help

Start with:
  shield daemon                 # API on http://127.0.0.1:8888, catalog in ./shield-data
  shield login                  # asks for the admin's user and password, keeps a token
  shield list jobs

`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "daemon": {
      const { DAEMON_HELP, daemonConfig } = await import("./daemon/config.ts");
      const { runDaemon } = await import("./daemon/index.ts");
      const config = daemonConfig(rest, process.env);
      if (config === "help") { process.stdout.write(DAEMON_HELP); return 0; }
      await runDaemon(config);
      return -1; // keeps running until a signal
    }
    case "agent": {
      const { AGENT_HELP, agentConfig, runAgent } = await import("./agent/index.ts");
      const config = agentConfig(rest, process.env);
      if (config === "help") { process.stdout.write(AGENT_HELP); return 0; }
      await runAgent(config);
      return -1; // keeps running until a signal
    }
    case "agent-relay": {
      // Internal: the stage of a pipeline that streams to and from an agent (src/agent/relay.ts).
      const { runRelay } = await import("./agent/relay.ts");
      return runRelay(rest);
    }
    case "plugin": {
      // A built-in plugin, run as a subprocess by the supervisor or by hand in a shell pipeline.
      // Only that plugin's module is loaded (plugins/one.ts): plugins/index.ts evaluates
      // every built-in, which only the listing and an unknown name need.
      const [{ loadBuiltin }, { runAction }] = await Promise.all([import("../plugins/one.ts"), import("../plugins/protocol.ts")]);
      const plugin = rest[0] === undefined ? undefined : await loadBuiltin(rest[0]);
      if (plugin) return runAction(plugin, rest.slice(1));
      const { runPlugin } = await import("../plugins/index.ts");
      return runPlugin(rest[0], rest.slice(1));
    }
    case "gpbackup-plugin": {
      const { runGpbackupPlugin } = await import("./gpbackup/commands.ts");
      return runGpbackupPlugin(rest);
    }
    case "guard": {
      // Internal: the daemon runs each stage of a pipeline under it (src/pipeline/guard.ts).
      const { runGuard } = await import("./pipeline/guard.ts");
      return runGuard(rest);
    }
    case "archive": {
      if (rest[0] !== "decrypt") throw new UsageError("usage: shield archive decrypt ... (shield archive decrypt --help)");
      const { archiveDecrypt } = await import("./maintenance/decrypt.ts");
      return archiveDecrypt(rest.slice(1));
    }
    case "rekey": {
      const { rekey } = await import("./maintenance/rekey.ts");
      return rekey(rest);
    }
    case "version": case "--version": case "-v":
      // Bun.stdout, not process.stdout: creating the node stream costs a start ~3 ms of CPU.
      // A reader gone before the line (EPIPE) is no failure, as with process.stdout.
      try { await Bun.write(Bun.stdout, `shield ${VERSION}\n`); } catch (err) { if ((err as NodeJS.ErrnoException).code !== "EPIPE") throw err; }
      return 0;
    case "help": case "--help": case "-h": case undefined: {
      const { cliOverview, runCli } = await import("./cli/index.ts");
      if (rest.length) return runCli(["help", ...rest]);
      process.stdout.write(HELP + cliOverview());
      return 0;
    }
    default: {
      const { CLI_VERBS, runCli } = await import("./cli/index.ts");
      // Global flags may come first: shield --json list jobs.
      if (CLI_VERBS.has(command) || command.startsWith("-")) return runCli(argv);
      // A mistyped role ("deamon") is named; anything else is the CLI's to guess ("lsit jobs").
      const role = nearest(command, ROLES, tolerance(command));
      if (role) throw new UsageError(`unknown command "${command}"; did you mean \`${role}\`?`);
      return runCli(argv);
    }
  }
}

/**
 * gpbackup runs its plugin as `executablepath COMMAND ARGS...`, so the binary also
 * answers to a symlink or copy named gpbackup_shield_plugin. A compiled Bun binary
 * sees the name it was run by in process.argv0 only: process.argv[0] is "bun", and
 * process.execPath resolves a symlink to the real file (a copy keeps its own name,
 * which is why the plugin runs store plugins with argv0 "shield", see gpbackup/shield.ts).
 */
/** The roles of the binary beside the CLI's verbs, for "did you mean". */
const ROLES = ["daemon", "agent", "agent-relay", "plugin", "rekey", "version", "help"];

function invokedAs(): string {
  return (process.argv0 ?? "").split("/").pop() === "gpbackup_shield_plugin" ? "gpbackup-plugin" : "";
}

main(invokedAs() ? [invokedAs(), ...process.argv.slice(2)] : process.argv.slice(2)).then(
  (code) => { if (code >= 0) process.exit(code); },
  (err) => {
    if (err instanceof UsageError) {
      process.stderr.write(`shield: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`shield: ${(err as Error)?.message ?? err}\n`);
    process.exit(3);
  },
);
