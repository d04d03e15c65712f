// The retention preview: which of a job's archives a policy keeps (and by which
// rule) and which it expires, before the policy is saved. Registered before the
// definition routes so that /v1/retention/preview is not read as a policy uuid.
import { route, type Router } from "./route.ts";
import { formatTime } from "./json.ts";
import { RetentionPreviewJson, RetentionPreviewQuery, rulesInput, UuidParam } from "./schemas.ts";
import type { RetentionPreview } from "../core/retention.ts";

const HOW = "The verdicts are those the purger acts on now, computed by the same code. " +
  "Proposed rules may be given as query parameters (keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly: counts, 0 for none; " +
  "keep_within: seconds or 30d/12h/8w); rules left out are the policy's own. `expires` is not a parameter: archives already taken keep their expiry. " +
  "force_needed says whether saving those rules would need \"force\": true.";

export function retentionRoutes(router: Router): void {
  const { retention } = router.core;
  const tag = "retention";

  route(router, {
    method: "get", operationId: "previewRetention", path: "/v1/retention/preview", tag, permission: "read", query: RetentionPreviewQuery,
    summary: "Preview a retention policy not yet saved",
    description: `What a new policy with the given rules (plain expiry when none) would keep and expire among the archives of ?job=. ${HOW}`,
    response: RetentionPreviewJson, errors: [404],
  }, async ({ query }) => {
    const { job, ...rules } = query;
    return previewJson(undefined, await retention.preview(undefined, job, rulesInput(rules)), retention.maxPurgeShare);
  });

  route(router, {
    method: "get", operationId: "previewRetentionOnJob", path: "/v1/retention/:uuid/preview", tag, permission: "read", params: UuidParam, query: RetentionPreviewQuery,
    summary: "Preview a retention policy on a job's archives",
    description: `What the policy (with any proposed rules in place of its own) would keep and expire among the archives of ?job=. ${HOW}`,
    response: RetentionPreviewJson, errors: [404],
  }, async ({ params, query }) => {
    const { job, ...rules } = query;
    return previewJson(params.uuid, await retention.preview(params.uuid, job, rulesInput(rules)), retention.maxPurgeShare);
  });
}

function previewJson(policyUuid: string | undefined, p: RetentionPreview, maxPurgeShare: number) {
  const kept = p.verdicts.filter((v) => v.reasons.length).length;
  return {
    policy_uuid: policyUuid ?? null, job_uuid: p.jobUuid, job_name: p.jobName, zone: p.zone, at: formatTime(p.at),
    rules: {
      keep_last: p.rules.keepLast, keep_hourly: p.rules.keepHourly, keep_daily: p.rules.keepDaily, keep_weekly: p.rules.keepWeekly,
      keep_monthly: p.rules.keepMonthly, keep_yearly: p.rules.keepYearly, keep_within: p.rules.keepWithin,
    },
    keep: kept, expire: p.verdicts.length - kept,
    newly_expired: p.newlyExpired, purge_share: Math.round(p.purgeShare * 1000) / 1000, max_purge_share: maxPurgeShare, force_needed: p.forceNeeded,
    archives: p.verdicts.map((v) => ({
      uuid: v.archive.uuid, taken_at: formatTime(v.archive.takenAt), expires_at: formatTime(v.archive.expiresAt), pinned: v.archive.pinned,
      action: v.reasons.length ? "keep" : "expire", kept_by: v.reasons,
    })),
  };
}
