// What channel rules call each task event: a canceled task, a purge done and a
// copy tell no channel; every other end and a backup's start have a rule name.
import { expect, test } from "bun:test";
import { EVENT_KINDS, matches, ruleName } from "../../src/notify/channels.ts";

test("rule names of task events: failures, successes, starts; nothing for a canceled task or a purge done", () => {
  expect(ruleName("backup_started")).toBe("backup.started");
  expect(ruleName("backup_succeeded")).toBe("backup.succeeded");
  expect(ruleName("backup_failed")).toBe("backup.failed");
  expect(ruleName("backup_canceled")).toBeUndefined();
  expect(ruleName("restore_finished")).toBe("restore.finished");
  expect(ruleName("purge_failed")).toBe("purge.failed");
  expect(ruleName("purge_succeeded")).toBeUndefined();
  expect(ruleName("drill_failed")).toBe("drill.failed");
  expect(ruleName("drill_succeeded")).toBe("drill.succeeded");
  expect(ruleName("task_finished")).toBeUndefined();
  for (const k of ["backup.started", "backup.succeeded", "backup.failed", "restore.finished", "purge.failed", "drill.failed", "drill.succeeded"]) {
    expect(EVENT_KINDS).toContain(k as never);
  }
});

test("rules of events and jobs: every job when none named; an event about several jobs matches a rule naming any", () => {
  expect(matches(["job.overdue"], [], "job.overdue", "j1")).toBe(true);
  expect(matches(["backup.failed"], [], "job.overdue", "j1")).toBe(false);
  expect(matches(["job.overdue"], ["j2"], "job.overdue", "j1")).toBe(false);
  expect(matches(["agent.unreachable"], ["j2"], "agent.unreachable", ["j1", "j2"])).toBe(true);
  expect(matches(["agent.unreachable"], ["j2"], "agent.unreachable", [])).toBe(false);
  expect(matches(["agent.unreachable"], [], "agent.unreachable", null)).toBe(true);
});
