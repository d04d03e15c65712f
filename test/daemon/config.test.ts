// The daemon's settings for the scheduler, queue and retention: durations in
// seconds or with a unit, flags over the environment, and one clear refusal each.
import { describe, expect, test } from "bun:test";
import { daemonConfig, parseDuration } from "../../src/daemon/config.ts";
import { UsageError } from "../../src/args.ts";

const config = (argv: string[], env: Record<string, string> = {}) => {
  const c = daemonConfig(argv, env);
  if (c === "help") throw new Error("help");
  return c;
};
const refusal = (argv: string[], env: Record<string, string> = {}) => {
  try {
    daemonConfig(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error("expected a refusal");
};

describe("durations", () => {
  test("seconds, or a number with s, m, h or d", () => {
    expect(parseDuration("3600")).toBe(3600);
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("90m")).toBe(5400);
    expect(parseDuration("12h")).toBe(43200);
    expect(parseDuration("90d")).toBe(90 * 86400);
    expect(parseDuration(" 2H ")).toBe(7200);
    for (const bad of ["", "0", "-5", "1.5h", "12 hours", "h", "1w", "99999999999999999999d"]) expect(parseDuration(bad)).toBeUndefined();
  });
});

describe("scheduler, queue and retention settings", () => {
  test("defaults: 4 workers, a 12 h task timeout, a 60 s heartbeat grace, a 90 day audit period, not DEV", () => {
    expect(config([])).toMatchObject({ workers: 4, taskTimeout: 43200, heartbeatGrace: 60, auditRetention: 90 * 86400, dev: false });
  });

  test("/metrics takes a token unless --metrics-public", () => {
    expect(config([]).metricsPublic).toBe(false);
    expect(config(["--metrics-public"]).metricsPublic).toBe(true);
  });

  test("flags win over the environment", () => {
    const env = { SHIELD_TASK_TIMEOUT: "2h", SHIELD_AUDIT_RETENTION: "30d", SHIELD_HEARTBEAT_GRACE: "2m" };
    expect(config([], env)).toMatchObject({ taskTimeout: 7200, auditRetention: 30 * 86400, heartbeatGrace: 120 });
    expect(config(["--heartbeat-grace", "30"], env).heartbeatGrace).toBe(30);
    expect(config(["--task-timeout", "90m", "--audit-retention", "7d", "--workers", "2"], env)).toMatchObject({ taskTimeout: 5400, auditRetention: 7 * 86400, workers: 2 });
  });

  test("--retention-max-purge-share: 50% by default; a percentage or a fraction; flag over environment", () => {
    expect(config([]).retentionMaxPurgeShare).toBe(0.5);
    expect(config(["--retention-max-purge-share", "25%"]).retentionMaxPurgeShare).toBe(0.25);
    expect(config([], { SHIELD_RETENTION_MAX_PURGE_SHARE: "0.1" }).retentionMaxPurgeShare).toBe(0.1);
    expect(config(["--retention-max-purge-share", "100%"], { SHIELD_RETENTION_MAX_PURGE_SHARE: "0" }).retentionMaxPurgeShare).toBe(1);
    for (const bad of ["150%", "half", "-1", "1.5"]) expect(refusal(["--retention-max-purge-share", bad])).toContain("--retention-max-purge-share (SHIELD_RETENTION_MAX_PURGE_SHARE) must be a share like 50%");
  });

  test("SHIELD_MODE=DEV (any case) runs every schedule every minute", () => {
    expect(config([], { SHIELD_MODE: "DEV" }).dev).toBe(true);
    expect(config([], { SHIELD_MODE: "dev" }).dev).toBe(true);
  });

  test("bad values are refused with the flag, the variable and what was given", () => {
    expect(refusal(["--task-timeout", "soon"])).toBe('--task-timeout (SHIELD_TASK_TIMEOUT) must be a duration like 3600, 90m, 12h or 90d (got "soon")');
    expect(refusal([], { SHIELD_TASK_TIMEOUT: "0" })).toContain("SHIELD_TASK_TIMEOUT");
    expect(refusal(["--audit-retention", "30m"])).toBe('--audit-retention (SHIELD_AUDIT_RETENTION) must be at least 3600 seconds (got "30m")');
    expect(refusal(["--heartbeat-grace", "5s"])).toBe('--heartbeat-grace (SHIELD_HEARTBEAT_GRACE) must be at least 15 seconds (got "5s")');
    expect(refusal([], { SHIELD_MODE: "PROD" })).toBe('SHIELD_MODE must be DEV or unset (got "PROD")');
    expect(refusal(["--workers", "0"])).toContain("--workers must be a whole number from 1 to 64");
  });
});

describe("confinement (--allow-path)", () => {
  test("unconfined by default; the flags (repeatable) or else SHIELD_ALLOW_PATH, colon-separated; normalised", () => {
    expect(config([]).allowPaths).toEqual([]);
    expect(config(["--allow-path", "/srv/backups/", "--allow-path", "/data//app"]).allowPaths).toEqual(["/srv/backups", "/data/app"]);
    expect(config([], { SHIELD_ALLOW_PATH: "/a:/b/c" }).allowPaths).toEqual(["/a", "/b/c"]);
    // Flags win whole: the variable cannot widen what the flags allow.
    expect(config(["--allow-path", "/a"], { SHIELD_ALLOW_PATH: "/" }).allowPaths).toEqual(["/a"]);
  });

  test("a relative path is refused", () => {
    expect(refusal(["--allow-path", "backups"])).toBe('--allow-path (SHIELD_ALLOW_PATH) must be an absolute directory (got "backups")');
    expect(refusal([], { SHIELD_ALLOW_PATH: "/a:rel" })).toContain('(got "rel")');
  });
});

describe("notification settings", () => {
  test("--public-url (else SHIELD_PUBLIC_URL) for task links; undefined: derived from --listen; a retry base of 30 s", () => {
    expect(config([])).toMatchObject({ publicUrl: undefined, notifyRetryBase: 30 });
    expect(config(["--public-url", "https://shield.example.com/base"]).publicUrl).toBe("https://shield.example.com/base");
    expect(config([], { SHIELD_PUBLIC_URL: "http://10.0.0.1:8888" }).publicUrl).toBe("http://10.0.0.1:8888");
    expect(config(["--notify-retry-base", "5m"]).notifyRetryBase).toBe(300);
  });

  test("--watch-every (else SHIELD_WATCH_EVERY): how often overdue jobs and agents are looked for, 60 s unless said; no duration is refused", () => {
    expect(config([]).watchEvery).toBe(60);
    expect(config(["--watch-every", "5s"]).watchEvery).toBe(5);
    expect(config([], { SHIELD_WATCH_EVERY: "2m" }).watchEvery).toBe(120);
    expect(refusal(["--watch-every", "often"])).toContain("--watch-every");
    expect(refusal(["--watch-every", "0"])).toContain("--watch-every");
  });

  test("a public URL that is not http(s), or a retry base that is no duration, is refused by name", () => {
    expect(refusal(["--public-url", "shield.example.com"])).toContain("--public-url");
    expect(refusal(["--public-url", "ftp://x"])).toContain("http:// or https://");
    expect(refusal(["--notify-retry-base", "soon"])).toContain("--notify-retry-base");
  });
});
