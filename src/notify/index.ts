// The notifier: hears task events, files one delivery per matching channel in the
// catalog, and delivers them in the background with retries and backoff. Nothing
// here runs inside a task: a receiver down or slow never delays or fails one.
// Deliveries are persisted (notification_deliveries), so a daemon restarted with
// messages owed delivers them; several daemons on one catalog share the work
// through a lease on each delivery (its next_at moved past the attempt).
import { nowSeconds, type Catalog, type ChannelRow, type DeliveryRow } from "../catalog/index.ts";
import type { TaskEvent, TaskEventBus } from "../core/task-events.ts";
import { describeError, log } from "../log.ts";
import type { EndpointSecrets } from "../pipeline/endpoint-secrets.ts";
import { matches, ruleName, type ChannelKind, type EventKind } from "./channels.ts";
import { titleOf, type Message } from "./message.ts";
import { send, SEND_TIMEOUT_MS } from "./send.ts";

export interface RetryOptions {
  /** Attempts in all before a delivery is given up (status failed). */
  attempts: number;
  /** The wait after the first failure (seconds); doubled after each one, up to maxS. */
  baseS: number;
  maxS: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 10, baseS: 30, maxS: 3600 };

export interface NotifierOptions {
  catalog: Catalog;
  secrets: EndpointSecrets;
  /** The daemon's URL as people reach it, for the link to the task (asked when needed: known once it listens). */
  publicUrl: () => string;
  retry?: Partial<RetryOptions>;
  /** How often due deliveries are looked for (ms); a new one is sent at once. */
  pollMs?: number;
}

/**
 * An event that is no task's (the watch's `job.overdue`, `agent.unreachable`): what
 * rules match it against, and its message, rendered by whoever tells it.
 */
export interface Alert {
  kind: EventKind;
  /** The jobs it is about, for channels whose rules name jobs (an agent: the jobs of the targets it serves). */
  jobs: string[];
  /** The job recorded with each delivery (its `job_uuid`), if it is about one. */
  job: string | null;
  message: Message;
}

export interface ParsedChannel { uuid: string; name: string; kind: ChannelKind; events: string[]; jobs: string[] }

export function parseChannel(row: ChannelRow): ParsedChannel {
  return { uuid: row.uuid, name: row.name, kind: row.kind as ChannelKind, events: JSON.parse(row.events), jobs: JSON.parse(row.jobs) };
}

export class Notifier {
  private timer: ReturnType<typeof setInterval> | undefined;
  private sending: Promise<void> | undefined;
  private again = false;
  private unsubscribe: (() => void) | undefined;
  private readonly retry: RetryOptions;
  /** Filings on their way: stop() waits for them so that no event heard is lost. */
  private filing = new Set<Promise<unknown>>();

  constructor(private readonly opts: NotifierOptions) {
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
  }

  /** Subscribes to the task event bus, and starts sending what is due. */
  start(events: TaskEventBus): void {
    this.unsubscribe = events.on((e) => this.hear(e));
    this.timer = setInterval(() => this.kick(), this.opts.pollMs ?? 1000);
    this.kick();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    clearInterval(this.timer);
    await Promise.allSettled([...this.filing]);
    await this.sending;
  }

  /**
   * Files the deliveries a task event makes, if any rule may name it; never throws
   * (the event's task is not ours to fail). Returns at once with the filing under way.
   */
  hear(e: TaskEvent): Promise<void> {
    const kind = ruleName(e.name);
    if (!kind) return Promise.resolve();
    const p = this.file(e, kind).catch((err) => log.error("cannot file notifications for an event", { event: kind, task: e.task, ...describeError(err) }))
      .finally(() => this.filing.delete(p));
    this.filing.add(p);
    return p;
  }

  private async file(e: TaskEvent, kind: EventKind): Promise<void> {
    await this.fileFor(kind, e.job ? [e.job.uuid] : [], e.task, e.job?.uuid ?? null, () => this.render(e, kind));
  }

  /**
   * Files the deliveries of an event that is no task's, one per matching channel,
   * on the same path as a task's (retried, listed in GET /v1/notifications/deliveries);
   * resolves with how many were filed. Throws when the catalog cannot say or take
   * them: the caller (the watch) tells again at its next check.
   */
  async tell(a: Alert): Promise<number> {
    const p = this.fileFor(a.kind, a.jobs, null, a.job, () => a.message);
    this.filing.add(p);
    try {
      return await p;
    } finally {
      this.filing.delete(p);
    }
  }

  /** One delivery per channel whose rules match; a task's event at most once per channel (the catalog's unique index). */
  private async fileFor(kind: EventKind, jobs: string[], taskUuid: string | null, jobUuid: string | null, message: () => Message): Promise<number> {
    const { catalog } = this.opts;
    const channels = (await catalog.notifications.channels.list()).map(parseChannel).filter((c) => matches(c.events, c.jobs, kind, jobs));
    if (!channels.length) return 0;
    const text = JSON.stringify(message());
    let filed = 0;
    for (const c of channels) {
      const ok = await catalog.notifications.deliveries.file({
        uuid: crypto.randomUUID(), channelUuid: c.uuid, event: kind, taskUuid, jobUuid,
        message: text, nextAt: null, createdAt: nowSeconds(),
      });
      if (ok) filed++;
    }
    if (filed) this.kick();
    return filed;
  }

  /** The message of an event, with the names it was told with (as they were then: a rename later does not change it). */
  render(e: TaskEvent, kind: EventKind): Message {
    const job = e.job?.name ?? undefined;
    return {
      event: kind, title: titleOf(kind, job, e.outcome), job, target: e.target?.name ?? undefined, store: e.store?.name ?? undefined,
      error: e.error ?? undefined, task: e.task, link: this.link(e.task),
      at: new Date((e.stoppedAt ?? e.startedAt ?? nowSeconds()) * 1000).toISOString(), details: e.details,
    };
  }

  link(taskUuid: string): string {
    return this.page(`/tasks/${taskUuid}`);
  }

  /** A page of the web UI as people reach it ("/jobs/UUID"). */
  page(path: string): string {
    return `${this.opts.publicUrl().replace(/\/+$/, "")}${path}`;
  }

  /** Sends a test message to a channel now; resolves with the failure's words, or undefined when sent. */
  async test(uuid: string, settings: Record<string, unknown>, kind: ChannelKind): Promise<string | undefined> {
    const m: Message = {
      event: "test", title: titleOf("test"), at: new Date().toISOString(),
      details: { Note: "Sent from Shield to check this channel. Nothing failed." }, link: this.opts.publicUrl(),
    };
    try {
      await send(kind, settings, m, `test-${uuid}`);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Starts a sending round unless one runs; one that runs goes round again. */
  private kick(): void {
    if (this.sending) { this.again = true; return; }
    this.sending = (async () => {
      do {
        this.again = false;
        try {
          await this.sendDue();
        } catch (err) {
          log.error("cannot send due notifications", describeError(err));
        }
      } while (this.again);
    })().finally(() => { this.sending = undefined; });
  }

  private async sendDue(): Promise<void> {
    const { catalog } = this.opts;
    for (;;) {
      const now = nowSeconds();
      const due = await catalog.notifications.deliveries.due(now, 20);
      if (!due.length) return;
      // Each delivery sent at most by one daemon at a time, and independently: one slow receiver holds no other.
      await Promise.all(due.map((d) => this.attempt(d, now)));
    }
  }

  private async attempt(d: DeliveryRow, now: number): Promise<void> {
    const { catalog } = this.opts;
    if (!(await catalog.notifications.deliveries.lease(d, now + Math.ceil(SEND_TIMEOUT_MS / 1000) * 4))) return;
    const attempts = d.attempts + 1;
    const row = await catalog.notifications.channels.get(d.channelUuid);
    if (!row) {
      await catalog.notifications.deliveries.attemptFailed(d.uuid, attempts, "the channel was deleted", null);
      return;
    }
    try {
      const settings = JSON.parse(this.opts.secrets.open(row.settings).endpoint) as Record<string, unknown>;
      await send(row.kind as ChannelKind, settings, JSON.parse(d.message) as Message, d.uuid);
      await catalog.notifications.deliveries.delivered(d.uuid, attempts, nowSeconds());
      log.info("notification delivered", { channel: row.name, event: d.event, task: d.taskUuid, attempts });
    } catch (err) {
      const error = (err as Error).message;
      const last = attempts >= this.retry.attempts;
      const wait = Math.min(this.retry.baseS * 2 ** (attempts - 1), this.retry.maxS);
      await catalog.notifications.deliveries.attemptFailed(d.uuid, attempts, error, last ? null : nowSeconds() + wait);
      log.warn(last ? "notification given up" : "notification not delivered; will try again", {
        channel: row.name, event: d.event, task: d.taskUuid, attempts, ...(last ? {} : { retryInS: wait }), error,
      });
    }
  }
}
