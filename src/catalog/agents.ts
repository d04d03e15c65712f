// The agents table: each agent's pinned host key and when the core last reached it.
import { asc, eq } from "drizzle-orm";
import type { CatalogHandle } from "./open.ts";

export interface AgentRow { name: string; hostKey: string; firstSeen: number; lastSeen: number; version: string }

export function agentQueries({ db, t }: CatalogHandle) {
  const { agents } = t;
  return {
    list(): Promise<AgentRow[]> {
      return db.select().from(agents).orderBy(asc(agents.name));
    },
    async get(name: string): Promise<AgentRow | undefined> {
      return (await db.select().from(agents).where(eq(agents.name, name)))[0];
    },
    /** Pins a key at first contact; false when another daemon pinned one first (read it again). */
    async pin(row: AgentRow): Promise<boolean> {
      return (await db.insert(agents).values(row).onConflictDoNothing().returning({ name: agents.name })).length > 0;
    },
    async seen(name: string, at: number, version: string): Promise<void> {
      await db.update(agents).set({ lastSeen: at, version }).where(eq(agents.name, name));
    },
    /** Forgets the pinned key (the agent was reinstalled): the next contact pins the key it then presents. */
    async reset(name: string): Promise<boolean> {
      return (await db.delete(agents).where(eq(agents.name, name)).returning({ name: agents.name })).length > 0;
    },
  };
}
