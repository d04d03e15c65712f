CREATE TABLE `archive_copies` (
	`uuid` text PRIMARY KEY NOT NULL,
	`archive_uuid` text NOT NULL,
	`store_uuid` text NOT NULL,
	`retention_uuid` text,
	`store_key` text,
	`status` text NOT NULL,
	`size` integer,
	`sha256` text,
	`error` text,
	`created_at` integer NOT NULL,
	`copied_at` integer,
	`expires_at` integer,
	`purged_at` integer,
	`purge_attempts` integer DEFAULT 0 NOT NULL,
	`purge_next_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `archive_copies_archive_store` ON `archive_copies` (`archive_uuid`,`store_uuid`);--> statement-breakpoint
CREATE INDEX `archive_copies_status_expires` ON `archive_copies` (`status`,`expires_at`);--> statement-breakpoint
ALTER TABLE `jobs` ADD `copies` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `run_window` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `stores` ADD `max_tasks` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `stores` ADD `bandwidth` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `targets` ADD `bandwidth` integer DEFAULT 0 NOT NULL;