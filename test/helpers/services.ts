// What every test harness for a real server shares: finding a free port, and
// deciding what happens when the server's binaries are missing: a loud skip on
// a developer's machine, a failure under CI=true.
import { createServer } from "node:net";

export const inCI = process.env.CI === "true";

export function requireOrSkip(service: string, available: boolean, needs: string): boolean {
  if (available) return true;
  const message = `${service} is not installed here: the tests that need it cannot run (they need ${needs}).`;
  if (inCI) throw new Error(`${message} CI=true, so this is a failure, not a skip.`);
  console.warn(`\n*** SKIPPING: ${message} ***\n`);
  return false;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Polls every `everyMs` until `check` is true (or throws after `ms`). */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 30_000, what = "condition", everyMs = 100): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(everyMs);
  }
}
