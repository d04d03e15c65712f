// The readable `show archive` and `show task`: what the API now says of purges and
// scheduled runs reaches the person reading, not only --json.
import { expect, test } from "bun:test";
import { archiveDetails } from "../../src/cli/commands/archives.ts";
import { taskDetails } from "../../src/cli/commands/tasks.ts";
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
