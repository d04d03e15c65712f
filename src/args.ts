// A small argv reader shared by the roles: `--name value`, `--name=value`, `-x value`,
// boolean flags, and the positionals left over. Unknown options are an error.

import { nearest, tolerance } from "./edit-distance.ts";

export class UsageError extends Error {}

export interface OptionSpec {
  /** Long name without dashes; `short` is a one-letter alias. */
  name: string;
  short?: string;
  flag?: boolean;
  repeatable?: boolean;
}

export interface Parsed {
  options: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseArgs(argv: string[], specs: OptionSpec[]): Parsed {
  const byName = new Map<string, OptionSpec>();
  for (const s of specs) {
    byName.set(`--${s.name}`, s);
    if (s.short) byName.set(`-${s.short}`, s);
  }
  const options: Parsed["options"] = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") { positionals.push(...argv.slice(i + 1)); break; }
    if (!arg.startsWith("-") || arg === "-") { positionals.push(arg); continue; }
    const eq = arg.indexOf("=");
    const key = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = byName.get(key);
    if (!spec) {
      const near = key.startsWith("--") ? nearest(key.slice(2), specs.map((x) => x.name), tolerance(key.slice(2))) : undefined;
      throw new UsageError(`unknown option ${key}${near ? `; did you mean --${near}?` : ""}`);
    }
    let value: string | boolean;
    if (spec.flag) {
      if (eq > 0) throw new UsageError(`${key} takes no value`);
      value = true;
    } else if (eq > 0) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${key} needs a value`);
      value = next;
    }
    if (spec.repeatable) ((options[spec.name] ??= []) as string[]).push(value as string);
    else options[spec.name] = value;
  }
  return { options, positionals };
}
