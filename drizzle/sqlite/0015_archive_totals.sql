CREATE TABLE `archive_totals` (
	`store_uuid` text NOT NULL,
	`status` text NOT NULL,
	`target_uuid` text NOT NULL,
	`archives` integer DEFAULT 0 NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`store_uuid`, `status`, `target_uuid`)
);
--> statement-breakpoint
DROP INDEX `archives_store_status_target`;--> statement-breakpoint
DROP INDEX `archives_taken`;--> statement-breakpoint
DROP INDEX `archives_status_purged`;--> statement-breakpoint
CREATE INDEX `archives_taken` ON `archives` (`taken_at`,`store_uuid`,`size`);--> statement-breakpoint
CREATE INDEX `archives_status_purged` ON `archives` (`status`,`purged_at`,`store_uuid`,`size`);
--> statement-breakpoint
-- Written by hand (drizzle-kit knows no triggers): archive_totals follows every change of archives.
CREATE TRIGGER `archive_totals_insert` AFTER INSERT ON `archives` BEGIN
  INSERT INTO `archive_totals` (`store_uuid`, `status`, `target_uuid`, `archives`, `bytes`)
    VALUES (NEW.`store_uuid`, NEW.`status`, NEW.`target_uuid`, 1, coalesce(NEW.`size`, 0))
    ON CONFLICT (`store_uuid`, `status`, `target_uuid`) DO UPDATE SET `archives` = `archives` + 1, `bytes` = `bytes` + excluded.`bytes`;
END;--> statement-breakpoint
CREATE TRIGGER `archive_totals_delete` AFTER DELETE ON `archives` BEGIN
  UPDATE `archive_totals` SET `archives` = `archives` - 1, `bytes` = `bytes` - coalesce(OLD.`size`, 0)
    WHERE `store_uuid` = OLD.`store_uuid` AND `status` = OLD.`status` AND `target_uuid` = OLD.`target_uuid`;
END;--> statement-breakpoint
CREATE TRIGGER `archive_totals_update` AFTER UPDATE OF `store_uuid`, `status`, `target_uuid`, `size` ON `archives`
  WHEN OLD.`store_uuid` IS NOT NEW.`store_uuid` OR OLD.`status` IS NOT NEW.`status` OR OLD.`target_uuid` IS NOT NEW.`target_uuid`
    OR OLD.`size` IS NOT NEW.`size` BEGIN
  UPDATE `archive_totals` SET `archives` = `archives` - 1, `bytes` = `bytes` - coalesce(OLD.`size`, 0)
    WHERE `store_uuid` = OLD.`store_uuid` AND `status` = OLD.`status` AND `target_uuid` = OLD.`target_uuid`;
  INSERT INTO `archive_totals` (`store_uuid`, `status`, `target_uuid`, `archives`, `bytes`)
    VALUES (NEW.`store_uuid`, NEW.`status`, NEW.`target_uuid`, 1, coalesce(NEW.`size`, 0))
    ON CONFLICT (`store_uuid`, `status`, `target_uuid`) DO UPDATE SET `archives` = `archives` + 1, `bytes` = `bytes` + excluded.`bytes`;
END;--> statement-breakpoint
INSERT INTO `archive_totals` (`store_uuid`, `status`, `target_uuid`, `archives`, `bytes`)
  SELECT `store_uuid`, `status`, `target_uuid`, count(*), sum(coalesce(`size`, 0)) FROM `archives` GROUP BY `store_uuid`, `status`, `target_uuid`;
