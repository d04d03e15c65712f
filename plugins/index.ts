// The built-in plugins, compiled into the binary and run as subprocesses
// `shield plugin NAME ACTION ...`, exactly as an external plugin would be run;
// the exceptions are a backup's store and a target's backup, which their guards
// run in their own processes through the same runAction (src/plugin-host/in-process.ts,
// loading the one plugin through one.ts: adding a plugin adds a line there too).
// Nothing outside this folder names them: the daemon only asks for the list.
import { azure } from "./azure/index.ts";
import { files } from "./files/index.ts";
import { fs } from "./fs/index.ts";
import { mysql } from "./mysql/index.ts";
import { postgres } from "./postgres/index.ts";
import { rabbitmq } from "./rabbitmq/index.ts";
import { redis } from "./redis/index.ts";
import { s3 } from "./s3/index.ts";
import { script } from "./script/index.ts";
import { EXIT, runAction, say, type Plugin } from "./protocol.ts";

// One a line, so that adding a plugin touches one line.
export const builtins: ReadonlyMap<string, Plugin> = new Map([
  azure,
  files,
  fs,
  mysql,
  postgres,
  rabbitmq,
  redis,
  s3,
  script,
].map((p) => [p.info.name, p]));

/** Names `shield plugin NAME` answers to. */
export function builtinNames(): string[] {
  return [...builtins.keys()].sort();
}

function listing(): string {
  const rows = builtinNames().map((name) => {
    const { features } = builtins.get(name)!.info;
    const roles = [features.target === "yes" && "target", features.store === "yes" && "store"].filter(Boolean).join(", ");
    return `  ${name.padEnd(10)} ${roles}`;
  });
  return `Built-in plugins (shield plugin NAME ACTION [-e JSON] [-k KEY]; shield plugin NAME help):\n${rows.join("\n")}\n`;
}

/** `shield plugin [NAME ACTION ...]`: resolves with the exit code. */
export async function runPlugin(name: string | undefined, argv: string[]): Promise<number> {
  if (name === undefined || name === "list" || name === "--help" || name === "-h" || name === "help") {
    await Bun.write(Bun.stdout, listing());
    return EXIT.OK;
  }
  const plugin = builtins.get(name);
  if (!plugin) {
    say(`shield: no built-in plugin named "${name}" (built-ins: ${builtinNames().join(", ")})`);
    return EXIT.USAGE;
  }
  return runAction(plugin, argv);
}
