// pg_options: the extra options an endpoint may give pg_dump (one database) or
// pg_dumpall (the whole cluster).
//
// An allow-list, not a deny-list: the daemon may run as root, and pg_dump grows
// options with each release (PostgreSQL 17's --filter reads a file), so an option
// is accepted only when it is known to do nothing but choose what is dumped and
// how its SQL is written. Everything else is refused, by name:
// - where the output goes or what it is (-f/--file, -F/--format, -j/--jobs,
//   -Z/--compress, -V/--version, -?/--help): Shield takes the dump from stdout, in
//   the format its restore reads, and compresses it itself;
// - where to connect and as whom (-d, -h, -p, -U, -W, -l, a positional database):
//   that is what pg_host, pg_port, pg_user and pg_database say, and a conninfo
//   string can name files (sslkey, passfile, service) for libpq to read;
// - anything unknown, or meant for other tools (--binary-upgrade, --filter).
// Neither tool runs other programs on an option's say (pg_dumpall runs the pg_dump
// beside it), so refusing these leaves no way to write a file or run a program.
//
// The words are read the way getopt_long reads them, so that what is checked is
// what the tool will see: short options may be glued together and to their value
// ("-Ox", "-tX", "-Of/x" is -O then -f "/x"); a value may be the next word whatever
// it looks like ("-t -f" names a table "-f"); long options are matched whole (getopt
// would accept "--fil" for --file, so abbreviations are refused, not expanded).
import { EndpointInvalid } from "../protocol.ts";

interface Tool {
  name: string;
  /** Short option letters accepted, each with whether it takes a value. */
  short: Record<string, boolean>;
  /** Long option names accepted, each with whether it takes a value. */
  long: Record<string, boolean>;
}

// Options both tools share with the same meaning.
const SHARED_LONG: Record<string, boolean> = {
  "data-only": false, "schema-only": false, "clean": false, "if-exists": false, "no-owner": false,
  "no-privileges": false, "no-acl": false, "verbose": false, "encoding": true, "superuser": true, "role": true,
  "column-inserts": false, "attribute-inserts": false, "inserts": false, "rows-per-insert": true, "on-conflict-do-nothing": false,
  "disable-dollar-quoting": false, "disable-triggers": false, "extra-float-digits": true, "lock-wait-timeout": true,
  "load-via-partition-root": false, "no-comments": false, "no-publications": false, "no-security-labels": false,
  "no-subscriptions": false, "no-sync": false, "no-table-access-method": false, "no-tablespaces": false,
  "no-toast-compression": false, "no-unlogged-table-data": false, "quote-all-identifiers": false,
  "use-set-session-authorization": false, "no-password": false,
};

export const PG_DUMP: Tool = {
  name: "pg_dump",
  short: { a: false, b: false, B: false, c: false, C: false, e: true, E: true, n: true, N: true, O: false, s: false, S: true, t: true, T: true, v: false, w: false, x: false },
  long: {
    ...SHARED_LONG,
    "large-objects": false, "blobs": false, "no-large-objects": false, "no-blobs": false, "create": false,
    "extension": true, "exclude-extension": true, "schema": true, "exclude-schema": true,
    "table": true, "exclude-table": true, "table-and-children": true, "exclude-table-and-children": true,
    "exclude-table-data": true, "exclude-table-data-and-children": true, "include-foreign-data": true,
    "enable-row-security": false, "section": true, "serializable-deferrable": false, "snapshot": true, "strict-names": false,
  },
};

export const PG_DUMPALL: Tool = {
  name: "pg_dumpall",
  // -t is --tablespaces-only here: a flag, unlike pg_dump's -t TABLE.
  short: { a: false, c: false, E: true, g: false, O: false, r: false, s: false, S: true, t: false, v: false, w: false, x: false },
  long: {
    ...SHARED_LONG,
    "globals-only": false, "roles-only": false, "tablespaces-only": false, "exclude-database": true, "no-role-passwords": false,
  },
};

/** Why a known option is refused; anything else unknown is refused as not accepted. */
const OUTPUT = "Shield takes the dump from stdout, in the format its restore reads, and compresses it itself";
const CONNECTION = "the connection comes from pg_host, pg_port, pg_user and pg_database";
const REFUSED: Record<string, string> = {
  "-f": OUTPUT, "--file": OUTPUT, "-F": OUTPUT, "--format": OUTPUT, "-j": OUTPUT, "--jobs": OUTPUT,
  "-Z": OUTPUT, "--compress": OUTPUT, "-V": OUTPUT, "--version": OUTPUT, "-?": OUTPUT, "--help": OUTPUT,
  "-d": CONNECTION, "--dbname": CONNECTION, "-h": CONNECTION, "--host": CONNECTION, "-p": CONNECTION, "--port": CONNECTION,
  "-U": CONNECTION, "--username": CONNECTION, "-W": CONNECTION, "--password": CONNECTION, "-l": CONNECTION, "--database": CONNECTION,
  "--filter": "it makes the tool read a file",
  "--binary-upgrade": "it is for pg_upgrade only",
};

function refuse(tool: Tool, option: string): never {
  const why = REFUSED[option] ?? `it is not one of the options accepted here, those that choose what is dumped and how its SQL is written`;
  throw new EndpointInvalid("pg_options", `may not hold ${option} for ${tool.name}: ${why}`);
}

/** Refuses (exit 13, naming the option) any word the tool would not take as an accepted option or its value. */
export function checkOptions(tool: Tool, words: string[]): void {
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === "--") throw new EndpointInvalid("pg_options", `may not hold "--": what follows would be taken for a database to connect to`);
    if (word.startsWith("--")) {
      const eq = word.indexOf("=");
      const name = eq === -1 ? word.slice(2) : word.slice(2, eq);
      const takesValue = Object.hasOwn(tool.long, name) ? tool.long[name] : undefined;
      if (takesValue === undefined) refuse(tool, `--${name}`);
      if (!takesValue && eq !== -1) throw new EndpointInvalid("pg_options", `--${name} takes no value, not "${word.slice(eq + 1)}"`);
      if (takesValue && eq === -1 && ++i >= words.length) throw new EndpointInvalid("pg_options", `--${name} needs a value`);
      continue;
    }
    if (word.startsWith("-") && word.length > 1) {
      for (let j = 1; j < word.length; j++) {
        const letter = word[j]!;
        const takesValue = Object.hasOwn(tool.short, letter) ? tool.short[letter] : undefined;
        if (takesValue === undefined) refuse(tool, `-${letter}`);
        if (!takesValue) continue;
        // The rest of the word is the value; else the next word is, whatever it looks like.
        if (j === word.length - 1 && ++i >= words.length) throw new EndpointInvalid("pg_options", `-${letter} needs a value`);
        break;
      }
      continue;
    }
    // getopt moves words that are not options to the end: pg_dump would take one for
    // the database (a conninfo string even), pg_dumpall refuses it.
    throw new EndpointInvalid("pg_options", `may not hold "${word}": it is not an option, and ${tool.name} would take it for ${tool === PG_DUMP ? "the database to connect to" : "an argument it does not accept"}`);
  }
}
