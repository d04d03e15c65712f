// Rules of restore drills (issue 16). A job's drill restores its newest archive
// into a scratch target, verifies it, and cleans the scratch target again. The
// cleaning destroys what the scratch target holds, so a target is taken as
// scratch only when nothing else depends on it: not the job's own target, not
// any job's target, not another drill's scratch target; and of the same plugin
// as the job's target (the archive must restore into it).
import { nowSeconds, type Catalog, type DrillResultRow, type DrillRow, type Page } from "../catalog/index.ts";
import { Conflict, InvalidInput, NotFound } from "./errors.ts";
import type { TaskFiler } from "./tasks.ts";

export interface DrillRequest { target: string; schedule: string }

export function drillRules(catalog: Catalog, fileTask: TaskFiler, changed: () => void = () => {}) {
  async function job(uuid: string) {
    const j = await catalog.jobs.get(uuid);
    if (!j) throw new NotFound("job", uuid);
    return j;
  }

  return {
    async get(jobUuid: string): Promise<{ drill: DrillRow | undefined; last: DrillResultRow | undefined }> {
      await job(jobUuid);
      return { drill: await catalog.drills.get(jobUuid), last: await catalog.drills.last(jobUuid) };
    },
    /** Creates or replaces the job's drill; its first run is the schedule's next time. */
    async set(jobUuid: string, req: DrillRequest): Promise<void> {
      const j = await job(jobUuid);
      const [target, schedule] = await Promise.all([catalog.targets.get(req.target), catalog.schedules.get(req.schedule)]);
      if (!target) throw new InvalidInput(`target: no target with uuid ${req.target}`, { target: `no target with uuid ${req.target}` });
      if (!schedule) throw new InvalidInput(`schedule: no schedule with uuid ${req.schedule}`, { schedule: `no schedule with uuid ${req.schedule}` });
      if (target.uuid === j.targetUuid) {
        throw new InvalidInput("target: a drill restores into a scratch target, never the job's own target (the drill empties it afterwards)", { target: "is the job's own target" });
      }
      if (target.plugin !== j.targetPlugin) {
        throw new InvalidInput(`target: the scratch target must use the job's target plugin "${j.targetPlugin}" (it uses "${target.plugin}")`, { target: `must use plugin ${j.targetPlugin}` });
      }
      const users = await catalog.jobs.list({ target: target.uuid }, {});
      if (users.length) throw new Conflict(`target "${target.name}" is the target of job "${users[0]!.name}": a drill's scratch target is emptied after each drill, so it must be no job's target`);
      const other = await catalog.drills.byScratchTarget(target.uuid);
      if (other && other.jobUuid !== jobUuid) throw new Conflict(`target "${target.name}" is already the scratch target of another job's drill`);
      await catalog.drills.set({ jobUuid, scratchTargetUuid: target.uuid, scheduleUuid: schedule.uuid, nextDueAt: null, createdAt: nowSeconds() });
      changed();
    },
    async delete(jobUuid: string): Promise<void> {
      await job(jobUuid);
      if (!(await catalog.drills.delete(jobUuid))) throw new NotFound("drill of job", jobUuid);
      changed();
    },
    /** Files a drill now; the supervisor picks the newest valid archive when it runs it. */
    async run(jobUuid: string, owner: string, requestedBy: string | null): Promise<string> {
      const j = await job(jobUuid);
      const drill = await catalog.drills.get(jobUuid);
      if (!drill) throw new Conflict(`job "${j.name}" has no drill; set one first (PUT /v1/job/${jobUuid}/drill)`);
      return fileTask({ op: "drill", owner, requestedBy, jobUuid, targetUuid: drill.scratchTargetUuid, storeUuid: j.storeUuid, archiveUuid: null });
    },
    async history(jobUuid: string, page: Page): Promise<DrillResultRow[]> {
      await job(jobUuid);
      return catalog.drills.history(jobUuid, page);
    },
  };
}
