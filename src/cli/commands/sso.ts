// `shield login --sso`: a token through the core's OIDC provider. The core alone
// talks to the provider (it holds the client secret and checks the ID token); the
// CLI only shows the user where to go and carries the core's sealed state.
//   - the device authorization grant (RFC 8628), when the provider offers it: a code
//     to enter in any browser, on any machine; the CLI polls the core meanwhile;
//   - --loopback: the code flow, with a browser on this machine sent back to a
//     one-shot listener on 127.0.0.1 (RFC 8252), whose callback the core finishes.
// Neither possible (no device grant and no --loopback): an error saying what to do.
import { hostname } from "node:os";
import type { Ctx } from "../command.ts";
import { Api, ApiError } from "../client.ts";
import { CliError, UsageError } from "../errors.ts";

interface Signed { uuid: string; token: string; user: string }

const tokenName = () => `shield login --sso from ${hostname()} at ${new Date().toISOString().slice(0, 19).replace("T", " ")} (${process.pid})`;
/** To stderr: what the user must do, kept apart from the result on stdout (and from --json). */
const tell = (line: string) => process.stderr.write(`${line}\n`);

export async function ssoLogin(ctx: Ctx, core: string): Promise<Signed> {
  const api = new Api({ core, token: undefined, tokenSource: undefined });
  // "": no credentials, on purpose; a 401 is then the sign-in's refusal.
  const call = <T>(method: string, path: string, body?: unknown) => api.request<T>(method, path, body, undefined, "");
  const providers = await call<{ name: string; label: string }[]>("GET", "/v1/auth/sso");
  const chosen = ctx.str("provider");
  if (!providers.length) throw new CliError(`the core at ${core} has no single sign-on provider; sign in with shield login --user NAME`);
  const provider = chosen ? providers.find((p) => p.name === chosen) : providers.length === 1 ? providers[0] : undefined;
  if (!provider) {
    const names = providers.map((p) => p.name).join(", ");
    throw new UsageError(chosen ? `no single sign-on provider named "${chosen}" (the core has ${names})` : `the core has several single sign-on providers: choose one with --provider (${names})`);
  }
  const base = `/v1/auth/sso/${encodeURIComponent(provider.name)}`;
  if (ctx.flag("loopback")) return loopback(ctx, call, base, provider.label);
  if (ctx.has("callback-port")) throw new UsageError("--callback-port goes with --loopback");

  let device: { user_code: string; verification_uri: string; verification_uri_complete?: string; interval: number; expires_in: number; state: string };
  try {
    device = await call("POST", `${base}/device`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) {
      throw new CliError(`${err.message}. With a browser on this machine, run shield login --sso --loopback (register the redirect URI http://127.0.0.1:PORT/callback ` +
        "with the provider, and give that port with --callback-port); or sign in with the web UI and make an API token there (shield --token)");
    }
    throw err;
  }
  tell(`To sign in with ${provider.label}, open ${device.verification_uri} in a browser and enter the code ${device.user_code}`);
  if (device.verification_uri_complete) tell(`(or open ${device.verification_uri_complete})`);
  tell("Waiting for the sign-in to be approved…");
  let interval = Math.max(1, device.interval);
  const until = Date.now() + device.expires_in * 1000;
  while (Date.now() < until) {
    await Bun.sleep(interval * 1000);
    const r = await call<{ pending: true; interval: number } | (Signed & { ok: string })>("POST", `${base}/device/poll`, { state: device.state, token_name: tokenName() });
    if (!("pending" in r)) return r;
    // slow_down from the provider: the core says to wait longer (RFC 8628 §3.5).
    interval = Math.max(interval, r.interval);
  }
  throw new CliError(`the code ${device.user_code} expired before the sign-in was approved; run shield login --sso again`);
}

/** The code flow with a one-shot listener on loopback for the callback. */
async function loopback(ctx: Ctx, call: <T>(method: string, path: string, body?: unknown) => Promise<T>, base: string, label: string): Promise<Signed> {
  const portText = ctx.str("callback-port");
  const port = portText === undefined ? 0 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--callback-port: must be a port number (got "${portText}")`);
  let arrived: (q: Record<string, string>) => void = () => {};
  const callback = new Promise<Record<string, string>>((r) => (arrived = r));
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: "127.0.0.1", port,
      fetch(req) {
        const url = new URL(req.url);
        if (url.pathname !== "/callback") return new Response("Not found", { status: 404 });
        arrived(Object.fromEntries(url.searchParams));
        return new Response("<!doctype html><title>Shield</title><p>Back to the terminal: shield is finishing the sign-in. You can close this tab.</p>",
          { headers: { "content-type": "text/html; charset=utf-8" } });
      },
    });
  } catch (err) {
    throw new CliError(`--callback-port ${port}: cannot listen on 127.0.0.1:${port} (${(err as Error).message})`);
  }
  try {
    const redirectUri = `http://127.0.0.1:${server.port}/callback`;
    const started = await call<{ url: string; state: string }>("POST", `${base}/start`, { redirect_uri: redirectUri });
    tell(`To sign in with ${label}, open this address in a browser on this machine:\n${started.url}`);
    tell(`(the provider must accept the redirect URI ${redirectUri})`);
    const timeout = Bun.sleep(10 * 60_000).then(() => undefined);
    const query = await Promise.race([callback, timeout]);
    if (!query) throw new CliError("no answer from the browser within 10 minutes; run shield login --sso --loopback again");
    return await call<Signed>("POST", `${base}/finish`, { state: started.state, query, token_name: tokenName() });
  } finally {
    server.stop(true);
  }
}
