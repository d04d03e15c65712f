// A restore drill (issue 16), as the supervisor runs a task with op "drill":
// restore the job's newest valid archive into its drill's scratch target, timing
// the restore (the measured RTO), ask the target plugin's `verify` for figures,
// record the outcome, and empty the scratch target again with its `clean`.
//
// The cleaning destroys data, so it runs only on a target that is this job's
// drill's scratch target and no job's target (checked here again, at run time:
// the drill or the jobs may have changed since the task was filed).
import { type Catalog, type TaskRow } from "../catalog/index.ts";
import { unwrapKey } from "../pipeline/encryption.ts";
import { restore, type PipelineContext } from "../pipeline/run.ts";
import type { PluginRegistry } from "../plugin-host/index.ts";
import type { TaskLog } from "./tasklog.ts";

export interface DrillDeps {
  catalog: Catalog;
  plugins: PluginRegistry;
  masterKey: Uint8Array;
  /** Opens a sealed endpoint for a plugin (and masks its secrets in the task log). */
  open(endpoint: string, what: string): string;
  /** The supervisor's error for a task that cannot run (said in one line, no stack in the log). */
  failed(message: string): Error;
}

/** A drill that failed after it started restoring: what it measured still goes to the notification. */
export class DrillFailed extends Error {
  constructor(message: string, readonly details: Record<string, unknown>) { super(message); }
}

export interface DrillOutcome { archiveUuid: string; details: Record<string, unknown> }

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export async function runDrill(d: DrillDeps, task: TaskRow, ctx: PipelineContext, tlog: TaskLog): Promise<DrillOutcome> {
  const { catalog } = d;
  const job = task.jobUuid ? await catalog.jobs.get(task.jobUuid) : undefined;
  if (!job) throw d.failed(`job ${task.jobUuid} no longer exists`);
  const drill = await catalog.drills.get(job.uuid);
  if (!drill) throw d.failed(`job "${job.name}" has no drill any more`);
  if (drill.scratchTargetUuid !== task.targetUuid) throw d.failed(`target ${task.targetUuid} is no longer the scratch target of job "${job.name}"'s drill`);
  const target = await catalog.targets.get(drill.scratchTargetUuid);
  if (!target) throw d.failed(`scratch target ${drill.scratchTargetUuid} no longer exists`);
  const owners = await catalog.jobs.list({ target: target.uuid }, {});
  if (owners.length) throw d.failed(`target "${target.name}" is now the target of job "${owners[0]!.name}": a drill never restores into (nor empties) a job's target`);
  const archiveUuid = await catalog.drills.newestArchive(job.uuid);
  const archive = archiveUuid ? await catalog.archives.get(archiveUuid) : undefined;
  if (!archive) throw d.failed(`job "${job.name}" has no valid archive to drill`);
  if (!archive.storePlugin || archive.storeEndpoint === null) throw d.failed(`store ${archive.storeUuid} no longer exists`);

  if (archive.targetEndpoint) d.open(archive.targetEndpoint, `target "${archive.targetName}"`);
  const targetEndpoint = d.open(target.endpoint, `scratch target "${target.name}"`);
  const storeEndpoint = d.open(archive.storeEndpoint, `store "${archive.storeName}"`);
  const bound = await d.plugins.target({ plugin: target.plugin, endpoint: targetEndpoint });
  const details: Record<string, unknown> = { Archive: archive.uuid, "Scratch target": target.name };
  let rtoMs: number | null = null;
  let verify = "not run";
  let figures: Record<string, unknown> | null = null;
  let failure: Error | undefined;

  tlog.line(`drill: restoring archive ${archive.uuid} of job "${job.name}" (taken ${new Date(archive.takenAt * 1000).toISOString()}) into scratch target "${target.name}" (${target.plugin})`);
  try {
    const started = performance.now();
    const r = await restore(ctx, { plugin: archive.storePlugin, endpoint: storeEndpoint }, { plugin: target.plugin, endpoint: targetEndpoint }, {
      storeKey: archive.storeKey, sha256: archive.sha256, size: archive.size, compression: archive.compression, cipher: archive.cipher,
      dataKey: archive.encryptionKey ? unwrapKey(d.masterKey, archive.encryptionKey) : null,
    });
    rtoMs = Math.round(performance.now() - started);
    details["Restore time (RTO)"] = seconds(rtoMs);
    tlog.line(`drill: restored${r.rawSize === null ? "" : ` ${r.rawSize} bytes`} in ${seconds(rtoMs)} (the measured RTO); checksum and authentication verified`);
    const v = await bound.verify(ctx.signal);
    if (v === "unsupported") {
      verify = `plugin ${target.plugin} offers no verify action: the restore itself is all that was checked`;
    } else {
      verify = v.summary || "verified";
      figures = v.figures;
    }
    details.Verified = verify;
    tlog.line(`drill: ${verify}`);
  } catch (err) {
    failure = err as Error;
  } finally {
    // Whatever happened, the scratch target is emptied: a half-restored drill must not linger.
    try {
      const c = await bound.clean();
      tlog.line(c === "unsupported" ? `drill: plugin ${target.plugin} offers no clean action: the scratch target keeps what was restored` : `drill: ${c || "scratch target emptied"}`);
    } catch (err) {
      tlog.line(`drill: could not empty the scratch target: ${(err as Error).message}`);
    }
  }
  await catalog.drills.record({
    taskUuid: task.uuid, jobUuid: job.uuid, archiveUuid: archive.uuid, ok: !failure, rtoMs,
    figures: figures === null ? null : JSON.stringify(figures), verify, error: failure ? failure.message.split("\n")[0]! : null, finishedMs: Date.now(),
  });
  if (failure) {
    // A cancel stays a cancel; anything else fails the drill with what it measured.
    if (ctx.signal.aborted) throw failure;
    throw new DrillFailed(failure.message, details);
  }
  return { archiveUuid: archive.uuid, details };
}
