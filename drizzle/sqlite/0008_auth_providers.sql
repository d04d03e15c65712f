CREATE TABLE `auth_providers` (
	`uuid` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`config` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `auth_providers_name` ON `auth_providers` (`name`);--> statement-breakpoint
ALTER TABLE `tokens` ADD `role` text;--> statement-breakpoint
ALTER TABLE `tokens` ADD `expires_at` integer;--> statement-breakpoint
ALTER TABLE `tokens` ADD `checked_at` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `provider` text DEFAULT 'local' NOT NULL;