// The readable `show archive` and `show task`: what the API now says of purges and
// scheduled runs reaches the person reading, not only --json.
import { expect, test } from "bun:test";
import { archiveDetails } from "../../src/cli/commands/archives.ts";
import { taskDetails } from "../../src/cli/commands/tasks.ts";
import { jobDetails } from "../../src/cli/commands/jobs.ts";
import { Output } from "../../src/cli/output.ts";

const printed = (pairs: [string, unknown][]) => {
  let text = "";
  new Output(false, (s) => { text += s; }).details(pairs);
  return text;
};

const archive = {
  uuid: "9ee4b579-0000-4000-8000-000000000001", status: "purge_failed", taken_at: "2024-01-01 04:00:00", expires_at: "2024-01-31 04:00:00",
  purged_at: null, purge_attempts: 3, purge_error: "store fs: permission denied", purge_next_at: "2024-02-01 05:00:00",
  target_uuid: "t", target_name: "db", target_plugin: "postgres", store_uuid: "s", store_name: "disk", store_plugin: "fs",
  store_key: "2024/01/01/x", job_uuid: null, size: 10, raw_size: 10, compression: "zstd", cipher: "none", sha256: null, notes: "",
};

test("show archive: a failed purge says why, how often, and when the purger tries again", () => {
  const text = printed(archiveDetails(archive));
  expect(text).toContain("Purge error:     store fs: permission denied\n");
  expect(text).toContain("Purge attempts:  3\n");
  expect(text).toContain("Next purge at:   2024-02-01 05:00:00 UTC\n");
  // A valid archive has none of these lines.
  const valid = printed(archiveDetails({ ...archive, status: "valid", purge_attempts: 0, purge_error: null, purge_next_at: null }));
  expect(valid).not.toContain("Purge");
});

test("show task: a scheduled backup shows when it was due; every task shows who runs it", () => {
  const task = {
    uuid: "5e2c0000-0000-4000-8000-000000000001", type: "backup", status: "pending", owner: "system", job_uuid: "j", archive_uuid: null,
    target_uuid: "t", store_uuid: "s", requested_at: "2024-01-01 03:59:00", due_at: "2024-01-01 04:00:00", started_at: null, stopped_at: null,
    runner: null, log: "",
  };
  expect(printed(taskDetails(task))).toContain("Due:        2024-01-01 04:00:00 UTC (the scheduled time it was filed for)\n");
  expect(printed(taskDetails({ ...task, due_at: null, runner: "vm pid 12" }))).toMatch(/Runner:\s+vm pid 12\n/);
  expect(printed(taskDetails({ ...task, due_at: null }))).not.toContain("Due");
});

test("show task says who asked for it (requested_by); \"-\" for a task older than the field", () => {
  const task = {
    uuid: "5e2c0000-0000-4000-8000-000000000002", type: "restore", status: "pending", owner: "alice", requested_by: "token:alice/nightly",
    job_uuid: null, archive_uuid: "a", target_uuid: "t", store_uuid: "s", requested_at: "2024-01-01 03:59:00", due_at: null,
    started_at: null, stopped_at: null, runner: null, log: "",
  };
  expect(printed(taskDetails(task))).toContain("Owner:      alice\nAsked by:   token:alice/nightly\n");
  expect(printed(taskDetails({ ...task, requested_by: null }))).toContain("Asked by:   -\n");
});

test("show task: a failed task's error line", () => {
  const task = {
    uuid: "5e2c0000-0000-4000-8000-000000000003", type: "backup", status: "failed", owner: "system", requested_by: "scheduler",
    job_uuid: "j", archive_uuid: null, target_uuid: "t", store_uuid: "s", requested_at: "2024-01-01 03:59:00", due_at: null,
    started_at: "2024-01-01 04:00:00", stopped_at: "2024-01-01 04:00:05", runner: null, error: "store failed (exit 4): disk full", log: "",
  };
  expect(printed(taskDetails(task))).toContain("Error:      store failed (exit 4): disk full\n");
  expect(printed(taskDetails({ ...task, status: "done", error: null }))).not.toContain("Error");
});

test("show job: last run with its error, next run, and the window's figures", () => {
  const job = {
    uuid: "j0b00000-0000-4000-8000-000000000001", name: "nightly", summary: "", paused: false, target_name: "db", target_plugin: "postgres",
    target_uuid: "t", store_name: "disk", store_plugin: "fs", store_uuid: "s", schedule_name: "daily", schedule: "daily at 4am", schedule_uuid: "sc",
    retention_name: "month", expiry: 2592000, retention_uuid: "r", priority: 50, compression: "zstd", agent: "",
    last_run: { task_uuid: "7a5c0000-0000-4000-8000-000000000001", status: "failed", started_at: "2024-01-01 04:00:00", stopped_at: "2024-01-01 04:00:05",
      duration: 5, archive_uuid: null, size: null, error: "target backup failed (exit 1): pg_dump: connection refused" },
    next_run: "2024-01-02 04:00:00",
    window: { seconds: 2592000, runs: 4, failures: 1, success_rate: 0.75, median_duration: 90, median_size: 2048, size_trend_per_day: 1024 },
  };
  const text = printed(jobDetails(job));
  expect(text).toContain("Retention:    month: 30d");
  expect(text).toContain("Last run:     FAILED at 2024-01-01 04:00:05 UTC, ran 5s (task 7a5c0000)\n");
  expect(text).toContain("Last error:   target backup failed (exit 1): pg_dump: connection refused\n");
  expect(text).toContain("Next run:     2024-01-02 04:00:00 UTC\n");
  expect(text).toContain("Runs (30d):   4, 1 failed: 75% succeeded\n");
  expect(text).toContain("Median:       ran 1m30s, 2.0 KiB\n");
  expect(text).toContain("Size trend:   +1.0 KiB a day\n");
  const idle = printed(jobDetails({ ...job, paused: true, last_run: null, next_run: null, window: { ...job.window, runs: 0, failures: 0, success_rate: null, median_duration: null, median_size: null, size_trend_per_day: null } }));
  expect(idle).toContain("Last run:     never\n");
  expect(idle).toContain("Next run:     - (paused)\n");
  expect(idle).toContain("Runs (30d):   none\n");
  expect(idle).not.toContain("Last error");
});
