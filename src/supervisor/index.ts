// The supervisor: workers claim pending tasks from the catalog (the tasks table
// is the queue), run their pipelines, watch for cancels, and record the outcome.
// Only a task whose every stage exited 0 leaves an archive; anything else purges
// what the store received.
import { nowSeconds, type Catalog, type ForeignTask, type JobView, type Runner, type TaskRow } from "../catalog/index.ts";
import { describeError, log } from "../log.ts";
import { backup, Canceled, PipelineFailed, purge, restore, verifyStored, type ArchiveToRestore, type BackupResult, type Endpoint, type PipelineContext } from "../pipeline/run.ts";
import { namesPartialBlobs, partialKey } from "../pipeline/partial.ts";
import { unwrapKey, wrapKey } from "../pipeline/encryption.ts";
import { EndpointSecrets, SecretUnreadable } from "../pipeline/endpoint-secrets.ts";
import { withRetry, type PluginRegistry } from "../plugin-host/index.ts";
import type { Compression } from "../pipeline/compression.ts";
import type { AgentDirectory, AgentTarget } from "../agent/directory.ts";
import { secretsOf, TaskLog } from "./tasklog.ts";
import { purgeArchive } from "./purge.ts";
import { copyArchive, fileCopies, purgeCopy, rateOf } from "./copy.ts";
import { deadHere, newRunner, runnerLabel } from "./runner.ts";
import { DrillFailed, runDrill } from "./drill.ts";
import { eventName, type TaskEvent, type TaskEventBus } from "../core/task-events.ts";
import { ProgressBoard } from "./progress.ts";
import { measure } from "../pipeline/progress.ts";

/** A task may run this long before it is failed and its processes killed (--task-timeout). */
export const DEFAULT_TASK_TIMEOUT_MS = 12 * 3600 * 1000;
/** How often a daemon says it still runs its tasks. */
export const DEFAULT_HEARTBEAT_MS = 5000;
/**
 * A running task whose heartbeat is older than this is taken for dead and failed
 * by any daemon on the catalog: many heartbeats must be missed (a slow catalog,
 * a paused VM) before a live task is failed.
 */
export const DEFAULT_STALE_AFTER_MS = 60_000;
/** How often a daemon looks for tasks whose runner died (besides at start). */
export const DEFAULT_RECOVER_EVERY_MS = 30_000;

export interface SupervisorOptions {
  catalog: Catalog;
  plugins: PluginRegistry;
  masterKey: Uint8Array;
  workers: number;
  /** How often running tasks look for a cancel (ms). */
  pollMs?: number;
  /**
   * How often idle workers look for work (ms). Tasks this daemon files wake them
   * at once; polling only finds those another daemon sharing the catalog filed,
   * so it can be slow, and an idle daemon costs almost nothing.
   */
  idlePollMs?: number;
  progressEvery?: number;
  /** Encrypt new archives (on unless turned off for tests of plaintext stores). */
  encrypt?: boolean;
  /** A task running longer is failed and every process of it killed (default 12 h). */
  taskTimeoutMs?: number;
  /** How often this daemon refreshes the heartbeat of its running tasks (ms). */
  heartbeatMs?: number;
  /** A running task of another runner whose heartbeat is older than this is failed (ms). */
  staleAfterMs?: number;
  /** How often to look for such tasks after the one look at start (ms). */
  recoverEveryMs?: number;
  /** Reaches the agents targets name (src/agent); without it, such a target's task fails. */
  agents?: AgentDirectory;
  /** Told of each backup's start and each task's outcome once it is recorded (notifications, metrics); never waited for. */
  outcomes?: TaskEventBus;
  /** Where the running tasks' progress is kept for the API (a board of its own when left out). */
  progress?: ProgressBoard;
  /** How often a running task's progress is measured (ms; default 1000). */
  progressTickMs?: number;
}

class TaskFailure extends Error {}

/** The abort reason of a task that ran past the task timeout: it fails (not cancels) with these words. */
class TimedOut extends PipelineFailed {}

/** The one line a failed task's `error` shows: the first line of its reason, masked as the log masks it, within bounds. */
export function errorLine(message: string, mask: (s: string) => string): string {
  const first = message.split("\n").map((l) => l.trim()).find(Boolean) ?? "failed";
  const line = mask(first);
  return line.length > 500 ? `${line.slice(0, 499)}…` : line;
}

/**
 * "target backup failed (exit 1)" says which stage, not why: the stage's own last
 * words on stderr say why, so they follow it ("…: pg_dump: connection refused").
 */
export function withStderr(message: string, said: Map<string, string>): string {
  const m = /^(.+) failed \(exit \d+\)$/.exec(message);
  const last = m && said.get(m[1]!);
  return last ? `${message}: ${last}` : message;
}

const ORPHANED = "the daemon stopped while this task ran (crash or kill); it was not finished";

const TAKEN_OVER = "another daemon found this task's runner dead (no heartbeat for longer than the grace) and failed it; every process of it here was killed";

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

export class Supervisor {
  private running = new Map<string, AbortController>();
  /** Opens the endpoint secrets the catalog keeps sealed, for the plugins of a pipeline alone. */
  private secrets?: EndpointSecrets;
  private stopped = false;
  private loops: Promise<void>[] = [];
  /** One wake-up per idle worker: several tasks filed at once wake several workers. */
  private idle = new Set<() => void>();
  /** Counts nudges: a worker that was busy claiming when one came looks again instead of napping. */
  private nudges = 0;
  private cancelWatch: ReturnType<typeof setInterval> | undefined;
  private heartbeats: ReturnType<typeof setInterval> | undefined;
  private recoveries: ReturnType<typeof setInterval> | undefined;
  private recovering: Promise<void> | undefined;
  /** Each task's last event on its way to the bus (see tell). */
  private telling = new Map<string, Promise<void>>();
  /** This daemon process, as recorded on the tasks it claims. */
  readonly runner: Runner = newRunner();
  /** The latest progress of each task running here (see progress.ts). */
  readonly progress: ProgressBoard;

  constructor(private readonly opts: SupervisorOptions) {
    this.progress = opts.progress ?? new ProgressBoard();
  }

  /** Fails tasks dead daemons left running, then starts the workers, the heartbeat and the periodic recovery. */
  async start(): Promise<void> {
    await this.recover();
    const poll = this.opts.pollMs ?? 500;
    this.cancelWatch = setInterval(() => void this.checkCancels(), poll);
    this.heartbeats = setInterval(() => void this.heartbeat(), this.opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    // Without a restart, a task whose daemon died while the others live on is found here.
    this.recoveries = setInterval(() => {
      this.recovering ??= this.recover()
        .catch((err) => log.error("cannot look for tasks of dead daemons", describeError(err)))
        .finally(() => { this.recovering = undefined; });
    }, this.opts.recoverEveryMs ?? DEFAULT_RECOVER_EVERY_MS);
    const idlePoll = this.opts.idlePollMs ?? 2000;
    for (let i = 0; i < this.opts.workers; i++) this.loops.push(this.worker(idlePoll));
  }

  /** Tells an idle worker a task was just filed (or freed), so it need not wait for the next poll. */
  nudge(): void {
    this.nudges++;
    this.wakeOne();
  }

  /**
   * One idle worker: woken all, each would run the claim (the catalog's costliest query)
   * for the one task, and all but one lose the race. A worker that claims a task wakes the
   * next (worker, below), so several tasks filed with one nudge (a scheduler's batch, a
   * job's copies) still start on several workers at once.
   */
  private wakeOne(): void {
    const [wake] = this.idle;
    wake?.();
  }

  /** Stops claiming, cancels what runs (its tasks fail as interrupted), and waits for the workers. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.cancelWatch);
    clearInterval(this.recoveries);
    for (const ac of this.running.values()) ac.abort(new Error("the daemon is shutting down"));
    for (const wake of [...this.idle]) wake();
    // The heartbeat goes on until every task is recorded: a slow teardown must not look like a death.
    await Promise.all([...this.loops, this.recovering]);
    clearInterval(this.heartbeats);
    // Events still on their way are told before stopping, but a catalog that hangs (rather
    // than fails) in their name lookups must not hold the shutdown: 5 s, then go.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<void>((resolve) => { timer = setTimeout(resolve, 5000); });
    await Promise.race([Promise.all(this.telling.values()), bound]);
    clearTimeout(timer);
  }

  private async heartbeat(): Promise<void> {
    try {
      await this.opts.catalog.tasks.heartbeat(this.runner.id);
    } catch (err) {
      // Missing a few is harmless: only a heartbeat older than the grace makes a task look dead.
      log.warn("cannot refresh the heartbeat of running tasks", describeError(err));
    }
  }

  private async worker(poll: number): Promise<void> {
    while (!this.stopped) {
      let task: TaskRow | undefined;
      const nudged = this.nudges;
      try {
        task = await this.opts.catalog.tasks.claim(nowSeconds(), this.runner);
      } catch (err) {
        log.error("cannot claim a task", describeError(err));
      }
      if (!task) {
        // A task filed while the claim ran: its nudge found no idle worker, this one looks again.
        if (this.nudges !== nudged) continue;
        await new Promise<void>((resolve) => {
          const wake = () => { clearTimeout(timer); this.idle.delete(wake); resolve(); };
          const timer = setTimeout(wake, poll);
          this.idle.add(wake);
        });
        continue;
      }
      // There may be more: the next idle worker looks too.
      this.wakeOne();
      try {
        await this.run(task);
      } catch (err) {
        // Only the catalog can fail here (recording an outcome); the worker must live on.
        log.error("cannot record a task's outcome", { task: task.uuid, ...describeError(err) });
      }
      // A finished task may unblock others waiting for its target or its store: this worker
      // looks again at once, and one idle worker with it.
      this.nudge();
    }
  }

  /** A task was just canceled through this daemon's API: stop it now if it runs here. */
  canceled(uuid: string): void {
    this.running.get(uuid)?.abort(new Canceled("canceled"));
  }

  private async checkCancels(): Promise<void> {
    for (const [uuid, ac] of this.running) {
      try {
        const h = await this.opts.catalog.tasks.holder(uuid);
        if (h?.status === "canceled") ac.abort(new Canceled("canceled"));
        // This daemon was taken for dead (stalled past the grace) and another failed the task: stop it here too.
        else if (h && (h.status !== "running" || h.runnerId !== this.runner.id)) ac.abort(new PipelineFailed(TAKEN_OVER));
      } catch (err) {
        log.warn("cannot check a task for cancel", { task: uuid, ...describeError(err) });
      }
    }
  }

  private async run(task: TaskRow): Promise<void> {
    const { catalog } = this.opts;
    const tlog = new TaskLog(catalog, task.uuid);
    const ac = new AbortController();
    this.running.set(task.uuid, ac);
    // Claimed while stop() ran (it aborted only the tasks already here): fail it as
    // interrupted now, rather than run it to its end while the shutdown waits.
    if (this.stopped) ac.abort(new Error("the daemon is shutting down"));
    // Each stage's last stderr line ("target backup: pg_dump: connection refused"): the
    // why of a stage that "failed (exit 1)", for the task's one-line error.
    const said = new Map<string, string>();
    const ctx: PipelineContext = {
      plugins: this.opts.plugins, signal: ac.signal, progressEvery: this.opts.progressEvery,
      log: (l) => {
        tlog.line(l);
        const colon = l.indexOf(": ");
        if (colon > 0 && l.slice(colon + 2).trim()) said.set(l.slice(0, colon), l.slice(colon + 2));
      },
      onProgress: (p) => this.progress.set(task.uuid, p), progressTickMs: this.opts.progressTickMs,
    };
    // Shown at once, before the first stage starts: a task page never looks idle.
    this.progress.set(task.uuid, measure("starting", 0, { total: null, estimate: false, counts: "raw" }, Date.now()));
    log.info("task started", { task: task.uuid, op: task.op });
    const timeoutMs = this.opts.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS;
    // Past the timeout the task is failed through the cancel path: every process of it is killed.
    const timeout = setTimeout(() => {
      log.warn("task timed out", { task: task.uuid, op: task.op, timeoutMs });
      ac.abort(new TimedOut(`timed out after ${formatDuration(timeoutMs)} (the task timeout, --task-timeout); every process of the task was killed`));
    }, timeoutMs);
    let outcome: "done" | "failed" | "canceled" = "failed";
    let archiveUuid: string | undefined;
    let error: string | null = null;
    let details: Record<string, unknown> | undefined;
    if (task.op === "backup") this.tell(task, "running", null, task.archiveUuid, null);
    try {
      if (task.op === "backup") archiveUuid = await this.backup(task, ctx, tlog);
      else if (task.op === "restore") await this.restore(task, ctx, tlog);
      else if (task.op === "drill") {
        const r = await runDrill({
          catalog, plugins: this.opts.plugins, masterKey: this.opts.masterKey,
          open: (e, what) => this.open(e, what, tlog), failed: (m) => new TaskFailure(m),
        }, task, ctx, tlog);
        archiveUuid = r.archiveUuid;
        details = r.details;
      }
      else if (task.op === "purge") await purgeArchive(catalog, task, ctx, tlog, (e, what) => this.open(e, what, tlog));
      else if (task.op === "copy") await copyArchive(catalog, task, ctx, tlog, (e, what) => this.open(e, what, tlog));
      else if (task.op === "purge_copy") await purgeCopy(catalog, task, ctx, tlog, (e, what) => this.open(e, what, tlog));
      else throw new TaskFailure(`unknown operation "${task.op}"`);
      outcome = "done";
    } catch (err) {
      // Only a cancel request makes a canceled task; a shutdown is a failure ("interrupted").
      outcome = err instanceof Canceled || ac.signal.reason instanceof Canceled ? "canceled" : "failed";
      tlog.line(outcome === "canceled" ? "canceled: every process of the task was killed" : `FAILED: ${(err as Error).message}`);
      if (outcome === "failed") error = errorLine(withStderr(String((err as Error).message ?? err), said), (l) => tlog.mask(l));
      if (err instanceof DrillFailed) details = err.details;
      if (!(err instanceof TaskFailure || err instanceof PipelineFailed || err instanceof DrillFailed)) log.error("task failed unexpectedly", { task: task.uuid, ...describeError(err) });
      const key = err instanceof PipelineFailed ? err.storeKey : undefined;
      if (key) await this.purgePartial(task, key, tlog);
    } finally {
      clearTimeout(timeout);
      this.running.delete(task.uuid);
    }
    tlog.line(outcome === "done" ? "task done" : `task ${outcome}`);
    await tlog.close();
    const stoppedAt = nowSeconds();
    let recorded: boolean;
    try {
      recorded = outcome === "canceled" || await this.record(task, () => catalog.tasks.finish(task.uuid, outcome as "done" | "failed", stoppedAt, archiveUuid, this.runner.id, error));
    } finally {
      // Only now: until the row says how it ended, the bar (at its last measure) stays.
      this.progress.drop(task.uuid);
    }
    log.info("task finished", { task: task.uuid, op: task.op, outcome });
    // Only an outcome that is this daemon's to tell (not one another daemon took over).
    if (recorded) this.tell(task, outcome, stoppedAt, archiveUuid ?? task.archiveUuid, error, details);
  }

  private async backup(task: TaskRow, ctx: PipelineContext, tlog: TaskLog): Promise<string> {
    const { catalog } = this.opts;
    const job = task.jobUuid ? await catalog.jobs.get(task.jobUuid) : undefined;
    if (!job) throw new TaskFailure(`job ${task.jobUuid} no longer exists`);
    const targetEndpoint = this.open(job.targetEndpoint, `target "${job.targetName}"`, tlog);
    const storeEndpoint = this.open(job.storeEndpoint, `store "${job.storeName}"`, tlog);
    const encrypt = this.opts.encrypt ?? true;
    tlog.line(`backing up target "${job.targetName}" (${job.targetPlugin}) to store "${job.storeName}" (${job.storePlugin}); compression ${job.compression}, encryption ${encrypt ? "on" : "off"}`);
    const agent = await this.agentFor(job.targetAgent, job.targetName, job.targetPlugin, tlog);
    const rate = rateOf({ bandwidth: job.storeBandwidth }, { bandwidth: job.targetBandwidth });
    if (rate) tlog.line(`bandwidth limit: at most ${rate} bytes/s (the store's or target's, the lower)`);
    const takenAt = nowSeconds();
    // The key is recorded as soon as the store names it: should the daemon die before the archive row exists, recovery purges this blob.
    const r = await backup(ctx, { plugin: job.targetPlugin, endpoint: targetEndpoint, agent }, { plugin: job.storePlugin, endpoint: storeEndpoint },
      {
        compression: job.compression as Compression, encrypt, onStored: (key) => catalog.tasks.setStoreKey(task.uuid, key),
        // What the store keeps until the blob is complete is named after the task: should this daemon die, recovery purges it.
        partialId: task.uuid, rate,
        estimate: await this.lastSizes(job),
      });
    const uuid = crypto.randomUUID();
    try {
      // A cancel that came while the pipeline finished still wins: no archive for a canceled task,
      // nor for one another daemon failed meanwhile (it took this daemon for dead).
      const h = await catalog.tasks.holder(task.uuid);
      if (h?.status === "canceled") throw new Canceled("canceled");
      if (h?.status !== "running" || h.runnerId !== this.runner.id) throw new PipelineFailed(TAKEN_OVER);
      await this.recordArchive(uuid, job, takenAt, r);
    } catch (err) {
      const failure = err instanceof PipelineFailed ? err : new PipelineFailed(`cannot record the archive: ${(err as Error).message}`);
      failure.storeKey = r.storeKey;
      throw failure;
    }
    // The archive is recorded: from here the task is done. The key left on the task
    // if this fails is harmless (recovery finds the archive that holds it).
    await catalog.tasks.setStoreKey(task.uuid, null).catch((err) => {
      log.warn("cannot clear a finished backup's store key", { task: task.uuid, ...describeError(err) });
    });
    const raw = r.rawSize === null ? "" : ` (${r.rawSize} before compression and encryption)`;
    tlog.line(`archive ${uuid}: ${r.size} bytes stored${raw}, sha256 ${r.sha256}`);
    // The copies to the job's other stores, each its own task (src/supervisor/copy.ts).
    try {
      if (await fileCopies(catalog, job, uuid, tlog)) this.nudge();
    } catch (err) {
      tlog.line(`cannot file the copies of archive ${uuid}: ${(err as Error).message}`);
    }
    return uuid;
  }

  /**
   * The agent a target names, reached and checked (its pinned key, the plugin
   * offered) before anything starts; undefined when the target names none. An
   * agent that cannot be reached fails the task: its target never runs here instead.
   */
  private async agentFor(name: string, target: string, plugin: string, tlog: TaskLog): Promise<AgentTarget | undefined> {
    if (!name) return undefined;
    if (!this.opts.agents) throw new TaskFailure(`target "${target}" runs on agent ${name}, and this daemon has no agent client`);
    try {
      const agent = await this.opts.agents.prepare(name, plugin);
      tlog.line(`target "${target}" runs on agent ${name} (its key ${agent.hostKey})`);
      return agent;
    } catch (err) {
      throw new TaskFailure(`target "${target}" runs on agent ${name}, which cannot take it: ${(err as Error).message}. Nothing ran (a target naming an agent never runs on the core)`);
    }
  }

  /**
   * An endpoint as its plugin needs it, its sealed secrets opened; every secret
   * of it (opened, or named like one) is masked in the task's log from here on.
   */
  private open(endpoint: string, what: string, tlog: TaskLog): string {
    this.secrets ??= new EndpointSecrets(this.opts.masterKey);
    let opened;
    try {
      opened = this.secrets.open(endpoint);
    } catch (err) {
      if (err instanceof SecretUnreadable) throw new TaskFailure(`the endpoint of ${what}: ${err.message}`);
      throw err;
    }
    tlog.addSecrets([...opened.secrets, ...secretsOf(opened.endpoint)]);
    return opened.endpoint;
  }

  /** The sizes of the last archive of the job's target in its store: a backup's guessed total. */
  private async lastSizes(job: JobView): Promise<{ size: number | null; rawSize: number | null } | undefined> {
    try {
      const [last] = await this.opts.catalog.archives.list({ target: job.targetUuid, store: job.storeUuid }, { limit: 1, offset: 0 });
      return last ? { size: last.size, rawSize: last.rawSize } : undefined;
    } catch {
      return undefined; // only a guess: a backup never fails for want of it
    }
  }

  private async recordArchive(uuid: string, job: JobView, takenAt: number, r: BackupResult): Promise<void> {
    await this.opts.catalog.archives.create({
      uuid, targetUuid: job.targetUuid, storeUuid: job.storeUuid, jobUuid: job.uuid, storeKey: r.storeKey,
      takenAt, expiresAt: takenAt + job.expiry, notes: "", status: "valid",
      size: r.size, rawSize: r.rawSize, sha256: r.sha256, compression: r.compression, cipher: r.cipher,
      encryptionKey: r.dataKey ? wrapKey(this.opts.masterKey, r.dataKey) : null, purgedAt: null,
    });
  }

  private async restore(task: TaskRow, ctx: PipelineContext, tlog: TaskLog): Promise<void> {
    const { catalog } = this.opts;
    const archive = task.archiveUuid ? await catalog.archives.get(task.archiveUuid) : undefined;
    if (!archive) throw new TaskFailure(`archive ${task.archiveUuid} no longer exists`);
    const copies = (await catalog.copies.of(archive.uuid)).filter((c) => c.status === "valid" && c.storeKey && c.storePlugin && c.storeEndpoint !== null);
    // An archive whose own blob was purged may still live in a copy (copies keep their own policy).
    if (archive.status !== "valid" && !copies.length) throw new TaskFailure(`archive ${archive.uuid} is ${archive.status}`);
    const target = task.targetUuid ? await catalog.targets.get(task.targetUuid) : undefined;
    if (!target) throw new TaskFailure(`target ${task.targetUuid} no longer exists`);
    // The archive's own target too: its secrets may show up in what the store or the dump says.
    if (archive.targetEndpoint) this.open(archive.targetEndpoint, `target "${archive.targetName}"`, tlog);
    const targetEndpoint = this.open(target.endpoint, `target "${target.name}"`, tlog);
    const agent = await this.agentFor(target.agent, target.name, target.plugin, tlog);
    const dataKey = archive.encryptionKey ? unwrapKey(this.opts.masterKey, archive.encryptionKey) : null;
    const base: ArchiveToRestore = { storeKey: archive.storeKey, sha256: archive.sha256, size: archive.size, compression: archive.compression, cipher: archive.cipher, dataKey, rawSize: archive.rawSize };

    // Where the blob may be read: the archive's store first, then each valid copy, oldest first.
    interface Source { what: string; store: Endpoint; key: string; bandwidth: number }
    const sources: (Source | { what: string; unavailable: string })[] = [];
    if (archive.status !== "valid") sources.push({ what: `store "${archive.storeName}"`, unavailable: `the archive is ${archive.status} there` });
    else if (!archive.storePlugin || archive.storeEndpoint === null) sources.push({ what: `store ${archive.storeUuid}`, unavailable: "the store no longer exists" });
    else sources.push({ what: `store "${archive.storeName}" (${archive.storePlugin})`, store: { plugin: archive.storePlugin, endpoint: this.open(archive.storeEndpoint, `store "${archive.storeName}"`, tlog) }, key: archive.storeKey, bandwidth: archive.storeBandwidth ?? 0 });
    for (const c of copies) {
      sources.push({ what: `the copy in store "${c.storeName}" (${c.storePlugin})`, store: { plugin: c.storePlugin!, endpoint: this.open(c.storeEndpoint!, `store "${c.storeName}"`, tlog) }, key: c.storeKey!, bandwidth: c.storeBandwidth ?? 0 });
    }
    let chosen: Source | undefined;
    for (const [i, src] of sources.entries()) {
      if ("unavailable" in src) {
        tlog.line(`not restoring from ${src.what}: ${src.unavailable}`);
        continue;
      }
      // The last source is tried by the restore's own verify pass; the others are
      // verified first, so that a failure moves on to the next before any target starts.
      if (i === sources.length - 1) { chosen = src; break; }
      try {
        tlog.line(`checking ${src.what} before the restore`);
        await verifyStored(ctx, src.store, { ...base, storeKey: src.key });
        chosen = src;
        break;
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        tlog.line(`${src.what} cannot be used: ${(err as Error).message}; trying the next copy`);
      }
    }
    if (!chosen) throw new TaskFailure(`no store holds a blob of archive ${archive.uuid} that verifies`);
    const rate = rateOf(chosen, target);
    tlog.line(`restoring archive ${archive.uuid} from ${chosen.what} to target "${target.name}" (${target.plugin})${rate ? `; at most ${rate} bytes/s` : ""}`);
    const r = await restore(ctx, chosen.store, { plugin: target.plugin, endpoint: targetEndpoint, agent }, { ...base, storeKey: chosen.key }, { rate });
    tlog.line(`restored${r.rawSize === null ? "" : ` ${r.rawSize} bytes`}; checksum and authentication verified (read from ${chosen.what})`);
  }

  /**
   * Records a task's outcome, trying again while the catalog fails: given up, the
   * task would stay running for as long as this daemon lives (its heartbeat goes
   * on, so no daemon takes it for dead) and hold its target. A daemon shutting
   * down tries a few times, then leaves the task to recovery once its heartbeat stops.
   */
  private record<T>(task: TaskRow, write: () => Promise<T>): Promise<T> {
    return withRetry({
      attempts: Infinity, baseDelayMs: 1000, maxDelayMs: 30_000,
      transient: (_err, attempt) => !(this.stopped && attempt >= 3),
      onRetry: (err, attempt, waitMs) => log.error("cannot record a task's outcome; trying again", { task: task.uuid, attempt, waitMs, ...describeError(err) }),
    }, write);
  }

  /** Purges a blob the store received for a task that did not succeed. Never throws: the outcome must still be recorded. */
  private async purgePartial(task: TaskRow, key: string, tlog: TaskLog): Promise<void> {
    await this.purgeFromStore(task, key, tlog, async (where) => {
      await this.opts.catalog.tasks.setStoreKey(task.uuid, null);
      tlog.line(`purged the partial blob ${key} from ${where}`);
    });
  }

  /**
   * Purges what the store of a backup that died kept of its unfinished blob: the
   * partial named after the task (see pipeline/partial.ts), which a store killed
   * mid-stream leaves behind. Idempotent, so a store that kept nothing is fine.
   */
  private async purgeUnfinished(task: TaskRow, tlog: TaskLog): Promise<void> {
    const key = partialKey(task.uuid);
    const store = task.storeUuid ? await this.opts.catalog.stores.get(task.storeUuid).catch(() => undefined) : undefined;
    const plugin = store && await this.opts.plugins.resolve(store.plugin).catch(() => undefined);
    // A store that does not say it keeps the contract never gets such a key: it might read it as anything.
    if (plugin && !namesPartialBlobs(plugin.info)) return;
    await this.purgeFromStore(task, key, tlog, async (where) => {
      tlog.line(`removed from ${where} whatever it kept of the unfinished blob (${key})`);
    });
  }

  /** Runs the task's store's `purge` for a key; says on the task log how it went. Never throws. */
  private async purgeFromStore(task: TaskRow, key: string, tlog: TaskLog, done: (where: string) => Promise<void>): Promise<void> {
    const { catalog } = this.opts;
    let where = `store ${task.storeUuid}`;
    try {
      const store = task.storeUuid ? await catalog.stores.get(task.storeUuid) : undefined;
      if (store) where = `store "${store.name}"`;
      if (!store) {
        tlog.line(`cannot purge blob ${key}: store ${task.storeUuid} no longer exists`);
        return;
      }
      // Recovery's log of a dead daemon's task has not seen this endpoint yet.
      const endpoint = this.open(store.endpoint, where, tlog);
      const ctx: PipelineContext = { plugins: this.opts.plugins, log: (l) => tlog.line(l), signal: new AbortController().signal };
      await purge(ctx, { plugin: store.plugin, endpoint }, key);
      await done(where);
    } catch (err) {
      tlog.line(`could not purge the partial blob ${key} from ${where}: ${(err as Error).message}`);
    }
  }

  /**
   * A daemon that died (crash, kill -9) left tasks running that nobody runs now.
   * Several daemons may share the catalog, so a running task of another runner is
   * failed only when that runner is known dead: its heartbeat is older than the
   * grace, or it ran on this machine and its process is gone (see runner.ts).
   * Never a task of this runner. Runs at start and every recoverEveryMs.
   */
  private async recover(): Promise<void> {
    const { catalog } = this.opts;
    const staleAfterMs = this.opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    let failed = 0;
    for (const seen of await catalog.tasks.foreignRunning(this.runner.id, Math.ceil(staleAfterMs / 1000))) {
      const gone = deadHere(seen, this.runner.pidSpace);
      if (!seen.stale && !gone) continue;
      // Only one daemon wins a task (the others, or a runner that just beat again, leave it be).
      const task = await catalog.tasks.takeOver(seen, this.runner);
      if (!task) continue;
      await this.failOrphan(task, seen, gone, staleAfterMs);
      failed++;
    }
    if (failed) this.nudge(); // their targets are free again
  }

  private async failOrphan(task: TaskRow, seen: ForeignTask, gone: boolean, staleAfterMs: number): Promise<void> {
    const { catalog } = this.opts;
    const tlog = new TaskLog(catalog, task.uuid);
    const who = runnerLabel(seen);
    tlog.line(who === null
      ? "found running with no heartbeat (left by a daemon older than heartbeats)"
      : gone ? `its daemon (${who}) is no longer running`
      : `its daemon (${who}) sent no heartbeat for longer than ${formatDuration(staleAfterMs)}`);
    tlog.line(`FAILED: ${ORPHANED}`);
    // It may have died after recording the archive and before clearing the key: that blob is the archive's.
    const archive = task.storeKey && task.storeUuid ? await this.record(task, () => catalog.archives.findByStoreKey(task.storeUuid!, task.storeKey!)) : undefined;
    if (archive) tlog.line(`its archive ${archive} was recorded before the daemon stopped; the blob is kept`);
    else {
      if (task.storeKey) await this.purgePartial(task, task.storeKey, tlog);
      // Killed before it named its blob, the store may have left part of one: repeated crashes must not fill the store.
      if (task.op === "backup" || task.op === "copy") await this.purgeUnfinished(task, tlog);
    }
    // A copy whose task died is failed: its blob, if any, was purged just now.
    if (task.op === "copy" && task.archiveUuid && task.storeUuid) {
      const copy = await catalog.copies.get(task.archiveUuid, task.storeUuid).catch(() => undefined);
      if (copy?.status === "pending") await catalog.copies.markFailed(copy.uuid, "the daemon stopped while the copy ran (crash or kill)").catch(() => {});
    }
    await tlog.close();
    const stoppedAt = nowSeconds();
    if (await this.record(task, () => catalog.tasks.finish(task.uuid, "failed", stoppedAt, undefined, this.runner.id, ORPHANED))) {
      this.tell(task, "failed", stoppedAt, task.archiveUuid, ORPHANED);
    }
    log.warn("failed a task left running by a dead daemon", { task: task.uuid, runner: who, why: gone ? "process gone" : "heartbeat stale" });
  }

  /**
   * Tells the event bus (core/task-events.ts) of a backup's start (outcome
   * "running", stoppedAt null) or a task's end, with the names of its job, target
   * and store as they are now. In the background: reading the names never delays
   * the worker, and a name the catalog cannot give is told as null. A task's events
   * are told in order (its end after its start, for the ping channels), and stop()
   * waits for those on their way, so that none is lost to a shutdown.
   */
  private tell(task: TaskRow, outcome: TaskEvent["outcome"], stoppedAt: number | null, archive: string | null, error: string | null, details?: Record<string, unknown>): void {
    const bus = this.opts.outcomes;
    if (!bus) return;
    const { catalog } = this.opts;
    // A name the catalog cannot give (a row deleted, a read failing) is the archive's record of it, or null.
    const named = async (uuid: string | null, read: (uuid: string) => Promise<{ name: string } | undefined>, recorded?: string | null) =>
      (uuid ? { uuid, name: (await read(uuid).catch(() => undefined))?.name ?? recorded ?? null } : null);
    const told = (async () => {
      await this.telling.get(task.uuid);
      const a = archive ? await catalog.archives.get(archive).catch(() => undefined) : undefined;
      const [job, target, store] = await Promise.all([
        named(task.jobUuid, (u) => catalog.jobs.get(u)),
        named(task.targetUuid ?? a?.targetUuid ?? null, (u) => catalog.targets.get(u), a?.targetName),
        named(task.storeUuid ?? a?.storeUuid ?? null, (u) => catalog.stores.get(u), a?.storeName),
      ]);
      bus.emit({
        name: outcome === "running" ? "backup_started" : eventName(task.op, outcome), task: task.uuid, op: task.op, outcome,
        job, target, store, archive, startedAt: task.startedAt, stoppedAt,
        durationS: task.startedAt === null || stoppedAt === null ? null : stoppedAt - task.startedAt,
        size: task.op === "backup" && outcome === "done" ? a?.size ?? null : null,
        error, ...(details ? { details } : {}),
      });
    })().catch((err) => log.error("cannot tell a task's outcome", { task: task.uuid, ...describeError(err) }))
      .finally(() => { if (this.telling.get(task.uuid) === told) this.telling.delete(task.uuid); });
    this.telling.set(task.uuid, told);
  }
}
