// A real browser for the web UI's tests: Debian's chromium driven by playwright-core
// (which downloads nothing; .ci/run installs chromium when missing). Each launch
// gets a fresh profile, and every switch that would make chromium talk to Google
// or anything else on its own is off: the only host it reaches is the daemon.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { requireOrSkip } from "./services.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const chromiumAvailable = requireOrSkip("chromium", existsSync(CHROMIUM), "Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)");

export const SCREENSHOTS = resolve(import.meta.dir, "../../test-artifacts/screenshots");

export interface BrowserOptions {
  timezoneId?: string;
  viewport?: { width: number; height: number };
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** A full-page PNG under test-artifacts/screenshots/. */
  shot(name: string, page?: Page): Promise<void>;
  close(): Promise<void>;
}

export async function launchBrowser(opts: BrowserOptions = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "shield-chromium-"));
  mkdirSync(SCREENSHOTS, { recursive: true });
  // playwright-core insists on owning --user-data-dir: a persistent context on a fresh directory is exactly that.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    timezoneId: opts.timezoneId,
    viewport: opts.viewport ?? { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context, page,
    async shot(name, p = page) {
      await p.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Signs in through the web UI's own form, as a person would: the dashboard, sent
 * to the sign-in page, name and password, back on the dashboard.
 */
export async function signIn(page: Page, baseUrl: string, name: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  if (!new URL(page.url()).pathname.startsWith("/signin")) {
    throw new Error(`signIn(${name}): ${baseUrl}/ went to ${page.url()}, not the sign-in page (signed in already?)`);
  }
  await page.getByLabel("User name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${baseUrl}/`);
}

export interface SignedInOptions extends BrowserOptions {
  /** Defaults to admin. */
  name?: string;
  password: string;
  /** Console errors and uncaught exceptions of the first page (the strict CSP's refusals among them), from before sign-in on. */
  problems?: string[];
  /** Every origin the browser asks for, from before sign-in on: the tests expect the daemon's alone. */
  origins?: Set<string>;
}

/**
 * A fresh chromium signed in to the daemon at `baseUrl`, on its dashboard.
 * close() ends the browser and removes its profile.
 */
export async function signedInPage(baseUrl: string, opts: SignedInOptions): Promise<TestBrowser> {
  const b = await launchBrowser(opts);
  try {
    const { page } = b;
    const problems = opts.problems;
    if (problems) {
      page.on("console", (m) => { if (m.type() === "error") problems.push(`${page.url()}: ${m.text()} (from ${m.location().url})`); });
      page.on("pageerror", (e) => problems.push(`${page.url()}: ${String(e)}`));
    }
    const origins = opts.origins;
    if (origins) b.context.on("request", (r) => origins.add(new URL(r.url()).origin));
    await signIn(page, baseUrl, opts.name ?? "admin", opts.password);
    return b;
  } catch (e) {
    await b.close();
    throw e;
  }
}
