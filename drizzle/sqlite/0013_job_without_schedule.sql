PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_jobs` (
	`uuid` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`summary` text DEFAULT '' NOT NULL,
	`target_uuid` text NOT NULL,
	`store_uuid` text NOT NULL,
	`schedule_uuid` text,
	`retention_uuid` text NOT NULL,
	`priority` integer DEFAULT 50 NOT NULL,
	`compression` text DEFAULT 'zstd' NOT NULL,
	`paused` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`next_due_at` integer,
	`next_due_spec` text,
	`copies` text DEFAULT '[]' NOT NULL,
	`run_window` text DEFAULT '' NOT NULL,
	FOREIGN KEY (`target_uuid`) REFERENCES `targets`(`uuid`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`store_uuid`) REFERENCES `stores`(`uuid`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`schedule_uuid`) REFERENCES `schedules`(`uuid`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`retention_uuid`) REFERENCES `retention`(`uuid`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `__new_jobs`("uuid", "name", "summary", "target_uuid", "store_uuid", "schedule_uuid", "retention_uuid", "priority", "compression", "paused", "created_at", "next_due_at", "next_due_spec", "copies", "run_window") SELECT "uuid", "name", "summary", "target_uuid", "store_uuid", "schedule_uuid", "retention_uuid", "priority", "compression", "paused", "created_at", "next_due_at", "next_due_spec", "copies", "run_window" FROM `jobs`;--> statement-breakpoint
DROP TABLE `jobs`;--> statement-breakpoint
ALTER TABLE `__new_jobs` RENAME TO `jobs`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_name` ON `jobs` (`name`);--> statement-breakpoint
CREATE INDEX `jobs_target` ON `jobs` (`target_uuid`);--> statement-breakpoint
CREATE INDEX `jobs_store` ON `jobs` (`store_uuid`);--> statement-breakpoint
CREATE INDEX `jobs_schedule` ON `jobs` (`schedule_uuid`);--> statement-breakpoint
CREATE INDEX `jobs_retention` ON `jobs` (`retention_uuid`);