CREATE TABLE `agents` (
	`name` text PRIMARY KEY NOT NULL,
	`host_key` text NOT NULL,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL,
	`version` text DEFAULT '' NOT NULL
);
