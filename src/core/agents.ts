// The agents the core drives (src/agent): their state now, and resetting a pinned key.
import type { AgentStatus } from "../agent/directory.ts";
import { NotFound } from "./errors.ts";
import type { AgentValidator } from "./plugins.ts";

/** What the core needs of the agent directory (the daemon's AgentDirectory). */
export interface AgentSource extends AgentValidator {
  status(): Promise<AgentStatus[]>;
  reset(name: string): Promise<boolean>;
}

export function agentRules(source: AgentSource | undefined) {
  return {
    /** Every agent pinned or named by a target, each asked now (reachable, version, plugins). */
    list: (): Promise<AgentStatus[]> => (source ? source.status() : Promise.resolve([])),
    /** Forgets the pinned key of an agent that was reinstalled: its next contact pins the key it then presents. */
    async resetKey(name: string): Promise<void> {
      if (!source || !(await source.reset(name))) throw new NotFound("agent", name, "name");
    },
  };
}
export type { AgentStatus };
