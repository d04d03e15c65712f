// Rules for retention policies beyond those every definition has: the preview of
// what a policy (saved, or with proposed rules) keeps and expires among a job's
// archives, and the safety catch on updates, which refuses a change that would
// purge more than a share of some job's archives at once unless forced.
import { nowSeconds, type Catalog, type RetentionRow } from "../catalog/index.ts";
import { jobVerdicts, rulesOf } from "../scheduler/purger.ts";
import { NO_RULES, toExpire, type RetentionRules, type Verdict } from "../scheduler/retention.ts";
import { daemonZone } from "../scheduler/zone.ts";
import { definitionRules } from "./definitions.ts";
import { Conflict, InvalidInput } from "./errors.ts";

/** The share of a job's archives a policy change may purge at once without `force`, by default. */
export const DEFAULT_MAX_PURGE_SHARE = 0.5;

type RetentionInput = Omit<RetentionRow, "uuid" | "createdAt" | keyof RetentionRules> & Partial<RetentionRules>;

export interface RetentionPreview {
  jobUuid: string;
  jobName: string;
  zone: string;
  /** When the verdicts hold (epoch seconds). */
  at: number;
  rules: RetentionRules;
  verdicts: Verdict[];
  /** Archives this policy expires now that the saved one keeps: what saving it would purge. */
  newlyExpired: number;
  /** newlyExpired over the job's valid archives, and whether that needs `force` to save. */
  purgeShare: number;
  forceNeeded: boolean;
}

export function retentionPolicyRules(catalog: Catalog, maxPurgeShare = DEFAULT_MAX_PURGE_SHARE) {
  const base = definitionRules("retention policy", catalog.retention);

  /** What `rules` would do to one job's archives now, against what its saved policy does. */
  async function previewJob(job: { uuid: string; name: string }, saved: RetentionRules, rules: RetentionRules): Promise<RetentionPreview> {
    const at = nowSeconds();
    const zone = daemonZone();
    const verdicts = await jobVerdicts(catalog, job.uuid, rules, at, zone);
    const before = new Set(toExpire(await jobVerdicts(catalog, job.uuid, saved, at, zone)).map((a) => a.uuid));
    const newlyExpired = toExpire(verdicts).filter((a) => !before.has(a.uuid)).length;
    const purgeShare = verdicts.length ? newlyExpired / verdicts.length : 0;
    return { jobUuid: job.uuid, jobName: job.name, zone, at, rules, verdicts, newlyExpired, purgeShare, forceNeeded: purgeShare > maxPurgeShare };
  }

  function refuse(p: RetentionPreview, policyUuid: string): never {
    throw new Conflict(`this change would purge ${p.newlyExpired} of the ${p.verdicts.length} archives of job "${p.jobName}" at once ` +
      `(more than ${Math.round(maxPurgeShare * 100)}%, --retention-max-purge-share); preview it with GET /v1/retention/${policyUuid}/preview?job=${p.jobUuid}, ` +
      `then send "force": true to confirm`);
  }

  return {
    ...base,
    maxPurgeShare,
    async update(uuid: string, v: RetentionInput & { force?: boolean }): Promise<void> {
      const { force, ...input } = v;
      const saved = await base.get(uuid);
      const proposed = { ...rulesOf(saved), ...definedRules(input) };
      if (!force) {
        for (const job of await catalog.jobs.list({ retention: uuid })) {
          const p = await previewJob(job, rulesOf(saved), proposed);
          if (p.forceNeeded) refuse(p, uuid);
        }
      }
      await base.update(uuid, input as RetentionInput);
    },
    /** Moving a job to another policy is a policy change for its archives: the same catch applies. */
    async checkJobMove(job: { uuid: string; name: string; retentionUuid: string }, toPolicy: string): Promise<void> {
      if (job.retentionUuid === toPolicy) return;
      const [from, to] = [await catalog.retention.get(job.retentionUuid), await catalog.retention.get(toPolicy)];
      if (!from || !to) return; // resolve() names a missing policy
      const p = await previewJob(job, rulesOf(from), rulesOf(to));
      if (p.forceNeeded) refuse(p, toPolicy);
    },
    /**
     * What the policy `uuid` (or, without a uuid, a policy not yet saved: plain
     * expiry unless rules are given) would keep and expire among the valid
     * archives of `jobUuid` now, with `proposed` rules in place of its own.
     */
    async preview(uuid: string | undefined, jobUuid: string, proposed: Partial<RetentionRules>): Promise<RetentionPreview> {
      const saved = uuid ? rulesOf(await base.get(uuid)) : undefined;
      const job = await catalog.jobs.get(jobUuid);
      if (!job) throw new InvalidInput(`job: no job with uuid ${jobUuid}`, { job: `no job with uuid ${jobUuid}` });
      const current = rulesOf(await base.get(job.retentionUuid));
      // A new policy starts from no rules; a saved one from its own.
      const rules = { ...(saved ?? NO_RULES), ...definedRules(proposed) };
      // "Newly expired" compares with what the job's archives face today.
      return previewJob(job, current, rules);
    },
  };
}

/** The rules given (left-out ones are not part of the change). */
function definedRules(v: Partial<RetentionRules>): Partial<RetentionRules> {
  const out: Partial<RetentionRules> = {};
  for (const k of Object.keys(NO_RULES) as (keyof RetentionRules)[]) if (v[k] !== undefined) out[k] = v[k];
  return out;
}
