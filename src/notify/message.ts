// What a notification says, once, whatever the channel: rendered when the event
// happens (so the names survive a rename), stored with the delivery, and shaped
// per channel kind at send time.
import type { EventKind } from "./channels.ts";

export interface Message {
  event: EventKind | "test";
  /** One line: "Backup of job nightly-db FAILED". */
  title: string;
  job?: string;
  target?: string;
  store?: string;
  /** The failure reason in one line. */
  error?: string;
  task?: string;
  /** The task's page in the web UI (or the job's, for an event that is no task's). */
  link?: string;
  /** The agent an `agent.unreachable` is about. */
  agent?: string;
  /** ISO 8601. */
  at: string;
  /** Drill figures, restore time. */
  details?: Record<string, unknown>;
}

const WORDS: Record<Message["event"], string> = {
  "backup.failed": "Backup FAILED", "backup.succeeded": "Backup succeeded", "backup.started": "Backup started",
  "restore.finished": "Restore finished", "purge.failed": "Purge FAILED", "drill.failed": "Restore drill FAILED",
  "drill.succeeded": "Restore drill succeeded", "job.overdue": "Job overdue", "agent.unreachable": "Agent unreachable",
  "store.nearly_full": "Store nearly full", test: "Test notification",
};

export function titleOf(event: Message["event"], job?: string, outcome?: string, agent?: string): string {
  const base = WORDS[event] + (event === "restore.finished" && outcome ? ` (${outcome})` : "");
  return job ? `${base}: job ${job}` : agent ? `${base}: agent ${agent}` : base;
}

/** What the link line is called: the task's page, or the page of what an event without a task is about. */
const linkName = (m: Message) => (m.task ? "Task" : "Link");

function lines(m: Message): [string, string][] {
  const out: [string, string][] = [];
  if (m.agent) out.push(["Agent", m.agent]);
  if (m.job) out.push(["Job", m.job]);
  if (m.target) out.push(["Target", m.target]);
  if (m.store) out.push(["Store", m.store]);
  if (m.error) out.push(["Error", m.error]);
  for (const [k, v] of Object.entries(m.details ?? {})) out.push([k, typeof v === "string" ? v : JSON.stringify(v)]);
  out.push(["When", m.at]);
  if (m.link) out.push([linkName(m), m.link]);
  return out;
}

export function plainText(m: Message): string {
  return `${m.title}\n\n${lines(m).map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n-- Shield\n`;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function html(m: Message): string {
  const rows = lines(m).map(([k, v]) => `<tr><th align="left" style="padding-right:1em">${esc(k)}</th><td>${
    k === linkName(m) && v === m.link ? `<a href="${esc(v)}">${esc(v)}</a>` : esc(v)}</td></tr>`).join("");
  return `<!doctype html><html><body><h2>${esc(m.title)}</h2><table>${rows}</table><p style="color:#666">Shield</p></body></html>`;
}

/** Slack (and Mattermost, which takes Slack's shape) incoming webhook. */
export function slackPayload(m: Message): unknown {
  return { text: `*${m.title}*\n${lines(m).map(([k, v]) => `${k}: ${v}`).join("\n")}` };
}

export function discordPayload(m: Message): unknown {
  const failed = /FAILED/.test(m.title) || m.event === "job.overdue" || m.event === "agent.unreachable" || m.event === "store.nearly_full";
  return {
    content: m.title,
    embeds: [{
      title: m.title, url: m.link, color: failed ? 0xd0021b : 0x2e7d32, timestamp: m.at,
      fields: lines(m).filter(([k]) => k !== "When").map(([name, value]) => ({ name, value: value.slice(0, 1024), inline: name !== "Error" })),
    }],
  };
}

/** Microsoft Teams incoming webhook (workflow): an Adaptive Card in a message. */
export function teamsPayload(m: Message): unknown {
  return {
    type: "message",
    attachments: [{
      contentType: "application/vnd.microsoft.card.adaptive",
      content: {
        $schema: "http://adaptivecards.io/schemas/adaptive-card.json", type: "AdaptiveCard", version: "1.4",
        body: [
          { type: "TextBlock", size: "Medium", weight: "Bolder", text: m.title, wrap: true },
          { type: "FactSet", facts: lines(m).map(([title, value]) => ({ title, value })) },
        ],
        ...(m.link ? { actions: [{ type: "Action.OpenUrl", title: m.task ? "Open the task" : "Open in Shield", url: m.link }] } : {}),
      },
    }],
  };
}
