// shield login --sso against the compiled daemon and a real OpenID provider
// (test/helpers/oidc-provider.ts): the device authorization grant (the code the
// CLI shows, approved through the OP's pages), the loopback redirect, and the
// message when a provider offers neither way the CLI can use by default.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { adminToken, cliFor, shield } from "../helpers/cli.ts";
import { freePort } from "../helpers/services.ts";
import { driveSignIn, OIDC_CLIENT_SECRET, startOidcProvider, type TestOp } from "../helpers/oidc-provider.ts";

const PASSWORD = "cli-sso-admin-password";

describe("shield login --sso", () => {
  let d: DaemonProcess;
  let op: TestOp;
  let plain: TestOp;
  let home: string;
  let loopbackPort: number;
  const env = () => ({ HOME: home, XDG_CONFIG_HOME: undefined });

  /** Runs the CLI, calling `onLine` with each stderr line as it comes (the user's instructions). */
  async function running(args: string[], onLine: (line: string) => Promise<void> | void) {
    const e: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("SHIELD_")) e[k] = v;
    e.HOME = home;
    delete e.XDG_CONFIG_HOME;
    const proc = Bun.spawn([ensureBinary(), ...args], { env: e, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    let stderr = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      let pending = "";
      for await (const chunk of proc.stderr) {
        const text = decoder.decode(chunk, { stream: true });
        stderr += text;
        pending += text;
        let nl;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          await onLine(line);
        }
      }
    })();
    const [stdout, status] = await Promise.all([new Response(proc.stdout).text(), proc.exited, reading]);
    clearTimeout(timer);
    return { status, stdout, stderr };
  }

  beforeAll(async () => {
    const port = await freePort();
    loopbackPort = await freePort();
    op = await startOidcProvider({ redirectUris: [`http://127.0.0.1:${port}/signin/sso/idp/callback`, `http://127.0.0.1:${loopbackPort}/callback`] });
    plain = await startOidcProvider({ redirectUris: [`http://127.0.0.1:${port}/signin/sso/plain/callback`], deviceFlow: false });
    d = await startShieldDaemon({ port, env: { SHIELD_ADMIN_PASSWORD: PASSWORD } });
    home = mkdtempSync(join(tmpdir(), "shield-test-cli-sso-"));
    const basic = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString("base64")}`;
    for (const [name, o] of [["idp", op], ["plain", plain]] as const) {
      const r = await fetch(`${d.url}/v1/auth/providers`, {
        method: "POST", headers: { authorization: basic, "content-type": "application/json" },
        body: JSON.stringify({ name, type: "oidc", config: o.shieldConfig({ display_name: name === "idp" ? "Test IdP" : "Plain IdP" }) }),
      });
      expect(r.status).toBe(200);
    }
  }, 60_000);
  afterAll(async () => {
    await d?.stop();
    await op?.stop();
    await plain?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test("admins add an oidc provider from a YAML file, the client secret on stdin; it is never shown", async () => {
    const cli = cliFor(d, await adminToken(d, PASSWORD));
    try {
      const file = join(cli.config, "sso.yaml");
      writeFileSync(file, `issuer: ${op.issuer}\nclient_id: shield-test\nrole_claim: groups\nroles:\n  admin: [shield-admins]\ndisplay_name: From the CLI\n`);
      const made = await cli.run(["create", "provider", "--name", "clisso", "--type", "oidc", "--config-file", file, "--client-secret-stdin"], { input: `${OIDC_CLIENT_SECRET}\n` });
      expect([made.status, made.stdout, made.stderr]).toEqual([0, "added oidc provider clisso\n", ""]);
      const shown = await cli.run(["show", "provider", "clisso"]);
      expect(shown.stdout).toContain("client_secret");
      expect(shown.stdout).toContain("********");
      expect(shown.stdout).not.toContain(OIDC_CLIENT_SECRET);
      expect((await cli.run(["list", "providers"])).stdout).toMatch(new RegExp(`clisso\\s+oidc\\s+${op.issuer.replaceAll(".", "\\.")}`));
      const bad = await cli.run(["create", "provider", "--name", "x", "--type", "oidc"]);
      expect(bad.stderr).toContain("--config-file");
      expect((await cli.run(["delete", "provider", "clisso", "-y"])).status).toBe(0);
    } finally {
      cli.cleanup();
    }
  });

  test("several providers: --provider is needed, and a wrong one is named", async () => {
    const r = await shield(["login", "--sso", "--core", d.url], { env: env() });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("choose one with --provider (idp, plain)");
    const wrong = await shield(["login", "--sso", "--core", d.url, "--provider", "nope"], { env: env() });
    expect(wrong.stderr).toContain(`no single sign-on provider named "nope"`);
  });

  test("the device grant: the CLI shows a code, the user approves it in a browser, the token is kept", async () => {
    let approved: Promise<unknown> | undefined;
    const r = await running(["login", "--sso", "--core", d.url, "--provider", "idp"], (line) => {
      const m = /^\(or open (\S+)\)$/.exec(line);
      if (m) approved = driveSignIn(m[1]!, "alice");
    });
    expect(await approved).toMatchObject({ html: expect.stringContaining("Sign-in Success") });
    expect(r.stderr).toMatch(/To sign in with Test IdP, open http:\/\/127\.0\.0\.1:\d+\/device in a browser and enter the code \S+/);
    expect(r.status).toBe(0);
    const file = join(home, ".config", "shield", "config.json");
    expect(r.stdout).toBe(`signed in to ${d.url} as alice (admin); the token is kept in ${file}\n`);
    const saved = JSON.parse(readFileSync(file, "utf8"));
    expect(saved.logins[d.url].user).toBe("alice");
    expect(r.stdout + r.stderr).not.toContain(saved.logins[d.url].token);
    expect(readFileSync(file, "utf8")).not.toContain(OIDC_CLIENT_SECRET);
    const who = await shield(["whoami", "--json"], { env: env() });
    expect(who.json()).toMatchObject({ name: "alice", role: "admin", provider: "idp" });
  }, 60_000);

  test("--loopback: the browser comes back to the CLI's listener on 127.0.0.1", async () => {
    let callback: Promise<void> | undefined;
    const r = await running(["login", "--sso", "--core", d.url, "--provider", "idp", "--loopback", "--callback-port", String(loopbackPort)], (line) => {
      if (line.startsWith(`${op.issuer}/auth?`)) {
        callback = (async () => {
          const landed = await driveSignIn(line, "olga", `http://127.0.0.1:${loopbackPort}/callback`);
          // The browser's last step: the redirect to the CLI's listener.
          const page = await fetch(landed.url);
          expect(await page.text()).toContain("You can close this tab");
        })();
      }
    });
    await callback;
    expect(r.stderr).toContain(`(the provider must accept the redirect URI http://127.0.0.1:${loopbackPort}/callback)`);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("as olga (operator)");
  }, 60_000);

  test("a provider without the device grant: a clear message saying what to do instead", async () => {
    const r = await shield(["login", "--sso", "--core", d.url, "--provider", "plain"], { env: env() });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`OIDC provider "plain" does not offer the device authorization grant`);
    expect(r.stderr).toContain("shield login --sso --loopback");
  });
});
