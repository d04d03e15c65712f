// Real receivers for notifications: an SMTP server (the `smtp-server` package)
// and an HTTP receiver (Bun.serve), each on a free port of its own, keeping what
// they were sent.
import { SMTPServer } from "smtp-server";
import { freePort } from "./services.ts";

// Where the notification tests have always found it.
export { eventually } from "./services.ts";

export interface Mail { from: string; to: string[]; raw: string; user?: string }

export interface SmtpReceiver {
  port: number;
  mails: Mail[];
  stop(): Promise<void>;
}

/** Plain SMTP (no TLS) with AUTH PLAIN/LOGIN required: `user`/`password`; or TLS options for STARTTLS. */
export async function startSmtp(opts: { user: string; password: string; tls?: { key: string; cert: string } }): Promise<SmtpReceiver> {
  const mails: Mail[] = [];
  const port = await freePort();
  const server = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: !opts.tls,
    disabledCommands: opts.tls ? [] : ["STARTTLS"],
    ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : {}),
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === opts.user && auth.password === opts.password) return cb(null, { user: auth.username });
      return cb(new Error("Invalid username or password"));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString("utf8"), user: session.user as string | undefined,
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(port, "127.0.0.1", () => resolve()); });
  return { port, mails, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export interface Received { path: string; headers: Record<string, string>; body: string }

export interface HttpReceiver {
  url: string;
  port: number;
  received: Received[];
  /** Answer this status to the next requests (default 200). */
  status: number;
  stop(): void;
}

export async function startHttpReceiver(): Promise<HttpReceiver> {
  const r: HttpReceiver = {
    url: "", port: 0, received: [], status: 200,
    stop: () => server.stop(true),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    async fetch(req) {
      r.received.push({ path: new URL(req.url).pathname, headers: Object.fromEntries(req.headers), body: await req.text() });
      return new Response("ok", { status: r.status });
    },
  });
  r.port = server.port!;
  r.url = `http://127.0.0.1:${server.port}`;
  return r;
}

