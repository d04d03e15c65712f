ALTER TABLE `tasks` ADD `runner_id` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `runner_host` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `runner_pid` integer;--> statement-breakpoint
ALTER TABLE `tasks` ADD `runner_pid_space` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `heartbeat_at` integer;