ALTER TABLE `tasks` ADD `error` text;--> statement-breakpoint
CREATE INDEX `tasks_job_op_stopped` ON `tasks` (`job_uuid`,`op`,`stopped_at`,`uuid`);--> statement-breakpoint
CREATE INDEX `tasks_op_stopped` ON `tasks` (`op`,`stopped_at`);--> statement-breakpoint
CREATE INDEX `archives_store_status_target` ON `archives` (`store_uuid`,`status`,`target_uuid`,`taken_at`,`size`);--> statement-breakpoint
CREATE INDEX `archives_status_purged` ON `archives` (`status`,`purged_at`);