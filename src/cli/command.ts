// What a CLI command is (its words, flags, help and action) and what it is handed
// when it runs: the parsed flags, the API client, the output and the prompts.
import type { OptionSpec, Parsed } from "../args.ts";
import { Api } from "./client.ts";
import { connection } from "./connection.ts";
import { CliError, EXIT, UsageError } from "./errors.ts";
import { Output } from "./output.ts";
import { ask, confirm, interactive, type AskOptions } from "./prompt.ts";

export interface Command {
  verb: string;
  /** The canonical noun ("target", "retention policy"); none for `shield login` and the like. */
  noun?: string;
  summary: string;
  /** The synopsis after "shield ", like "create target [--name NAME] ...". */
  usage: string;
  /** Flag help: [flag, what it does]. The global flags are listed by `help`. */
  options?: [string, string][];
  examples: string[];
  specs?: OptionSpec[];
  /** Names of the positional arguments, required unless marked with "?" (["JOB"], ["EXPR"], ["NAME?"]). */
  args?: string[];
  run(ctx: Ctx): Promise<number | void>;
}

export const GLOBAL_SPECS: OptionSpec[] = [
  { name: "core" }, { name: "token" }, { name: "json", flag: true },
  { name: "yes", short: "y", flag: true }, { name: "help", short: "h", flag: true },
];

export class Ctx {
  readonly out: Output;
  readonly json: boolean;
  readonly yes: boolean;
  readonly interactive: boolean;
  private client?: Api;

  constructor(readonly command: Command, private readonly parsed: Parsed) {
    this.json = parsed.options.json === true;
    this.yes = parsed.options.yes === true;
    this.out = new Output(this.json);
    this.interactive = interactive();
  }

  get args(): string[] { return this.parsed.positionals; }

  /** The client, connected on first use so that `--help` and local errors need no core. */
  api(): Api {
    return (this.client ??= new Api(connection({ core: this.str("core"), token: this.str("token") })));
  }

  str(name: string): string | undefined {
    const v = this.parsed.options[name];
    return typeof v === "string" ? v : undefined;
  }
  flag(name: string): boolean { return this.parsed.options[name] === true; }
  /** Every value of a repeatable option, in order; empty when not given. */
  strs(name: string): string[] {
    const v = this.parsed.options[name];
    return Array.isArray(v) ? v.map(String) : typeof v === "string" ? [v] : [];
  }
  has(name: string): boolean { return this.parsed.options[name] !== undefined; }

  /** The i-th positional argument, named in the usage error when it is missing. */
  arg(i: number): string {
    const v = this.args[i];
    if (v === undefined || v === "") throw new UsageError(`missing ${this.command.args?.[i]?.replace("?", "") ?? "argument"}; usage: shield ${this.command.usage}`);
    return v;
  }

  /** A prompt, on a terminal; without one the flag is required and its absence an error. */
  async ask(flag: string, question: string, opts: AskOptions = {}): Promise<string> {
    if (!this.interactive) throw new UsageError(`--${flag} is required (there is no terminal to ask on)`);
    return ask(question, opts);
  }

  /** Destructive commands ask first on a terminal; -y/--yes, or no terminal, skips the question. */
  async confirm(question: string): Promise<void> {
    if (this.yes || !this.interactive) return;
    if (!(await confirm(question))) throw new CliError("not confirmed; nothing was changed", EXIT.USAGE);
  }

  /** The human line on stdout, or the API's JSON with --json. */
  report(apiAnswer: unknown, human: string): void {
    if (this.json) this.out.data(apiAnswer);
    else this.out.line(human);
  }
}
