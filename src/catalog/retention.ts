// What the retention purger asks beyond the definition queries: which jobs have a
// policy with GFS rules (their archives are decided per job, not by expiry alone).
import { eq, gt, or } from "drizzle-orm";
import type { CatalogHandle } from "./open.ts";
import type { RetentionRow } from "./rows.ts";

export function retentionRuleQueries({ db, t }: CatalogHandle) {
  const { jobs, retention } = t;
  return {
    /** Jobs whose policy has some GFS rule, with that policy. */
    async jobsWithRules(): Promise<{ jobUuid: string; policy: RetentionRow }[]> {
      const rows = await db.select({ jobUuid: jobs.uuid, policy: retention }).from(jobs)
        .innerJoin(retention, eq(retention.uuid, jobs.retentionUuid))
        // The same test as HAS_RULES (archives.ts) and hasRules (scheduler/retention.ts).
        .where(or(gt(retention.keepLast, 0), gt(retention.keepHourly, 0), gt(retention.keepDaily, 0), gt(retention.keepWeekly, 0),
          gt(retention.keepMonthly, 0), gt(retention.keepYearly, 0), gt(retention.keepWithin, 0)));
      return rows as { jobUuid: string; policy: RetentionRow }[];
    },
  };
}
