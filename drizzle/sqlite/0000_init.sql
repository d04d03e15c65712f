CREATE TABLE `archives` (
	`uuid` text PRIMARY KEY NOT NULL,
	`target_uuid` text NOT NULL,
	`store_uuid` text NOT NULL,
	`job_uuid` text,
	`store_key` text NOT NULL,
	`taken_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`notes` text DEFAULT '' NOT NULL,
	`status` text DEFAULT 'valid' NOT NULL,
	`size` integer,
	`raw_size` integer,
	`sha256` text,
	`compression` text DEFAULT 'none' NOT NULL,
	`cipher` text DEFAULT 'none' NOT NULL,
	`encryption_key` text,
	`purged_at` integer
);
--> statement-breakpoint
CREATE INDEX `archives_target_taken` ON `archives` (`target_uuid`,`taken_at`);--> statement-breakpoint
CREATE INDEX `archives_store_taken` ON `archives` (`store_uuid`,`taken_at`);--> statement-breakpoint
CREATE INDEX `archives_taken` ON `archives` (`taken_at`);--> statement-breakpoint
CREATE INDEX `archives_status_expires` ON `archives` (`status`,`expires_at`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`uuid` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`summary` text DEFAULT '' NOT NULL,
	`target_uuid` text NOT NULL,
	`store_uuid` text NOT NULL,
	`schedule_uuid` text NOT NULL,
	`retention_uuid` text NOT NULL,
	`priority` integer DEFAULT 50 NOT NULL,
	`paused` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`target_uuid`) REFERENCES `targets`(`uuid`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`store_uuid`) REFERENCES `stores`(`uuid`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`schedule_uuid`) REFERENCES `schedules`(`uuid`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`retention_uuid`) REFERENCES `retention`(`uuid`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_name` ON `jobs` (`name`);--> statement-breakpoint
CREATE INDEX `jobs_target` ON `jobs` (`target_uuid`);--> statement-breakpoint
CREATE INDEX `jobs_store` ON `jobs` (`store_uuid`);--> statement-breakpoint
CREATE INDEX `jobs_schedule` ON `jobs` (`schedule_uuid`);--> statement-breakpoint
CREATE INDEX `jobs_retention` ON `jobs` (`retention_uuid`);--> statement-breakpoint
CREATE TABLE `retention` (
	`uuid` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`summary` text DEFAULT '' NOT NULL,
	`expiry` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `retention_name` ON `retention` (`name`);--> statement-breakpoint
CREATE TABLE `schedules` (
	`uuid` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`summary` text DEFAULT '' NOT NULL,
	`timespec` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `schedules_name` ON `schedules` (`name`);--> statement-breakpoint
CREATE TABLE `stores` (
	`uuid` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`summary` text DEFAULT '' NOT NULL,
	`plugin` text NOT NULL,
	`endpoint` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `stores_name` ON `stores` (`name`);--> statement-breakpoint
CREATE INDEX `stores_plugin` ON `stores` (`plugin`);--> statement-breakpoint
CREATE TABLE `targets` (
	`uuid` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`summary` text DEFAULT '' NOT NULL,
	`plugin` text NOT NULL,
	`endpoint` text NOT NULL,
	`agent` text DEFAULT '' NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `targets_name` ON `targets` (`name`);--> statement-breakpoint
CREATE INDEX `targets_plugin` ON `targets` (`plugin`);--> statement-breakpoint
CREATE TABLE `tasks` (
	`uuid` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`op` text NOT NULL,
	`job_uuid` text,
	`archive_uuid` text,
	`target_uuid` text,
	`store_uuid` text,
	`status` text NOT NULL,
	`requested_at` integer NOT NULL,
	`started_at` integer,
	`stopped_at` integer,
	`log` text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tasks_status_requested` ON `tasks` (`status`,`requested_at`);--> statement-breakpoint
CREATE INDEX `tasks_requested` ON `tasks` (`requested_at`);--> statement-breakpoint
CREATE INDEX `tasks_job` ON `tasks` (`job_uuid`);--> statement-breakpoint
CREATE TABLE `tokens` (
	`uuid` text PRIMARY KEY NOT NULL,
	`user_uuid` text NOT NULL,
	`name` text NOT NULL,
	`token_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	FOREIGN KEY (`user_uuid`) REFERENCES `users`(`uuid`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tokens_hash` ON `tokens` (`token_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `tokens_user_name` ON `tokens` (`user_uuid`,`name`);--> statement-breakpoint
CREATE TABLE `users` (
	`uuid` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`password_hash` text NOT NULL,
	`role` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_name` ON `users` (`name`);