CREATE TABLE `drill_results` (
	`task_uuid` text PRIMARY KEY NOT NULL,
	`job_uuid` text NOT NULL,
	`archive_uuid` text,
	`ok` integer NOT NULL,
	`rto_ms` integer,
	`figures` text,
	`verify` text NOT NULL,
	`error` text,
	`finished_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `drill_results_job_finished` ON `drill_results` (`job_uuid`,`finished_ms`);--> statement-breakpoint
CREATE TABLE `drills` (
	`job_uuid` text PRIMARY KEY NOT NULL,
	`scratch_target_uuid` text NOT NULL,
	`schedule_uuid` text NOT NULL,
	`next_due_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `drills_scratch_target` ON `drills` (`scratch_target_uuid`);--> statement-breakpoint
CREATE TABLE `notification_channels` (
	`uuid` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`settings` text NOT NULL,
	`events` text NOT NULL,
	`jobs` text DEFAULT '[]' NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `notification_channels_name` ON `notification_channels` (`name`);--> statement-breakpoint
CREATE TABLE `notification_deliveries` (
	`uuid` text PRIMARY KEY NOT NULL,
	`channel_uuid` text NOT NULL,
	`event` text NOT NULL,
	`task_uuid` text,
	`job_uuid` text,
	`message` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_at` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`delivered_at` integer
);
--> statement-breakpoint
CREATE INDEX `notification_deliveries_status_next` ON `notification_deliveries` (`status`,`next_at`);--> statement-breakpoint
CREATE INDEX `notification_deliveries_created` ON `notification_deliveries` (`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `notification_deliveries_once` ON `notification_deliveries` (`channel_uuid`,`event`,`task_uuid`);