// mysql_options: the extra options an endpoint may give mariadb-dump / mysqldump.
//
// An allow-list, for the reasons plugins/postgres/options.ts gives: the daemon may
// run as root, so an option is accepted only when it does nothing but choose what
// is dumped and how its SQL is written. Refused, by name:
// - where the output goes or what it is (-r/--result-file, -T/--tab, -X/--xml,
//   --fields-*, --log-error, -#/--debug): Shield takes SQL from stdout;
// - where to connect and as whom (-h, -P, -u, -p, -S, --protocol, --ssl*, the option
//   files --defaults-*): that is what the mysql_* fields say;
// - what the plugin decides itself (-A, -B, --databases, --system) and what hides an
//   error (-f/--force would make a failed dump look complete);
// - anything that runs SQL or changes the server (--init-command, --delete-master-logs);
// - anything unknown.
//
// The words are read the way MariaDB's my_getopt reads them, so that what is checked
// is what the tool sees: "-" and "_" are the same in long names ("--hex_blob");
// a flag may be written --skip-X, --disable-X or --enable-X, or given =0/1/ON/OFF;
// short options may be glued ("-cq", "-wid>3"); long names are matched whole
// (my_getopt would expand an unambiguous prefix, so abbreviations are refused).
import { EndpointInvalid } from "../protocol.ts";

/** Long option names accepted, each with whether it takes a value. */
const LONG: Record<string, boolean> = {
  "add-drop-database": false, "add-drop-table": false, "add-drop-trigger": false, "add-locks": false,
  "allow-keywords": false, "comments": false, "compact": false, "complete-insert": false, "create-options": false,
  "disable-keys": false, "extended-insert": false, "insert-ignore": false, "replace": false,
  "no-create-db": false, "no-create-info": false, "no-data": false, "no-autocommit": false,
  "quick": false, "opt": false, "order-by-primary": false, "quote-names": false, "set-charset": false,
  "triggers": false, "routines": false, "events": false, "tz-utc": false, "dump-date": false,
  "hex-blob": false, "single-transaction": false, "lock-tables": false, "lock-all-tables": false,
  "no-tablespaces": false, "compress": false, "verbose": false,
  "ignore-table": true, "ignore-table-data": true, "ignore-database": true, "where": true,
  "max-allowed-packet": true, "net-buffer-length": true, "default-character-set": true,
  "master-data": true, "dump-slave": true, "gtid": false, "include-master-host-port": false,
  "apply-slave-statements": false, "flush-privileges": false, "dump-history": false, "as-of": true,
  "order-by-size": false,
};

/** Short letters accepted, each with whether it takes a value. */
const SHORT: Record<string, boolean> = {
  c: false, e: false, K: false, n: false, t: false, d: false, q: false, Q: false, R: false, E: false,
  l: false, x: false, y: false, C: false, v: false, w: true,
};

const OUTPUT = "Shield takes the dump as SQL from stdout and compresses it itself";
const CONNECTION = "the connection comes from mysql_host, mysql_port, mysql_user, mysql_socket and mysql_tls";
const CHOSEN = "Shield chooses which databases are dumped (mysql_database) and dumps the accounts of a whole server itself";
const REFUSED: Record<string, string> = {
  "-r": OUTPUT, "--result-file": OUTPUT, "-T": OUTPUT, "--tab": OUTPUT, "-X": OUTPUT, "--xml": OUTPUT,
  "--fields-terminated-by": OUTPUT, "--fields-enclosed-by": OUTPUT, "--fields-optionally-enclosed-by": OUTPUT,
  "--fields-escaped-by": OUTPUT, "--lines-terminated-by": OUTPUT, "--log-error": "it writes a file",
  "-#": "it writes a trace file", "--debug": "it writes a trace file", "--debug-info": OUTPUT, "--debug-check": OUTPUT,
  "-V": OUTPUT, "--version": OUTPUT, "-?": OUTPUT, "-I": OUTPUT, "--help": OUTPUT,
  "-h": CONNECTION, "--host": CONNECTION, "-P": CONNECTION, "--port": CONNECTION, "-u": CONNECTION, "--user": CONNECTION,
  "-p": CONNECTION, "--password": CONNECTION, "-S": CONNECTION, "--socket": CONNECTION, "--protocol": CONNECTION,
  "--ssl": CONNECTION, "--ssl-ca": CONNECTION, "--ssl-cert": CONNECTION, "--ssl-key": CONNECTION, "--ssl-mode": CONNECTION,
  "--defaults-file": "it makes the tool read a file", "--defaults-extra-file": "it makes the tool read a file",
  "--defaults-group-suffix": "it changes which option-file groups are read", "--no-defaults": CONNECTION,
  "--print-defaults": OUTPUT, "--plugin-dir": "it chooses code for the tool to load", "--default-auth": CONNECTION,
  "--character-sets-dir": "it makes the tool read files",
  "-A": CHOSEN, "--all-databases": CHOSEN, "-B": CHOSEN, "--databases": CHOSEN, "--tables": CHOSEN, "--system": CHOSEN,
  "-f": "it would make a failed dump look complete", "--force": "it would make a failed dump look complete",
  "--init-command": "it runs SQL on the server", "--delete-master-logs": "it deletes the server's binary logs",
  "-F": "it changes the server (flushes its logs)", "--flush-logs": "it changes the server (flushes its logs)",
};

function refuse(option: string): never {
  const why = REFUSED[option] ?? "it is not one of the options accepted here, those that choose what is dumped and how its SQL is written";
  throw new EndpointInvalid("mysql_options", `may not hold ${option}: ${why}`);
}

const BOOL_VALUE = /^(0|1|on|off|true|false)$/i;

/** Refuses (exit 13, naming the option) any word the dump tool would not take as an accepted option or its value. */
export function checkDumpOptions(words: string[]): void {
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === "--") throw new EndpointInvalid("mysql_options", `may not hold "--": what follows would be taken for databases or tables to dump`);
    if (word.startsWith("--")) {
      const eq = word.indexOf("=");
      const written = (eq === -1 ? word.slice(2) : word.slice(2, eq));
      const name = written.replace(/_/g, "-");
      let takesValue = Object.hasOwn(LONG, name) ? LONG[name] : undefined;
      // --skip-X, --disable-X, --enable-X turn a flag off or on: only for flags accepted here.
      const prefixed = /^(skip|disable|enable)-(.+)$/.exec(name);
      if (takesValue === undefined && prefixed && LONG[prefixed[2]!] === false) {
        if (eq !== -1) throw new EndpointInvalid("mysql_options", `--${written} takes no value`);
        continue;
      }
      if (takesValue === undefined) refuse(`--${name}`);
      if (!takesValue && eq !== -1 && !BOOL_VALUE.test(word.slice(eq + 1))) {
        throw new EndpointInvalid("mysql_options", `--${name} takes no value but 0/1/ON/OFF, not "${word.slice(eq + 1)}"`);
      }
      if (takesValue && eq === -1 && ++i >= words.length) throw new EndpointInvalid("mysql_options", `--${name} needs a value`);
      continue;
    }
    if (word.startsWith("-") && word.length > 1) {
      for (let j = 1; j < word.length; j++) {
        const letter = word[j]!;
        const takesValue = Object.hasOwn(SHORT, letter) ? SHORT[letter] : undefined;
        if (takesValue === undefined) refuse(`-${letter}`);
        if (!takesValue) continue;
        if (j === word.length - 1 && ++i >= words.length) throw new EndpointInvalid("mysql_options", `-${letter} needs a value`);
        break;
      }
      continue;
    }
    throw new EndpointInvalid("mysql_options", `may not hold "${word}": it is not an option, and the dump tool would take it for a database or table to dump`);
  }
}
