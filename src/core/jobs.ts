// Rules for jobs: what a job may refer to, and filing its backup tasks.
import { nowSeconds, type Catalog, type JobInput, type JobView } from "../catalog/index.ts";
import { InvalidInput, NotFound } from "./errors.ts";
import { uniqueNames } from "./names.ts";
import type { Compression } from "../pipeline/compression.ts";
import type { TaskFiler } from "./tasks.ts";
import { resolveCopies, type CopySpec } from "./copies.ts";
import { parseWindow } from "../scheduler/window.ts";

export interface JobRequest {
  name: string;
  summary: string;
  target: string;
  store: string;
  /** null: run by hand only; left out: none on create, unchanged on update. */
  schedule?: string | null;
  retention: string;
  priority?: number;
  compression?: Compression;
  /** Extra stores (uuids) each archive is copied to, each with its retention policy; left out of an update, they stay. */
  copies?: CopySpec[];
  /** "HH:MM-HH:MM" (daemon's zone) or "" (any time); left out of an update, it stays. */
  run_window?: string;
}

export const DEFAULT_PRIORITY = 50;
export const DEFAULT_COMPRESSION: Compression = "zstd";

/** Refuses (Conflict) moving a job to a policy that would purge too many of its archives at once (core/retention.ts). */
export type JobMoveCheck = (job: JobView, toPolicy: string) => Promise<void>;

export function jobRules(catalog: Catalog, fileTask: TaskFiler, changed: () => void = () => {}, checkMove?: JobMoveCheck) {
  /** Checks the job's references and turns the request into catalog columns. */
  async function resolve(req: JobRequest, priority: number, compression: Compression, current?: JobView): Promise<JobInput> {
    const missing: Record<string, string> = {};
    const scheduleUuid = req.schedule === undefined ? (current?.scheduleUuid ?? null) : req.schedule;
    const [target, store, schedule, retention] = await Promise.all([
      catalog.targets.get(req.target), catalog.stores.get(req.store),
      scheduleUuid === null ? null : catalog.schedules.get(scheduleUuid), catalog.retention.get(req.retention),
    ]);
    if (!target) missing.target = `no target with uuid ${req.target}`;
    if (!store) missing.store = `no store with uuid ${req.store}`;
    if (scheduleUuid !== null && !schedule) missing.schedule = `no schedule with uuid ${scheduleUuid}`;
    if (!retention) missing.retention = `no retention policy with uuid ${req.retention}`;
    if (Object.keys(missing).length) {
      throw new InvalidInput(Object.entries(missing).map(([k, v]) => `${k}: ${v}`).join("; "), missing);
    }
    if (req.run_window !== undefined) {
      try {
        parseWindow(req.run_window);
      } catch (err) {
        throw new InvalidInput(`run_window: ${(err as Error).message}`, { run_window: (err as Error).message });
      }
    }
    return {
      name: req.name, summary: req.summary, priority, compression,
      targetUuid: req.target, storeUuid: req.store, scheduleUuid, retentionUuid: req.retention,
      ...(req.copies !== undefined ? { copies: await resolveCopies(catalog, req.copies, req.store) } : {}),
      ...(req.run_window !== undefined ? { runWindow: req.run_window } : {}),
    };
  }

  const names = uniqueNames("job", catalog.jobs.byName);

  return {
    async get(uuid: string): Promise<JobView> {
      const job = await catalog.jobs.get(uuid);
      if (!job) throw new NotFound("job", uuid);
      return job;
    },
    async create(req: JobRequest & { paused: boolean }): Promise<string> {
      const v = await resolve(req, req.priority ?? DEFAULT_PRIORITY, req.compression ?? DEFAULT_COMPRESSION);
      await names.check(req.name);
      const uuid = crypto.randomUUID();
      await names.guard(req.name, () => catalog.jobs.create(uuid, { ...v, paused: req.paused }, nowSeconds()));
      changed();
      return uuid;
    },
    async update(uuid: string, req: JobRequest & { force?: boolean }): Promise<void> {
      const current = await this.get(uuid);
      const v = await resolve(req, req.priority ?? current.priority, req.compression ?? (current.compression as Compression), current);
      if (!req.force) await checkMove?.(current, v.retentionUuid);
      await names.check(req.name, uuid);
      if (!(await names.guard(req.name, () => catalog.jobs.update(uuid, v)))) throw new NotFound("job", uuid);
      changed();
    },
    async delete(uuid: string): Promise<void> {
      if (!(await catalog.jobs.delete(uuid))) throw new NotFound("job", uuid);
      changed();
    },
    async setPaused(uuid: string, paused: boolean): Promise<void> {
      if (!(await catalog.jobs.setPaused(uuid, paused))) throw new NotFound("job", uuid);
      changed();
    },
    /** Files an ad hoc backup task; a paused job can still be run by hand. */
    async run(uuid: string, owner: string, requestedBy: string | null = null): Promise<string> {
      const job = await this.get(uuid);
      return fileTask({ op: "backup", owner, requestedBy, jobUuid: job.uuid, targetUuid: job.targetUuid, storeUuid: job.storeUuid, archiveUuid: null });
    },
  };
}
