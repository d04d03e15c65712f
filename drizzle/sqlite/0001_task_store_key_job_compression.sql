ALTER TABLE `jobs` ADD `compression` text DEFAULT 'zstd' NOT NULL;--> statement-breakpoint
ALTER TABLE `tasks` ADD `store_key` text;