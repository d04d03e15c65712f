// A pseudo-terminal for the tests that must see what a person sees: a private
// tmux server runs a command; keys are sent, and the screen is read back.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireOrSkip } from "./services.ts";

export const tmuxAvailable = requireOrSkip("tmux", spawnSync("tmux", ["-V"]).status === 0, "tmux (Debian: apt install tmux)");

export interface Terminal {
  /** Types text (literally), then Enter unless `enter` is false. */
  type(text: string, enter?: boolean): void;
  /** What the screen shows now. */
  screen(): string;
  /** Waits until the screen shows `text` (tmux drops trailing blanks: so does the match); fails with the screen after `ms`. */
  waitFor(text: string | RegExp, ms?: number): Promise<string>;
  /** Waits for the command to end; its exit code. */
  exit(ms?: number): Promise<number>;
  close(): void;
}

/** Runs argv in a fresh terminal, with env (written to a script, so no value shows in a process list). */
export function openTerminal(argv: string[], env: Record<string, string>): Terminal {
  const dir = mkdtempSync(join(tmpdir(), "shield-test-tty-"));
  const socket = `shield-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = join(dir, "run.sh");
  writeFileSync(script, [
    "#!/bin/sh",
    ...Object.entries(env).map(([k, v]) => `export ${k}=${q(v)}`),
    `${argv.map(q).join(" ")}`,
    `echo $? > ${q(join(dir, "rc"))}`,
    "sleep 600",
  ].join("\n") + "\n");
  chmodSync(script, 0o700);
  const tmux = (...args: string[]) => spawnSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
  const started = tmux("new-session", "-d", "-x", "200", "-y", "50", script);
  if (started.status !== 0) throw new Error(`tmux: ${started.stderr}`);
  const screen = () => tmux("capture-pane", "-p", "-t", "0").stdout;
  return {
    type(text, enter = true) {
      if (text) tmux("send-keys", "-t", "0", "-l", text);
      if (enter) tmux("send-keys", "-t", "0", "Enter");
    },
    screen,
    async waitFor(text, ms = 15_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const s = screen();
        if (typeof text === "string" ? s.includes(text.trimEnd()) : text.test(s)) return s;
        if (Date.now() > deadline) throw new Error(`the terminal never showed ${text}; it shows:\n${s}`);
        await Bun.sleep(50);
      }
    },
    async exit(ms = 30_000) {
      const rc = join(dir, "rc");
      const deadline = Date.now() + ms;
      while (!existsSync(rc) || !readFileSync(rc, "utf8").trim()) {
        if (Date.now() > deadline) throw new Error(`the command did not end; the terminal shows:\n${screen()}`);
        await Bun.sleep(50);
      }
      return Number(readFileSync(rc, "utf8").trim());
    },
    close() {
      tmux("kill-server");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
