// How the CLI fails: one line on stderr (`shield: ...`) and an exit code that says
// what kind of failure it was, so that scripts can tell them apart.
export { UsageError } from "../args.ts";

export const EXIT = {
  OK: 0,
  /** Bad arguments, a missing required flag without a terminal; also "no" from `shield paused`. */
  USAGE: 1,
  /** The core said no (4xx/5xx), could not be reached, or a name did not resolve. */
  FAILED: 3,
  /** A followed task ended failed. */
  TASK_FAILED: 4,
  /** A followed task was canceled. */
  TASK_CANCELED: 5,
  /** Ctrl-C at a prompt. */
  INTERRUPTED: 130,
} as const;

/** A failure whose message is the one line the user sees. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.FAILED) {
    super(message);
  }
}

/** Ctrl-C or end of input at a prompt: nothing was sent. */
export class Interrupted extends CliError {
  constructor() { super("interrupted; nothing was changed", EXIT.INTERRUPTED); }
}
