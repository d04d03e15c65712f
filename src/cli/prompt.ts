// Questions on the terminal. Prompts go to stderr so stdout stays clean for --json;
// secrets are read with echo off. The terminal is read in raw mode by a tiny line
// editor (backspace, Ctrl-U, Ctrl-C), because Node's readline cannot hide input.
import { Interrupted } from "./errors.ts";

/** Prompts only when a person is there to answer: stdin and stderr are both terminals. */
export function interactive(): boolean {
  return !!process.stdin.isTTY && !!process.stderr.isTTY;
}

const ESCAPE_SEQUENCE = /\x1b(\[[0-9;?]*[ -/]*[@-~]|O.|.)/g;
// Keys typed ahead of a prompt (a paste of several lines) wait here for the next one.
let typedAhead = "";

export interface AskOptions {
  /** Shown in brackets and returned for an empty answer. */
  default?: string;
  /** What the brackets show instead of the default (an endpoint with its secrets masked; for a secret, "keep" unless given). */
  shown?: string;
  /** Read with echo off. */
  secret?: boolean;
  /** Ask again until the answer is not empty. */
  required?: boolean;
  /** Return an error message to ask again, or undefined to accept. */
  check?: (answer: string) => string | undefined;
}

export async function ask(question: string, opts: AskOptions = {}): Promise<string> {
  for (;;) {
    const hint = opts.default !== undefined && opts.default !== "" ? ` [${opts.shown ?? (opts.secret ? "keep" : opts.default)}]` : "";
    const raw = await readLine(`${question}${hint}: `, !!opts.secret);
    const answer = raw === "" && opts.default !== undefined ? opts.default : raw.trim() === "" ? "" : raw;
    if (opts.required && answer.trim() === "") { process.stderr.write("  (required)\n"); continue; }
    const problem = opts.check?.(answer);
    if (problem) { process.stderr.write(`  ${problem}\n`); continue; }
    return answer;
  }
}

/** y/N: anything but y or yes is no. */
export async function confirm(question: string): Promise<boolean> {
  return /^y(es)?$/i.test((await readLine(`${question} [y/N] `, false)).trim());
}

/** A new password, typed twice. */
export async function newPassword(question = "Password"): Promise<string> {
  for (;;) {
    const first = await ask(question, { secret: true, required: true, check: (p) => (p.length < 8 ? "must be at least 8 characters" : undefined) });
    const again = await readLine(`${question} (again): `, true);
    if (first === again) return first;
    process.stderr.write("  the two did not match; once more\n");
  }
}

function readLine(prompt: string, secret: boolean): Promise<string> {
  const stdin = process.stdin;
  const err = process.stderr;
  err.write(prompt);
  return new Promise((resolve, reject) => {
    let line = "";
    const finish = (fn: () => void) => {
      stdin.off("data", onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      fn();
    };
    const feed = (text: string): boolean => {
      const chars = [...text.replace(ESCAPE_SEQUENCE, "")];
      for (let i = 0; i < chars.length; i++) {
        const ch = chars[i]!;
        if (ch === "\r" || ch === "\n") {
          // \r\n from a paste is one line end.
          const rest = chars.slice(ch === "\r" && chars[i + 1] === "\n" ? i + 2 : i + 1).join("");
          typedAhead = rest;
          err.write("\n");
          finish(() => resolve(line));
          return true;
        }
        if (ch === "\u0003" || (ch === "\u0004" && line === "")) {
          typedAhead = "";
          err.write("\n");
          finish(() => reject(new Interrupted()));
          return true;
        }
        if (ch === "\u007f" || ch === "\b") {
          if (line) {
            line = [...line].slice(0, -1).join("");
            if (!secret) err.write("\b \b");
          }
        } else if (ch === "\u0015") {
          if (!secret) err.write("\b \b".repeat([...line].length));
          line = "";
        } else if (ch >= " ") {
          line += ch;
          if (!secret) err.write(ch);
        }
      }
      return false;
    };
    const onData = (chunk: Buffer | string) => { feed(typeof chunk === "string" ? chunk : chunk.toString("utf8")); };
    const pending = typedAhead;
    typedAhead = "";
    if (feed(pending)) return;
    stdin.setRawMode?.(true);
    stdin.on("data", onData);
    stdin.resume();
  });
}
