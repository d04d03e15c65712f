// Rules for tasks: filing them (the tasks table is the queue) and canceling them.
import { nowSeconds, type Catalog, type TaskRow } from "../catalog/index.ts";
import { allows } from "./access.ts";
import { Conflict, Forbidden, InvalidInput, NotFound } from "./errors.ts";
import type { Principal } from "./users.ts";

export type TaskRequest = Pick<TaskRow, "op" | "owner" | "jobUuid" | "archiveUuid" | "targetUuid" | "storeUuid"> & Partial<Pick<TaskRow, "requestedBy">>;

export type TaskFiler = (req: TaskRequest) => Promise<string>;

/** The owner of the tasks the scheduler files (design.md): no one else's task may claim it. */
export const SYSTEM_OWNER = "system";

/** Whether a name would pass for the scheduler's owner (any case: "System" reads the same). */
export function isSystemOwner(name: string): boolean {
  return name.trim().toLowerCase() === SYSTEM_OWNER;
}

/** What a task's requested_by says of a principal: the user's name, or the API token it came with and whose it is. */
export function requesterOf(p: Principal): string {
  return p.via === "token" && p.token !== undefined ? `token:${p.name}/${p.token}` : p.name;
}

/**
 * The owner and requester of an ad hoc task `p` asks for, owned by `owner`
 * (default: `p` itself). Only an admin may file a task for another owner, and
 * nobody may file one owned by "system": that marks the scheduler's tasks.
 */
export function taskOwnership(p: Principal, owner: string | undefined): { owner: string; requestedBy: string } {
  const wanted = owner ?? p.name;
  if (isSystemOwner(wanted)) {
    const why = `"${wanted}" is reserved for the tasks the scheduler files`;
    throw new InvalidInput(`owner: ${why}${owner === undefined ? "; give another owner" : ""}`, { owner: why });
  }
  if (wanted !== p.name && !allows(p.role, "admin")) {
    throw new Forbidden(`only an admin may file a task owned by someone else (owner "${wanted}"; you are "${p.name}", ${p.role}); leave owner out to own it yourself`);
  }
  return { owner: wanted, requestedBy: requesterOf(p) };
}

/** Files tasks into the queue, then tells whoever runs them (the supervisor) to look. */
export function taskFiler(catalog: Catalog, onFiled: () => void = () => {}): TaskFiler {
  return async (req) => {
    // The scheduler files its tasks into the catalog itself; nothing filed here may pass for one of them.
    if (isSystemOwner(req.owner)) throw new InvalidInput(`owner: "${req.owner}" is reserved for the tasks the scheduler files`, { owner: "is reserved for the scheduler" });
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
