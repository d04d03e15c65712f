CREATE TABLE `archive_objects` (
	`archive_uuid` text NOT NULL,
	`name` text NOT NULL,
	`store_key` text NOT NULL,
	`size` integer NOT NULL,
	`stored_at` integer NOT NULL,
	PRIMARY KEY(`archive_uuid`, `name`)
);
