// Rules for tasks: filing them (the tasks table is the queue) and canceling them.
import { nowSeconds, type Catalog, type TaskRow } from "../catalog/index.ts";
import { Conflict, NotFound } from "./errors.ts";

export type TaskRequest = Pick<TaskRow, "op" | "owner" | "jobUuid" | "archiveUuid" | "targetUuid" | "storeUuid">;

export type TaskFiler = (req: TaskRequest) => Promise<string>;

/** Files tasks into the queue, then tells whoever runs them (the supervisor) to look. */
export function taskFiler(catalog: Catalog, onFiled: () => void = () => {}): TaskFiler {
  return async (req) => {
    const uuid = crypto.randomUUID();
    await catalog.tasks.create({ uuid, ...req, requestedAt: nowSeconds() });
    onFiled();
    return uuid;
  };
}

/**
 * `onCanceled` tells this daemon's supervisor at once, so a task it runs stops
 * without waiting for its next look at the catalog (which other daemons sharing
 * the catalog still rely on).
 */
export function taskRules(catalog: Catalog, onCanceled: (uuid: string) => void = () => {}) {
  return {
    async get(uuid: string): Promise<TaskRow> {
      const task = await catalog.tasks.get(uuid);
      if (!task) throw new NotFound("task", uuid);
      return task;
    },
    /** Pending tasks never start; running ones are stopped by the supervisor, which watches for this status. */
    async cancel(uuid: string): Promise<void> {
      const task = await this.get(uuid);
      if (!(await catalog.tasks.cancel(uuid, nowSeconds()))) {
        const now = (await catalog.tasks.get(uuid))?.status ?? task.status;
        throw new Conflict(`task ${uuid} is already ${now}; only pending or running tasks can be canceled`);
      }
      onCanceled(uuid);
    },
  };
}
