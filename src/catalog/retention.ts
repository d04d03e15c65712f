// What the retention purger asks beyond the definition queries: which jobs have a
// policy with GFS rules (their archives are decided per job, not by expiry alone).
import { eq, sql } from "drizzle-orm";
import type { CatalogHandle } from "./open.ts";
import type { RetentionRow } from "./rows.ts";
import { HAS_RULES } from "./archives.ts";

export function retentionRuleQueries({ db, t }: CatalogHandle) {
  const { jobs, retention } = t;
  return {
    /** Jobs whose policy has some GFS rule, with that policy. */
    async jobsWithRules(): Promise<{ jobUuid: string; policy: RetentionRow }[]> {
      const rows = await db.select({ jobUuid: jobs.uuid, policy: retention }).from(jobs)
        .innerJoin(retention, eq(retention.uuid, jobs.retentionUuid))
        .where(sql`EXISTS (SELECT 1 FROM retention r WHERE r.uuid = ${jobs.retentionUuid} AND ${HAS_RULES})`);
      return rows as { jobUuid: string; policy: RetentionRow }[];
    },
  };
}
