ALTER TABLE `archives` ADD `purge_attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `archives` ADD `purge_error` text;--> statement-breakpoint
ALTER TABLE `archives` ADD `purge_next_at` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `next_due_at` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `next_due_spec` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `due_at` integer;--> statement-breakpoint
CREATE INDEX `tasks_archive` ON `tasks` (`archive_uuid`);--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_job_due` ON `tasks` (`job_uuid`,`due_at`);--> statement-breakpoint
-- Written by hand: older daemons ran several tasks per target at once. Should a crash have
-- left two running on one target, fail all but one so the unique index below can be built
-- (crash recovery then fails the last one and purges its partial blob as usual).
UPDATE tasks SET status = 'failed', log = log || 'FAILED: the daemon stopped while this task ran (found when upgrading the catalog)
'
WHERE status = 'running' AND op IN ('backup', 'restore') AND EXISTS (
  SELECT 1 FROM tasks o WHERE o.status = 'running' AND o.op IN ('backup', 'restore')
  AND o.target_uuid = tasks.target_uuid AND CAST(o.uuid AS TEXT) < CAST(tasks.uuid AS TEXT));--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_one_running_per_target` ON `tasks` (`target_uuid`) WHERE status = 'running' AND op IN ('backup', 'restore');