// shield login and the config file: the token (never the password) kept per core
// with mode 0600, used when no flag or environment variable says otherwise, and
// revoked by shield logout.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { shield } from "../helpers/cli.ts";
import { freePort } from "../helpers/services.ts";

const PASSWORD = "cli-login-password";

describe("shield login", () => {
  let d: DaemonProcess;
  let home: string;
  const config = () => join(home, ".config", "shield", "config.json");
  // No XDG_CONFIG_HOME: the file goes under $HOME/.config.
  const run = (args: string[], opts: { input?: string; env?: Record<string, string | undefined> } = {}) =>
    shield(args, { input: opts.input, env: { HOME: home, XDG_CONFIG_HOME: undefined, ...opts.env } });

  beforeAll(async () => {
    d = await startShieldDaemon({ env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    home = mkdtempSync(join(tmpdir(), "shield-test-cli-home-"));
  });
  afterAll(async () => {
    await d?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  test("a wrong password: one line, exit 3, no file", async () => {
    const r = await run(["login", "--core", d.url, "--user", "admin", "--password-stdin"], { input: "wrong-password\n" });
    expect(r.status).toBe(3);
    expect(r.stderr).toBe("shield: the core refused the credentials: wrong user name or password\n");
    expect(existsSync(config())).toBe(false);
  });

  test("without a terminal the password must come on stdin", async () => {
    const r = await run(["login", "--core", d.url, "--user", "admin"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("--password-stdin");
    const noUser = await run(["login", "--core", d.url]);
    expect([noUser.status, noUser.stderr]).toEqual([1, "shield: --user is required (there is no terminal to ask on)\n"]);
  });

  test("login keeps a token under ~/.config/shield, mode 0600; later commands use it", async () => {
    const r = await run(["login", "--core", d.url.replace("http://", ""), "--user", "admin", "--password-stdin"], { input: `${PASSWORD}\n` });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`signed in to ${d.url} as admin (admin); the token is kept in ${config()}\n`);
    expect(statSync(config()).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, ".config", "shield")).mode & 0o777).toBe(0o700);
    const saved = JSON.parse(readFileSync(config(), "utf8"));
    expect(saved.core).toBe(d.url);
    // (Bun's toMatchObject writes asymmetric matchers into the object it checks: the token is checked apart.)
    expect(saved.logins[d.url].user).toBe("admin");
    expect(saved.logins[d.url].token).toMatch(/^shield_/);
    expect(readFileSync(config(), "utf8")).not.toContain(PASSWORD);
    expect(r.stdout + r.stderr).not.toContain(saved.logins[d.url].token);
    // No --core, no token: both come from the file.
    const who = await run(["whoami"]);
    expect(who.status).toBe(0);
    expect(who.stdout).toContain(`Core:        ${d.url}`);
    expect(who.stdout).toContain("Token from:  " + config());
    // The token is one of the user's tokens, by name.
    const tokens = (await run(["list", "tokens", "--json"])).json();
    expect(tokens.map((t: any) => t.uuid)).toContain(saved.logins[d.url].token_uuid);
  });

  test("a token kept for one core is never sent to another", async () => {
    const other = `http://127.0.0.1:${await freePort()}`;
    const r = await run(["whoami", "--core", other]);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(`cannot reach the Shield core at ${other}`);
    // SHIELD_CORE naming a core without a saved login: not signed in, rather than a borrowed token.
    const unsigned = await run(["list", "jobs"], { env: { SHIELD_CORE: d.url.replace("127.0.0.1", "localhost") } });
    expect(unsigned.status).toBe(3);
    expect(unsigned.stderr).toContain("not signed in to http://localhost:");
  });

  test("logging in again replaces the token and revokes the old one", async () => {
    const first = JSON.parse(readFileSync(config(), "utf8")).logins[d.url];
    const r = await run(["login", "--user", "admin", "--password-stdin", "--json"], { input: `${PASSWORD}\n` });
    expect(r.status).toBe(0);
    const answer = r.json();
    expect(answer).toMatchObject({ ok: "created", core: d.url, user: "admin", role: "admin" });
    expect(JSON.stringify(answer)).not.toContain("shield_");
    const second = JSON.parse(readFileSync(config(), "utf8")).logins[d.url];
    expect(second.token_uuid).toBe(answer.uuid);
    const status = (t: string) => fetch(`${d.url}/v1/auth/whoami`, { headers: { authorization: `Bearer ${t}` } }).then((x) => x.status);
    expect(await status(first.token)).toBe(401);
    expect(await status(second.token)).toBe(200);
  });

  test("logout revokes the token and forgets it", async () => {
    const saved = JSON.parse(readFileSync(config(), "utf8")).logins[d.url];
    const r = await run(["logout"]);
    expect([r.status, r.stdout]).toEqual([0, `signed out of ${d.url}; the token is revoked\n`]);
    expect(JSON.parse(readFileSync(config(), "utf8")).logins).toEqual({});
    const status = await fetch(`${d.url}/v1/auth/whoami`, { headers: { authorization: `Bearer ${saved.token}` } }).then((x) => x.status);
    expect(status).toBe(401);
    expect((await run(["list", "jobs"])).stderr).toContain("not signed in");
    expect((await run(["logout"])).stdout).toContain("nothing to do");
  });
});
