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

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** A full-page PNG under test-artifacts/screenshots/. */
  shot(name: string, page?: Page): Promise<void>;
  close(): Promise<void>;
}

export async function launchBrowser(opts: { timezoneId?: string; viewport?: { width: number; height: number } } = {}): Promise<TestBrowser> {
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
