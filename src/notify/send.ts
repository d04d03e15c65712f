// Sends one message to one channel, once: the dispatcher retries. Every send has
// a deadline, so a receiver that hangs costs one attempt, never a stuck sender.
import { createHmac } from "node:crypto";
import nodemailer from "nodemailer";
import { VERSION } from "../version.ts";
import type { ChannelKind } from "./channels.ts";
import { discordPayload, html, plainText, slackPayload, teamsPayload, type Message } from "./message.ts";

export const SEND_TIMEOUT_MS = 15_000;

/** The header a webhook receiver checks: sha256= and the hex HMAC-SHA256 of the raw body under the channel's secret. */
export const SIGNATURE_HEADER = "X-Shield-Signature";

export function sign(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** An attempt that failed, in one line (never the URL: it may carry a token). */
export class SendFailed extends Error {}

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST", body, redirect: "error", signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      headers: { "content-type": "application/json", "user-agent": `shield/${VERSION}`, ...headers },
    });
  } catch (err) {
    const e = err as Error;
    throw new SendFailed(e.name === "TimeoutError" ? `no answer within ${SEND_TIMEOUT_MS / 1000} s` : `cannot reach the receiver: ${e.message.replace(url, "(url)")}`);
  }
  const text = (await res.text().catch(() => "")).slice(0, 200).replace(/\s+/g, " ").trim();
  if (!res.ok) throw new SendFailed(`the receiver answered ${res.status}${text ? `: ${text}` : ""}`);
}

/** The Healthchecks-style URL for an event: URL/start, URL (success), URL/fail. */
export function pingUrl(base: string, event: string): string {
  const trimmed = base.replace(/\/+$/, "");
  if (event === "backup.started") return `${trimmed}/start`;
  if (event.endsWith(".failed")) return `${trimmed}/fail`;
  return trimmed;
}

export async function send(kind: ChannelKind, settings: Record<string, any>, m: Message, deliveryId: string): Promise<void> {
  switch (kind) {
    case "webhook": {
      const body = JSON.stringify({ ...m, delivery: deliveryId });
      const headers: Record<string, string> = { "X-Shield-Event": m.event, "X-Shield-Delivery": deliveryId };
      if (settings.secret) headers[SIGNATURE_HEADER] = sign(settings.secret, body);
      return post(settings.url, body, headers);
    }
    case "slack":
    case "mattermost":
      return post(settings.url, JSON.stringify(slackPayload(m)));
    case "discord":
      return post(settings.url, JSON.stringify(discordPayload(m)));
    case "teams":
      return post(settings.url, JSON.stringify(teamsPayload(m)));
    case "ping":
      // The message rides along: Healthchecks shows a ping's body in its log.
      return post(pingUrl(settings.url, m.event), plainText(m), { "content-type": "text/plain; charset=utf-8" });
    case "email":
      return sendMail(settings, m);
  }
}

async function sendMail(s: Record<string, any>, m: Message): Promise<void> {
  const tls = s.tls ?? "starttls";
  const transport = nodemailer.createTransport({
    host: s.host, port: s.port ?? (tls === "tls" ? 465 : tls === "starttls" ? 587 : 25),
    secure: tls === "tls", requireTLS: tls === "starttls", ignoreTLS: tls === "none",
    auth: s.user ? { user: s.user, pass: s.password ?? "" } : undefined,
    tls: s.ca ? { ca: s.ca } : undefined,
    connectionTimeout: SEND_TIMEOUT_MS, greetingTimeout: SEND_TIMEOUT_MS, socketTimeout: SEND_TIMEOUT_MS,
  });
  try {
    await transport.sendMail({ from: s.from, to: s.to, subject: `[Shield] ${m.title}`, text: plainText(m), html: html(m) });
  } catch (err) {
    throw new SendFailed(`the mail server refused or could not be reached: ${(err as Error).message}`);
  } finally {
    transport.close();
  }
}
