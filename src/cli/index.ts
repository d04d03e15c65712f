// `shield VERB NOUN ...`: the CLI, a client of the /v1 API and nothing else. This
// module finds the command in argv, parses its flags, runs it, and turns failures
// into one line on stderr and an exit code. The commands live in commands/.
import { parseArgs } from "../args.ts";
import { nearest, tolerance } from "../edit-distance.ts";
import { Ctx, GLOBAL_SPECS, type Command } from "./command.ts";
import { CliError, EXIT, UsageError } from "./errors.ts";
import { archiveCommands } from "./commands/archives.ts";
import { retentionCommands, scheduleCommands, storeCommands, targetCommands } from "./commands/definitions.ts";
import { jobCommands } from "./commands/jobs.ts";
import { retentionPreviewCommands } from "./commands/retention.ts";
import { pluginCommands } from "./commands/plugins.ts";
import { sessionCommands } from "./commands/session.ts";
import { statisticsCommands } from "./commands/statistics.ts";
import { taskCommands } from "./commands/tasks.ts";
import { timespecCommands } from "./commands/timespec.ts";
import { userCommands } from "./commands/users.ts";
import { drillCommands, notificationCommands } from "./commands/notifications.ts";
import { authCommands } from "./commands/auth.ts";
import { connectionCommands } from "./commands/connections.ts";
import { auditCommands } from "./commands/audit.ts";

export const COMMANDS: Command[] = [
  ...targetCommands, ...storeCommands, ...scheduleCommands, ...retentionCommands, ...retentionPreviewCommands, ...pluginCommands,
  ...jobCommands, ...archiveCommands, ...taskCommands, ...timespecCommands, ...sessionCommands, ...userCommands, ...authCommands, ...statisticsCommands,
  ...notificationCommands, ...drillCommands, ...connectionCommands, ...auditCommands,
];

// What people type → the canonical noun; singular and plural both work, and the
// design's "retention policy" is also "retention" or "policy".
const NOUNS: Record<string, string> = {
  "retention policies": "retention policy", "retention policy": "retention policy", retention: "retention policy",
  policies: "retention policy", policy: "retention policy",
};
for (const n of ["target", "store", "schedule", "plugin", "job", "archive", "task", "user", "token", "provider", "session", "notification", "drill"]) NOUNS[n] = NOUNS[`${n}s`] = n;
NOUNS.delivery = NOUNS.deliveries = "delivery";
NOUNS.audit = "audit";

const VERBS: Record<string, string> = { update: "edit", remove: "delete", rm: "delete", revoke: "delete", ls: "list" };
const verbOf = (word: string) => VERBS[word] ?? word;

const byKey = new Map(COMMANDS.map((c) => [c.noun ? `${c.verb} ${c.noun}` : c.verb, c]));
export const CLI_VERBS = new Set([...COMMANDS.map((c) => c.verb), ...Object.keys(VERBS)]);

/** The command argv names, and where its own arguments start. */
function find(words: string[]): { command: Command; used: number } | undefined {
  const verb = verbOf(words[0] ?? "");
  const single = byKey.get(verb);
  if (single && !single.noun) return { command: single, used: 1 };
  for (const n of [2, 1]) {
    const noun = NOUNS[words.slice(1, 1 + n).join(" ").toLowerCase()];
    const command = noun && byKey.get(`${verb} ${noun}`);
    if (command && words.slice(1, 1 + n).length === n) return { command, used: 1 + n };
  }
  return undefined;
}

/** The words people type for the nouns this verb takes ("jobs", "job", "retention"): plurals first for list, singulars first for the rest (nearest() keeps the first of a tie). */
function nounWords(verb: string): string[] {
  const wanted = new Set(COMMANDS.filter((c) => c.verb === verb && c.noun).map((c) => c.noun!));
  const plural = (w: string) => Number(w !== NOUNS[w]);
  return Object.keys(NOUNS).filter((w) => wanted.has(NOUNS[w]!))
    .sort((a, b) => (verb === "list" ? plural(b) - plural(a) : plural(a) - plural(b)));
}

/**
 * The command a mistyped one most likely meant: the verb corrected if it is no
 * verb ("lsit" → list), then the noun ("jbos" → jobs) among those that verb
 * takes. Undefined when nothing is near enough.
 */
export function suggestion(words: string[]): string | undefined {
  const typed = (words[0] ?? "").toLowerCase();
  if (!typed) return undefined;
  const verbs = [...new Set(COMMANDS.map((c) => c.verb))];
  const verb = CLI_VERBS.has(typed) ? verbOf(typed) : nearest(typed, verbs, tolerance(typed));
  if (!verb) return undefined;
  const single = byKey.get(verb);
  if (single && !single.noun) return verb;
  const rest = words.slice(1).join(" ").toLowerCase();
  const choices = nounWords(verb);
  if (!rest) return verb === typed ? undefined : verb;
  if (NOUNS[rest] && byKey.has(`${verb} ${NOUNS[rest]}`)) return `${verb} ${rest}`;
  const noun = nearest(rest, choices, tolerance(rest)) ?? nearest(words[1]!.toLowerCase(), choices, tolerance(words[1]!));
  return noun ? `${verb} ${noun}` : verb === typed ? undefined : verb;
}

const GLOBAL_HELP: [string, string][] = [
  ["--core URL", "the core to talk to (else SHIELD_CORE, the one of shield login, or http://127.0.0.1:8888)"],
  ["--token TOKEN", "an API token (else SHIELD_TOKEN, or the one shield login kept)"],
  ["--json", "print the API's JSON instead of tables"],
  ["-y, --yes", "do not ask before deleting, canceling or restoring"],
  ["-h, --help", "help for the command"],
];

function optionLines(opts: [string, string][]): string {
  const w = Math.max(...opts.map(([f]) => f.length));
  return opts.map(([f, h]) => `  ${f.padEnd(w)}  ${h}`).join("\n");
}

export function commandHelp(c: Command): string {
  return [
    `Usage: shield ${c.usage}`, "", c.summary + ".",
    ...(c.options?.length ? ["", "Options:", optionLines(c.options)] : []),
    "", "Global options:", optionLines(GLOBAL_HELP),
    "", "Examples:", ...c.examples.map((e) => `  ${e}`), "",
  ].join("\n");
}

/** Every CLI command, one line each, for `shield help`. */
export function cliOverview(): string {
  const groups = new Map<string, Command[]>();
  for (const c of COMMANDS) {
    const g = c.noun === "user" || c.noun === "token" || c.noun === "session" || c.noun === "provider" || !c.noun ? (c.verb === "timespec" ? "schedules" : c.verb === "statistics" ? "jobs" : "users, tokens and sign-in") : c.noun === "delivery" ? "notifications" : c.noun === "audit" ? "audit trail" : `${c.noun === "retention policy" ? "retention policies" : c.noun + "s"}`;
    groups.set(g, [...(groups.get(g) ?? []), c]);
  }
  const lines = ["Client commands (they talk to a core over its /v1 API; shield VERB NOUN --help for each):"];
  for (const [g, cs] of groups) {
    lines.push("", `  ${g}:`);
    for (const c of cs) lines.push(`    shield ${c.usage.split(" [")[0]!.split(" --")[0]!.padEnd(32)} ${c.summary}`);
  }
  lines.push("", "Global options:", optionLines(GLOBAL_HELP), "",
    "Names or UUID prefixes work wherever a UUID is expected. Exit codes: 0 ok; 1 usage (and `paused` when not paused);",
    "3 the core refused or could not be reached; 4 a followed task failed; 5 it was canceled.", "");
  return lines.join("\n");
}

function helpFor(words: string[]): string {
  const found = find(words);
  if (found) return commandHelp(found.command);
  const verb = verbOf(words[0] ?? "");
  const same = COMMANDS.filter((c) => c.verb === verb);
  if (same.length) return `shield ${verb} takes one of:\n${same.map((c) => `  shield ${c.usage}`).join("\n")}\n`;
  return cliOverview();
}

/** Runs `shield VERB NOUN ...`; returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    if (argv[0] === "help") { process.stdout.write(helpFor(argv.slice(1))); return EXIT.OK; }
    // Global flags may come before the command words: shield --json list jobs.
    const pre: string[] = [];
    let i = 0;
    while (i < argv.length && argv[i]!.startsWith("-")) {
      const a = argv[i]!;
      pre.push(a);
      if ((a === "--core" || a === "--token") && i + 1 < argv.length) pre.push(argv[++i]!);
      i++;
    }
    const words: string[] = [];
    for (let j = i; j < argv.length && !argv[j]!.startsWith("-") && words.length < 3; j++) words.push(argv[j]!);
    const found = find(words);
    if (!found) {
      if (pre.some((a) => a === "--help" || a === "-h") || argv.slice(i).some((a) => a === "--help" || a === "-h")) {
        process.stdout.write(helpFor(words));
        return EXIT.OK;
      }
      const verb = verbOf(words[0] ?? "");
      const nouns = COMMANDS.filter((c) => c.verb === verb).map((c) => c.noun);
      const guess = suggestion(words);
      const mean = guess ? `; did you mean \`${guess}\`?` : "";
      if (nouns.length) throw new UsageError(`shield ${verb} what? One of: ${nouns.join(", ")}${mean}${guess ? "" : ` (shield ${verb} --help)`}`);
      throw new UsageError(`unknown command "${words.join(" ")}"${mean || "; run 'shield help'"}`);
    }
    const { command, used } = found;
    const parsed = parseArgs([...pre, ...argv.slice(i + used)], [...GLOBAL_SPECS, ...(command.specs ?? [])]);
    if (parsed.options.help) { process.stdout.write(commandHelp(command)); return EXIT.OK; }
    const maxArgs = command.verb === "timespec" ? Infinity : (command.args?.length ?? 0);
    if (parsed.positionals.length > maxArgs) {
      throw new UsageError(`unexpected "${parsed.positionals[maxArgs]}"; usage: shield ${command.usage}`);
    }
    const code = await command.run(new Ctx(command, parsed));
    return typeof code === "number" ? code : EXIT.OK;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`shield: ${err.message}\n`);
      return EXIT.USAGE;
    }
    if (err instanceof CliError) {
      process.stderr.write(`shield: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
