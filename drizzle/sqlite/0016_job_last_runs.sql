CREATE TABLE `job_last_runs` (
	`job_uuid` text NOT NULL,
	`kind` text NOT NULL,
	`task_uuid` text NOT NULL,
	`status` text NOT NULL,
	`requested_at` integer NOT NULL,
	`started_at` integer,
	`stopped_at` integer NOT NULL,
	`error` text,
	`archive_uuid` text,
	`size` integer,
	PRIMARY KEY(`job_uuid`, `kind`)
);
--> statement-breakpoint
CREATE INDEX `job_last_runs_archive` ON `job_last_runs` (`archive_uuid`);
--> statement-breakpoint
-- Written by hand (drizzle-kit knows no triggers): job_last_runs follows tasks, archives and jobs.
-- A run (a backup of a job that ended done or failed) inserted or updated becomes its job's last
-- run (and last success if done) when it ended later than the recorded one (ties: the greater
-- uuid, as the readers' ORDER BY stopped_at DESC, uuid DESC). A recorded run deleted (the task
-- pruner) or changed looks up its job's runs again: one backward seek of tasks_job_op_stopped.
-- NOTE: SQLite drops a table's triggers with the table. A later migration that rebuilds `tasks`,
-- `archives` or `jobs` (drizzle-kit's __new_ table copy for a column change) must create these
-- triggers again, and those of 0015_archive_totals on `archives`.
CREATE TRIGGER `job_last_runs_task_insert` AFTER INSERT ON `tasks` WHEN NEW.`op` = 'backup' AND NEW.`job_uuid` IS NOT NULL AND NEW.`stopped_at` IS NOT NULL AND NEW.`status` IN ('done', 'failed') BEGIN
  INSERT INTO `job_last_runs` (`job_uuid`, `kind`, `task_uuid`, `status`, `requested_at`, `started_at`, `stopped_at`, `error`, `archive_uuid`, `size`)
    SELECT NEW.`job_uuid`, 'last', NEW.`uuid`, NEW.`status`, NEW.`requested_at`, NEW.`started_at`, NEW.`stopped_at`, NEW.`error`, NEW.`archive_uuid`,
      (SELECT a.`size` FROM `archives` a WHERE a.`uuid` = NEW.`archive_uuid`)
    FROM `jobs` j WHERE j.`uuid` = NEW.`job_uuid`
    ON CONFLICT (`job_uuid`, `kind`) DO UPDATE SET `task_uuid` = excluded.`task_uuid`, `status` = excluded.`status`,
      `requested_at` = excluded.`requested_at`, `started_at` = excluded.`started_at`, `stopped_at` = excluded.`stopped_at`,
      `error` = excluded.`error`, `archive_uuid` = excluded.`archive_uuid`, `size` = excluded.`size`
    WHERE excluded.`stopped_at` > `job_last_runs`.`stopped_at`
      OR (excluded.`stopped_at` = `job_last_runs`.`stopped_at` AND excluded.`task_uuid` >= `job_last_runs`.`task_uuid`);
  INSERT INTO `job_last_runs` (`job_uuid`, `kind`, `task_uuid`, `status`, `requested_at`, `started_at`, `stopped_at`, `error`, `archive_uuid`, `size`)
    SELECT NEW.`job_uuid`, 'success', NEW.`uuid`, NEW.`status`, NEW.`requested_at`, NEW.`started_at`, NEW.`stopped_at`, NEW.`error`, NEW.`archive_uuid`,
      (SELECT a.`size` FROM `archives` a WHERE a.`uuid` = NEW.`archive_uuid`)
    FROM `jobs` j WHERE j.`uuid` = NEW.`job_uuid` AND NEW.`status` = 'done'
    ON CONFLICT (`job_uuid`, `kind`) DO UPDATE SET `task_uuid` = excluded.`task_uuid`, `status` = excluded.`status`,
      `requested_at` = excluded.`requested_at`, `started_at` = excluded.`started_at`, `stopped_at` = excluded.`stopped_at`,
      `error` = excluded.`error`, `archive_uuid` = excluded.`archive_uuid`, `size` = excluded.`size`
    WHERE excluded.`stopped_at` > `job_last_runs`.`stopped_at`
      OR (excluded.`stopped_at` = `job_last_runs`.`stopped_at` AND excluded.`task_uuid` >= `job_last_runs`.`task_uuid`);
END;
--> statement-breakpoint
CREATE TRIGGER `job_last_runs_task_update` AFTER UPDATE OF `op`, `job_uuid`, `status`, `requested_at`, `started_at`, `stopped_at`, `error`, `archive_uuid` ON `tasks` WHEN NEW.`op` = 'backup' AND NEW.`job_uuid` IS NOT NULL AND NEW.`stopped_at` IS NOT NULL AND NEW.`status` IN ('done', 'failed') BEGIN
  INSERT INTO `job_last_runs` (`job_uuid`, `kind`, `task_uuid`, `status`, `requested_at`, `started_at`, `stopped_at`, `error`, `archive_uuid`, `size`)
    SELECT NEW.`job_uuid`, 'last', NEW.`uuid`, NEW.`status`, NEW.`requested_at`, NEW.`started_at`, NEW.`stopped_at`, NEW.`error`, NEW.`archive_uuid`,
      (SELECT a.`size` FROM `archives` a WHERE a.`uuid` = NEW.`archive_uuid`)
    FROM `jobs` j WHERE j.`uuid` = NEW.`job_uuid`
    ON CONFLICT (`job_uuid`, `kind`) DO UPDATE SET `task_uuid` = excluded.`task_uuid`, `status` = excluded.`status`,
      `requested_at` = excluded.`requested_at`, `started_at` = excluded.`started_at`, `stopped_at` = excluded.`stopped_at`,
      `error` = excluded.`error`, `archive_uuid` = excluded.`archive_uuid`, `size` = excluded.`size`
    WHERE excluded.`stopped_at` > `job_last_runs`.`stopped_at`
      OR (excluded.`stopped_at` = `job_last_runs`.`stopped_at` AND excluded.`task_uuid` >= `job_last_runs`.`task_uuid`);
  INSERT INTO `job_last_runs` (`job_uuid`, `kind`, `task_uuid`, `status`, `requested_at`, `started_at`, `stopped_at`, `error`, `archive_uuid`, `size`)
    SELECT NEW.`job_uuid`, 'success', NEW.`uuid`, NEW.`status`, NEW.`requested_at`, NEW.`started_at`, NEW.`stopped_at`, NEW.`error`, NEW.`archive_uuid`,
      (SELECT a.`size` FROM `archives` a WHERE a.`uuid` = NEW.`archive_uuid`)
    FROM `jobs` j WHERE j.`uuid` = NEW.`job_uuid` AND NEW.`status` = 'done'
    ON CONFLICT (`job_uuid`, `kind`) DO UPDATE SET `task_uuid` = excluded.`task_uuid`, `status` = excluded.`status`,
      `requested_at` = excluded.`requested_at`, `started_at` = excluded.`started_at`, `stopped_at` = excluded.`stopped_at`,
      `error` = excluded.`error`, `archive_uuid` = excluded.`archive_uuid`, `size` = excluded.`size`
    WHERE excluded.`stopped_at` > `job_last_runs`.`stopped_at`
      OR (excluded.`stopped_at` = `job_last_runs`.`stopped_at` AND excluded.`task_uuid` >= `job_last_runs`.`task_uuid`);
END;
--> statement-breakpoint
-- The recorded run changed (no longer a run, moved, failed after all...): its job's runs read again.
CREATE TRIGGER `job_last_runs_task_reset` AFTER UPDATE OF `op`, `job_uuid`, `status`, `requested_at`, `started_at`, `stopped_at`, `error`, `archive_uuid` ON `tasks`
  WHEN OLD.`job_uuid` IS NOT NULL AND EXISTS (SELECT 1 FROM `job_last_runs` r WHERE r.`job_uuid` = OLD.`job_uuid` AND r.`task_uuid` = OLD.`uuid`) BEGIN
  DELETE FROM `job_last_runs` WHERE `job_uuid` = OLD.`job_uuid`;
  INSERT INTO `job_last_runs` (`job_uuid`, `kind`, `task_uuid`, `status`, `requested_at`, `started_at`, `stopped_at`, `error`, `archive_uuid`, `size`)
    SELECT j.`uuid`, 'last', t.`uuid`, t.`status`, t.`requested_at`, t.`started_at`, t.`stopped_at`, t.`error`, t.`archive_uuid`, a.`size`
    FROM `jobs` j
    JOIN `tasks` t ON t.`rowid` = (SELECT l.`rowid` FROM `tasks` l WHERE l.`job_uuid` = j.`uuid` AND l.`op` = 'backup'
      AND l.`stopped_at` IS NOT NULL AND l.`status` IN ('done', 'failed') ORDER BY l.`stopped_at` DESC, l.`uuid` DESC LIMIT 1)
    LEFT JOIN `archives` a ON a.`uuid` = t.`archive_uuid`
    WHERE j.`uuid` = OLD.`job_uuid`;
  INSERT INTO `job_last_runs` (`job_uuid`, `kind`, `task_uuid`, `status`, `requested_at`, `started_at`, `stopped_at`, `error`, `archive_uuid`, `size`)
    SELECT j.`uuid`, 'success', t.`uuid`, t.`status`, t.`requested_at`, t.`started_at`, t.`stopped_at`, t.`error`, t.`archive_uuid`, a.`size`
    FROM `jobs` j
    JOIN `tasks` t ON t.`rowid` = (SELECT l.`rowid` FROM `tasks` l WHERE l.`job_uuid` = j.`uuid` AND l.`op` = 'backup'
      AND l.`stopped_at` IS NOT NULL AND l.`status` IN ('done') ORDER BY l.`stopped_at` DESC, l.`uuid` DESC LIMIT 1)
    LEFT JOIN `archives` a ON a.`uuid` = t.`archive_uuid`
    WHERE j.`uuid` = OLD.`job_uuid`;
END;
--> statement-breakpoint
CREATE TRIGGER `job_last_runs_task_delete` AFTER DELETE ON `tasks`
  WHEN OLD.`job_uuid` IS NOT NULL AND EXISTS (SELECT 1 FROM `job_last_runs` r WHERE r.`job_uuid` = OLD.`job_uuid` AND r.`task_uuid` = OLD.`uuid`) BEGIN
  DELETE FROM `job_last_runs` WHERE `job_uuid` = OLD.`job_uuid`;
  INSERT INTO `job_last_runs` (`job_uuid`, `kind`, `task_uuid`, `status`, `requested_at`, `started_at`, `stopped_at`, `error`, `archive_uuid`, `size`)
    SELECT j.`uuid`, 'last', t.`uuid`, t.`status`, t.`requested_at`, t.`started_at`, t.`stopped_at`, t.`error`, t.`archive_uuid`, a.`size`
    FROM `jobs` j
    JOIN `tasks` t ON t.`rowid` = (SELECT l.`rowid` FROM `tasks` l WHERE l.`job_uuid` = j.`uuid` AND l.`op` = 'backup'
      AND l.`stopped_at` IS NOT NULL AND l.`status` IN ('done', 'failed') ORDER BY l.`stopped_at` DESC, l.`uuid` DESC LIMIT 1)
    LEFT JOIN `archives` a ON a.`uuid` = t.`archive_uuid`
    WHERE j.`uuid` = OLD.`job_uuid`;
  INSERT INTO `job_last_runs` (`job_uuid`, `kind`, `task_uuid`, `status`, `requested_at`, `started_at`, `stopped_at`, `error`, `archive_uuid`, `size`)
    SELECT j.`uuid`, 'success', t.`uuid`, t.`status`, t.`requested_at`, t.`started_at`, t.`stopped_at`, t.`error`, t.`archive_uuid`, a.`size`
    FROM `jobs` j
    JOIN `tasks` t ON t.`rowid` = (SELECT l.`rowid` FROM `tasks` l WHERE l.`job_uuid` = j.`uuid` AND l.`op` = 'backup'
      AND l.`stopped_at` IS NOT NULL AND l.`status` IN ('done') ORDER BY l.`stopped_at` DESC, l.`uuid` DESC LIMIT 1)
    LEFT JOIN `archives` a ON a.`uuid` = t.`archive_uuid`
    WHERE j.`uuid` = OLD.`job_uuid`;
END;
--> statement-breakpoint
CREATE TRIGGER `job_last_runs_job_delete` AFTER DELETE ON `jobs` BEGIN
  DELETE FROM `job_last_runs` WHERE `job_uuid` = OLD.`uuid`;
END;
--> statement-breakpoint
-- The run's archive size: the archive row may be written after its task ended, or change.
CREATE TRIGGER `job_last_runs_archive_insert` AFTER INSERT ON `archives` BEGIN
  UPDATE `job_last_runs` SET `size` = NEW.`size` WHERE `archive_uuid` = NEW.`uuid`;
END;
--> statement-breakpoint
CREATE TRIGGER `job_last_runs_archive_update` AFTER UPDATE OF `uuid`, `size` ON `archives`
  WHEN OLD.`uuid` IS NOT NEW.`uuid` OR OLD.`size` IS NOT NEW.`size` BEGIN
  UPDATE `job_last_runs` SET `size` = NULL WHERE `archive_uuid` = OLD.`uuid`;
  UPDATE `job_last_runs` SET `size` = NEW.`size` WHERE `archive_uuid` = NEW.`uuid`;
END;
--> statement-breakpoint
CREATE TRIGGER `job_last_runs_archive_delete` AFTER DELETE ON `archives` BEGIN
  UPDATE `job_last_runs` SET `size` = NULL WHERE `archive_uuid` = OLD.`uuid`;
END;
--> statement-breakpoint
-- The backfill: every job's last run and last success, from the runs there are.
INSERT INTO `job_last_runs` (`job_uuid`, `kind`, `task_uuid`, `status`, `requested_at`, `started_at`, `stopped_at`, `error`, `archive_uuid`, `size`)
    SELECT j.`uuid`, 'last', t.`uuid`, t.`status`, t.`requested_at`, t.`started_at`, t.`stopped_at`, t.`error`, t.`archive_uuid`, a.`size`
    FROM `jobs` j
    JOIN `tasks` t ON t.`rowid` = (SELECT l.`rowid` FROM `tasks` l WHERE l.`job_uuid` = j.`uuid` AND l.`op` = 'backup'
      AND l.`stopped_at` IS NOT NULL AND l.`status` IN ('done', 'failed') ORDER BY l.`stopped_at` DESC, l.`uuid` DESC LIMIT 1)
    LEFT JOIN `archives` a ON a.`uuid` = t.`archive_uuid`;
--> statement-breakpoint
INSERT INTO `job_last_runs` (`job_uuid`, `kind`, `task_uuid`, `status`, `requested_at`, `started_at`, `stopped_at`, `error`, `archive_uuid`, `size`)
    SELECT j.`uuid`, 'success', t.`uuid`, t.`status`, t.`requested_at`, t.`started_at`, t.`stopped_at`, t.`error`, t.`archive_uuid`, a.`size`
    FROM `jobs` j
    JOIN `tasks` t ON t.`rowid` = (SELECT l.`rowid` FROM `tasks` l WHERE l.`job_uuid` = j.`uuid` AND l.`op` = 'backup'
      AND l.`stopped_at` IS NOT NULL AND l.`status` IN ('done') ORDER BY l.`stopped_at` DESC, l.`uuid` DESC LIMIT 1)
    LEFT JOIN `archives` a ON a.`uuid` = t.`archive_uuid`;
