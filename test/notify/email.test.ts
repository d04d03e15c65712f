// The email channel over TLS, against a real SMTP server (smtp-server): STARTTLS
// (the upgrade required, the server's certificate checked against the channel's
// `ca`) and TLS from the first byte; and a certificate not trusted is refused.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMTPServer } from "smtp-server";
import { send } from "../../src/notify/send.ts";
import type { Message } from "../../src/notify/message.ts";
import { freePort, requireOrSkip } from "../helpers/services.ts";

const hasOpenssl = requireOrSkip("openssl", Bun.which("openssl") !== null, "openssl (to make a test certificate)");

const message: Message = {
  event: "backup.failed", title: "Backup FAILED: job nightly-db", job: "nightly-db", target: "db", store: "s3",
  error: "pg_dump: connection refused", task: "t-1", link: "https://shield.example.com/tasks/t-1", at: new Date(0).toISOString(),
};

describe.skipIf(!hasOpenssl)("email over TLS", () => {
  let dir: string;
  let key: string;
  let cert: string;
  const servers: SMTPServer[] = [];
  const got: { secure: boolean; raw: string; user?: string }[] = [];

  async function server(secure: boolean): Promise<number> {
    const port = await freePort();
    const s = new SMTPServer({
      secure, key, cert, logger: false, authOptional: false,
      onAuth(a, _s, cb) { return a.username === "u" && a.password === "p" ? cb(null, { user: "u" }) : cb(new Error("bad auth")); },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => { got.push({ secure: session.secure, raw: Buffer.concat(chunks).toString(), user: session.user as string }); cb(); });
      },
    });
    await new Promise<void>((res) => s.listen(port, "127.0.0.1", () => res()));
    servers.push(s);
    return port;
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "shield-test-smtp-tls-"));
    const r = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
    key = readFileSync(join(dir, "key.pem"), "utf8");
    cert = readFileSync(join(dir, "cert.pem"), "utf8");
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
    rmSync(dir, { recursive: true, force: true });
  });

  const settings = (port: number, tls: string, ca?: string) => ({ host: "127.0.0.1", port, tls, user: "u", password: "p", from: "shield@example.com", to: ["ops@example.com"], ca });

  test("STARTTLS: upgraded before AUTH, the certificate checked against ca; plain text and HTML", async () => {
    await send("email", settings(await server(false), "starttls", cert), message, "d-1");
    const m = got.pop()!;
    expect(m.secure).toBe(true);
    expect(m.user).toBe("u");
    expect(m.raw).toContain("Subject: [Shield] Backup FAILED: job nightly-db");
    expect(m.raw).toContain("text/plain");
    expect(m.raw).toContain("text/html");
    expect(m.raw).toContain("pg_dump: connection refused");
  });

  test("TLS from the first byte", async () => {
    await send("email", settings(await server(true), "tls", cert), message, "d-2");
    expect(got.pop()!.secure).toBe(true);
  });

  test("a certificate that is not trusted is refused, with the reason in one line", async () => {
    const port = await server(false);
    await expect(send("email", settings(port, "starttls"), message, "d-3")).rejects.toThrow(/mail server refused or could not be reached: .*(self.signed|certificate)/i);
    expect(got.length).toBe(0);
  });
});
