// Single sign-on in a real browser: Debian's chromium (playwright-core) against
// the compiled daemon and a real OpenID provider (test/helpers/oidc-provider.ts).
// "Sign in with Test IdP" → the OP's login and consent pages → back to Shield,
// signed in with the role of the user's groups. Screenshots at 1280 and 390 px.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ensureFreshBinary, startShieldDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import { chromiumAvailable, launchBrowser, type TestBrowser } from "../helpers/browser.ts";
import { freePort } from "../helpers/services.ts";
import { startOidcProvider, type TestOp } from "../helpers/oidc-provider.ts";

const ADMIN_PASSWORD = "sso-browser-admin-password";

describe.skipIf(!chromiumAvailable)("single sign-on in chromium", () => {
  let d: DaemonProcess;
  let op: TestOp;
  const browsers: TestBrowser[] = [];

  beforeAll(async () => {
    ensureFreshBinary();
    const port = await freePort();
    op = await startOidcProvider({ redirectUris: [`http://127.0.0.1:${port}/signin/sso/idp/callback`] });
    d = await startShieldDaemon({ port, env: { SHIELD_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    const r = await fetch(`${d.url}/v1/auth/providers`, {
      method: "POST",
      headers: { authorization: `Basic ${btoa(`admin:${ADMIN_PASSWORD}`)}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "idp", type: "oidc", config: op.shieldConfig() }),
    });
    expect(r.status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    for (const b of browsers) await b.close();
    await d?.stop();
    await op?.stop();
  });

  async function signInWithIdp(b: TestBrowser, login: string, shot: string) {
    const page = b.page;
    await page.goto(`${d.url}/jobs`);
    expect(page.url()).toContain("/signin");
    const button = page.getByRole("link", { name: "Sign in with Test IdP" });
    await button.waitFor();
    await b.shot(`${shot}-signin`);
    await button.click();
    // The OP's own pages (oidc-provider's development login and consent).
    await page.waitForURL((u) => u.origin === op.issuer);
    await page.locator("input[name=login]").fill(login);
    await page.locator("input[name=password]").fill("any-password");
    await b.shot(`${shot}-provider-login`);
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.getByRole("button", { name: "Continue" }).click();
    // Back at Shield, on the page asked for first.
    await page.waitForURL(`${d.url}/jobs`);
  }

  test("Sign in with Test IdP lands signed in, with the role of the user's groups (1280 px)", async () => {
    const b = await launchBrowser({ viewport: { width: 1280, height: 900 } });
    browsers.push(b);
    await signInWithIdp(b, "alice", "sso-1280");
    await expect(b.page.locator("h1").first().innerText()).resolves.toBe("Jobs");
    const header = await b.page.locator("header").first().innerText();
    expect(header).toContain("alice");
    await b.shot("sso-1280-signed-in");
    // An admin from the provider sees it on the Access page, and the form for another shows the redirect URI.
    await b.page.goto(`${d.url}/access`);
    await expect(b.page.locator("#provider-idp").innerText()).resolves.toContain(op.issuer);
    await b.page.goto(`${d.url}/access/providers/new?type=oidc`);
    await expect(b.page.locator("#redirect-uri").innerText()).resolves.toBe(`${d.url}/signin/sso/NAME/callback`);
    await b.shot("sso-1280-access-new-oidc");
  }, 60_000);

  test("a viewer signs in on a phone-sized screen (390 px), with the viewer role", async () => {
    const b = await launchBrowser({ viewport: { width: 390, height: 844 } });
    browsers.push(b);
    await signInWithIdp(b, "vera", "sso-390");
    // At 390 px the user's name sits in the folded menu: in the header, not shown until opened.
    const header = (await b.page.locator("header").first().textContent()) ?? "";
    expect(header).toContain("vera");
    await b.page.goto(`${d.url}/`);
    await b.shot("sso-390-signed-in");
    const users = await (await fetch(`${d.url}/v1/users`, { headers: { authorization: `Basic ${btoa(`admin:${ADMIN_PASSWORD}`)}` } })).json() as any[];
    expect(users.find((u) => u.name === "vera")).toMatchObject({ role: "viewer", provider: "idp" });
  }, 60_000);

  test("a user in no mapped group is sent back to the sign-in page, told why", async () => {
    const b = await launchBrowser({ viewport: { width: 1280, height: 900 } });
    browsers.push(b);
    const page = b.page;
    await page.goto(`${d.url}/signin`);
    await page.getByRole("link", { name: "Sign in with Test IdP" }).click();
    await page.locator("input[name=login]").fill("nora");
    await page.locator("input[name=password]").fill("any-password");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.getByRole("button", { name: "Continue" }).click();
    await page.locator("#signin-error").waitFor();
    await expect(page.locator("#signin-error").innerText()).resolves.toContain(`user "nora" has no value of the idp provider's role claim`);
    await b.shot("sso-1280-refused");
  }, 60_000);
});
