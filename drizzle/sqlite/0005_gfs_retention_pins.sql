ALTER TABLE `archives` ADD `pinned` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `archives` ADD `pin_reason` text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX `archives_job_taken` ON `archives` (`job_uuid`,`taken_at`);--> statement-breakpoint
ALTER TABLE `retention` ADD `keep_last` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `retention` ADD `keep_hourly` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `retention` ADD `keep_daily` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `retention` ADD `keep_weekly` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `retention` ADD `keep_monthly` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `retention` ADD `keep_yearly` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `retention` ADD `keep_within` integer DEFAULT 0 NOT NULL;