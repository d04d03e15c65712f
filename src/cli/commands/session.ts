// Signing in and out. `shield login` asks for a user and password (the password
// without echo, or on stdin with --password-stdin), makes an API token with them
// and keeps the token, not the password, in the config file (mode 0600).
// `shield login --sso` signs in through an OIDC provider instead (sso.ts).
import { hostname } from "node:os";
import type { Command, Ctx } from "../command.ts";
import { Api } from "../client.ts";
import { chosenCore, configPath, readConfig, writeConfig, DEFAULT_CORE } from "../connection.ts";
import { UsageError } from "../errors.ts";
import { ask } from "../prompt.ts";
import { ssoLogin } from "./sso.ts";

let me: Promise<{ uuid: string; name: string; role: string }> | undefined;
/** Who the credentials belong to (the owner of tasks the CLI files). */
export function whoami(ctx: Ctx) {
  return (me ??= ctx.api().get("/v1/auth/whoami"));
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** The first line of stdin: how a script gives a password without putting it in argv. `flag` names it in the error. */
export async function secretFromStdin(flag = "--password-stdin"): Promise<string> {
  const text = await readStdin();
  const line = text.split(/\r?\n/)[0] ?? "";
  if (!line) throw new UsageError(`${flag}: stdin was empty`);
  return line;
}

/** A password from stdin with --password-stdin, else asked for on a terminal; without one, an error. */
export async function passwordOf(ctx: Ctx, askIt: () => Promise<string>): Promise<string> {
  if (ctx.flag("password-stdin")) return secretFromStdin();
  if (ctx.interactive) return askIt();
  throw new UsageError("no terminal to ask for the password on: give it on stdin with --password-stdin");
}

/** The token of a sign-in kept in the config file for `core`; the one it replaces is revoked. */
async function keep(ctx: Ctx, core: string, made: { uuid: string; token: string; user: string }, path: string): Promise<void> {
  const config = readConfig(path);
  const previous = config.logins[core];
  config.core = core;
  config.logins[core] = { token: made.token, user: made.user, token_uuid: made.uuid };
  writeConfig(config, path);
  const signedIn = new Api({ core, token: made.token, tokenSource: "login" });
  // The token this login replaces is revoked, so that logins do not pile up tokens; best effort.
  if (previous?.token_uuid && previous.token_uuid !== made.uuid) {
    await signedIn.delete(`/v1/auth/token/${previous.token_uuid}`).catch(() => {});
  }
  const who = await signedIn.get<any>("/v1/auth/whoami");
  // Never the token itself: it stays in the file.
  ctx.report({ ok: "created", uuid: made.uuid, core, user: who.name, role: who.role, config: path },
    `signed in to ${core} as ${who.name} (${who.role}); the token is kept in ${path}`);
}

export const sessionCommands: Command[] = [
  {
    verb: "login", summary: "Sign in to a core and keep an API token for it",
    usage: "login [--core URL] [--user NAME] [--password-stdin] | login --sso [--provider NAME] [--loopback] [--callback-port N]",
    options: [["--core URL", `the core (else SHIELD_CORE, the last one signed in to, or ${DEFAULT_CORE})`],
      ["--user NAME", "the user; asked for on a terminal"],
      ["--password-stdin", "read the password from the first line of stdin instead of asking (for scripts)"],
      ["--sso", "sign in through the core's OIDC provider: the device authorization grant (a code to enter in any browser) when the provider offers it"],
      ["--provider NAME", "with --sso: which OIDC provider, when the core has several"],
      ["--loopback", "with --sso: a browser on this machine comes back to the CLI at http://127.0.0.1:PORT/callback (register it with the provider)"],
      ["--callback-port N", "with --loopback: the port of that redirect URI (default: any free port)"]],
    examples: ["shield login --core https://shield.example.com:8888", "printf '%s\\n' \"$PW\" | shield login --user admin --password-stdin",
      "shield login --sso", "shield login --sso --provider corp --loopback --callback-port 8765"],
    specs: [{ name: "user" }, { name: "password-stdin", flag: true }, { name: "sso", flag: true }, { name: "provider" }, { name: "loopback", flag: true }, { name: "callback-port" }],
    async run(ctx) {
      const path = configPath();
      const config = readConfig(path);
      const core = chosenCore(ctx.str("core"), config);
      if (ctx.flag("sso")) {
        const made = await ssoLogin(ctx, core);
        await keep(ctx, core, made, path);
        return;
      }
      for (const f of ["provider", "loopback", "callback-port"]) if (ctx.has(f)) throw new UsageError(`--${f} goes with --sso`);
      const user = ctx.str("user") ?? (await ctx.ask("user", "User", { required: true }));
      const password = await passwordOf(ctx, () => ask("Password", { secret: true, required: true }));
      const api = new Api({ core, token: undefined, tokenSource: undefined });
      const basic = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
      const name = `shield login from ${hostname()} at ${new Date().toISOString().slice(0, 19).replace("T", " ")} (${process.pid})`;
      const made = await api.request<{ uuid: string; token: string }>("POST", "/v1/auth/tokens", { name }, undefined, basic);
      await keep(ctx, core, { ...made, user }, path);
    },
  },
  {
    verb: "logout", summary: "Revoke the kept token of a core and forget it",
    usage: "logout [--core URL]", examples: ["shield logout", "shield logout --core https://shield.example.com:8888"],
    async run(ctx) {
      const path = configPath();
      const config = readConfig(path);
      const core = chosenCore(ctx.str("core"), config);
      const saved = config.logins[core];
      if (!saved) { ctx.report({ ok: "not signed in" }, `not signed in to ${core}; nothing to do`); return; }
      let revoked = true;
      await new Api({ core, token: saved.token, tokenSource: path }).delete(`/v1/auth/token/${saved.token_uuid}`).catch((err) => {
        revoked = false;
        process.stderr.write(`shield: could not revoke the token (${err.message}); forgetting it anyway\n`);
      });
      delete config.logins[core];
      writeConfig(config, path);
      ctx.report({ ok: "deleted" }, `signed out of ${core}${revoked ? "; the token is revoked" : ""}`);
    },
  },
  {
    verb: "whoami", summary: "Show the core, its version, and who the credentials belong to",
    usage: "whoami", examples: ["shield whoami", "shield whoami --json"],
    async run(ctx) {
      const api = ctx.api();
      const who = await whoami(ctx);
      if (ctx.json) return ctx.out.data(who);
      const health = await api.get<any>("/v1/health");
      ctx.out.details([["Core", `${api.core} (shield ${health.version})`], ["User", who.name], ["Role", who.role], ["Token from", api.conn.tokenSource]]);
    },
  },
];
