// Names are unique per kind, so that people (and the CLI) can refer to things by name.
import { isUniqueViolation } from "../catalog/index.ts";
import { Conflict } from "./errors.ts";

export function uniqueNames(kind: string, byName: (name: string) => Promise<{ uuid: string } | undefined>) {
  return {
    /** Refuses a name another row of this kind already has. */
    async check(name: string, except?: string): Promise<void> {
      const other = await byName(name);
      if (other && other.uuid !== except) throw new Conflict(`a ${kind} named "${name}" already exists (${other.uuid})`);
    },
    /** Runs a write, turning the unique index's refusal (a concurrent request took the name) into the same 409. */
    async guard<T>(name: string, write: () => Promise<T>): Promise<T> {
      try {
        return await write();
      } catch (err) {
        if (isUniqueViolation(err)) throw new Conflict(`a ${kind} named "${name}" already exists`);
        throw err;
      }
    },
  };
}
