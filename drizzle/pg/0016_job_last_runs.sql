CREATE TABLE "job_last_runs" (
	"job_uuid" uuid NOT NULL,
	"kind" text NOT NULL,
	"task_uuid" uuid NOT NULL,
	"status" text NOT NULL,
	"requested_at" bigint NOT NULL,
	"started_at" bigint,
	"stopped_at" bigint NOT NULL,
	"error" text,
	"archive_uuid" uuid,
	"size" bigint,
	CONSTRAINT "job_last_runs_job_uuid_kind_pk" PRIMARY KEY("job_uuid","kind")
);
--> statement-breakpoint
CREATE INDEX "job_last_runs_archive" ON "job_last_runs" USING btree ("archive_uuid");
--> statement-breakpoint
-- Written by hand (drizzle-kit knows no triggers): job_last_runs follows tasks, archives and jobs.
-- A run (a backup of a job that ended done or failed) inserted or updated becomes its job's last
-- run (and last success if done) when it ended later than the recorded one (ties: the greater
-- uuid, as the readers' ORDER BY stopped_at DESC, uuid DESC): an upsert whose condition is checked
-- against the row as committed, so two runs of a job ending at once in two transactions keep the
-- later. A recorded run deleted (the task pruner) or changed looks up its job's runs again: one
-- backward seek of tasks_job_op_stopped per kind.
CREATE FUNCTION "job_last_runs_recompute"(job uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  k text;
BEGIN
  FOREACH k IN ARRAY ARRAY['last', 'success'] LOOP
    INSERT INTO "job_last_runs" ("job_uuid", "kind", "task_uuid", "status", "requested_at", "started_at", "stopped_at", "error", "archive_uuid", "size")
      SELECT j."uuid", k, t."uuid", t."status", t."requested_at", t."started_at", t."stopped_at", t."error", t."archive_uuid", a."size"
    FROM "jobs" j
    CROSS JOIN LATERAL (SELECT l."uuid", l."status", l."requested_at", l."started_at", l."stopped_at", l."error", l."archive_uuid" FROM "tasks" l
      WHERE l."job_uuid" = j."uuid" AND l."op" = 'backup' AND l."stopped_at" IS NOT NULL AND (l."status" = 'done' OR (k = 'last' AND l."status" = 'failed'))
      ORDER BY l."stopped_at" DESC, l."uuid" DESC LIMIT 1) t
    LEFT JOIN "archives" a ON a."uuid" = t."archive_uuid"
      WHERE j."uuid" = job
      ON CONFLICT ("job_uuid", "kind") DO UPDATE SET "task_uuid" = excluded."task_uuid", "status" = excluded."status",
      "requested_at" = excluded."requested_at", "started_at" = excluded."started_at", "stopped_at" = excluded."stopped_at",
      "error" = excluded."error", "archive_uuid" = excluded."archive_uuid", "size" = excluded."size";
    IF NOT FOUND THEN
      DELETE FROM "job_last_runs" WHERE "job_uuid" = job AND "kind" = k;
    END IF;
  END LOOP;
END
$$;
--> statement-breakpoint
CREATE FUNCTION "job_last_runs_task_row"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The recorded run changed (no longer a run, moved, ended earlier...): its job's runs read again.
  IF TG_OP = 'UPDATE' AND OLD."job_uuid" IS NOT NULL
    AND EXISTS (SELECT 1 FROM "job_last_runs" r WHERE r."job_uuid" = OLD."job_uuid" AND r."task_uuid" = OLD."uuid") THEN
    PERFORM "job_last_runs_recompute"(OLD."job_uuid");
  END IF;
  IF NEW."op" = 'backup' AND NEW."job_uuid" IS NOT NULL AND NEW."stopped_at" IS NOT NULL AND NEW."status" IN ('done', 'failed') THEN
    INSERT INTO "job_last_runs" ("job_uuid", "kind", "task_uuid", "status", "requested_at", "started_at", "stopped_at", "error", "archive_uuid", "size")
      SELECT NEW."job_uuid", 'last', NEW."uuid", NEW."status", NEW."requested_at", NEW."started_at", NEW."stopped_at", NEW."error", NEW."archive_uuid",
        (SELECT a."size" FROM "archives" a WHERE a."uuid" = NEW."archive_uuid")
      FROM "jobs" j WHERE j."uuid" = NEW."job_uuid"
      ON CONFLICT ("job_uuid", "kind") DO UPDATE SET "task_uuid" = excluded."task_uuid", "status" = excluded."status",
      "requested_at" = excluded."requested_at", "started_at" = excluded."started_at", "stopped_at" = excluded."stopped_at",
      "error" = excluded."error", "archive_uuid" = excluded."archive_uuid", "size" = excluded."size"
      WHERE (excluded."stopped_at", excluded."task_uuid") >= ("job_last_runs"."stopped_at", "job_last_runs"."task_uuid");
    INSERT INTO "job_last_runs" ("job_uuid", "kind", "task_uuid", "status", "requested_at", "started_at", "stopped_at", "error", "archive_uuid", "size")
      SELECT NEW."job_uuid", 'success', NEW."uuid", NEW."status", NEW."requested_at", NEW."started_at", NEW."stopped_at", NEW."error", NEW."archive_uuid",
        (SELECT a."size" FROM "archives" a WHERE a."uuid" = NEW."archive_uuid")
      FROM "jobs" j WHERE j."uuid" = NEW."job_uuid" AND NEW."status" = 'done'
      ON CONFLICT ("job_uuid", "kind") DO UPDATE SET "task_uuid" = excluded."task_uuid", "status" = excluded."status",
      "requested_at" = excluded."requested_at", "started_at" = excluded."started_at", "stopped_at" = excluded."stopped_at",
      "error" = excluded."error", "archive_uuid" = excluded."archive_uuid", "size" = excluded."size"
      WHERE (excluded."stopped_at", excluded."task_uuid") >= ("job_last_runs"."stopped_at", "job_last_runs"."task_uuid");
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
-- Deletes (the task pruner removes thousands at once): per statement, the jobs whose recorded run went.
CREATE FUNCTION "job_last_runs_task_delete"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  job uuid;
BEGIN
  FOR job IN SELECT DISTINCT r."job_uuid" FROM "job_last_runs" r JOIN "old_rows" o ON o."uuid" = r."task_uuid" ORDER BY 1 LOOP
    PERFORM "job_last_runs_recompute"(job);
  END LOOP;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "job_last_runs_task_insert" AFTER INSERT ON "tasks" FOR EACH ROW
  WHEN (NEW."op" = 'backup' AND NEW."job_uuid" IS NOT NULL AND NEW."stopped_at" IS NOT NULL AND NEW."status" IN ('done', 'failed')) EXECUTE FUNCTION "job_last_runs_task_row"();
--> statement-breakpoint
-- Only updates that set a run's columns, of a row that is or was a run (log appends and heartbeats of running tasks never call it).
CREATE TRIGGER "job_last_runs_task_update" AFTER UPDATE OF "op", "job_uuid", "status", "requested_at", "started_at", "stopped_at", "error", "archive_uuid" ON "tasks" FOR EACH ROW
  WHEN ((NEW."op" = 'backup' AND NEW."job_uuid" IS NOT NULL AND NEW."stopped_at" IS NOT NULL AND NEW."status" IN ('done', 'failed')) OR (OLD."op" = 'backup' AND OLD."job_uuid" IS NOT NULL AND OLD."stopped_at" IS NOT NULL AND OLD."status" IN ('done', 'failed'))) EXECUTE FUNCTION "job_last_runs_task_row"();
--> statement-breakpoint
CREATE TRIGGER "job_last_runs_task_delete" AFTER DELETE ON "tasks" REFERENCING OLD TABLE AS "old_rows"
  FOR EACH STATEMENT EXECUTE FUNCTION "job_last_runs_task_delete"();
--> statement-breakpoint
CREATE FUNCTION "job_last_runs_job_delete"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "job_last_runs" r USING "old_rows" o WHERE r."job_uuid" = o."uuid";
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "job_last_runs_job_delete" AFTER DELETE ON "jobs" REFERENCING OLD TABLE AS "old_rows"
  FOR EACH STATEMENT EXECUTE FUNCTION "job_last_runs_job_delete"();
--> statement-breakpoint
-- The run's archive size: the archive row may be written after its task ended, or change. Per
-- statement (the purger updates thousands of archives' status at once, never their size).
CREATE FUNCTION "job_last_runs_archive"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    UPDATE "job_last_runs" r SET "size" = NULL FROM "old_rows" o WHERE r."archive_uuid" = o."uuid";
  ELSE
    IF TG_OP = 'UPDATE' THEN
      -- An archive's uuid never changes in Shield; were it to, the old one's runs lose their size.
      UPDATE "job_last_runs" r SET "size" = NULL FROM "old_rows" o WHERE r."archive_uuid" = o."uuid"
        AND NOT EXISTS (SELECT 1 FROM "new_rows" n WHERE n."uuid" = o."uuid");
    END IF;
    UPDATE "job_last_runs" r SET "size" = n."size" FROM "new_rows" n WHERE r."archive_uuid" = n."uuid" AND r."size" IS DISTINCT FROM n."size";
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "job_last_runs_archive_insert" AFTER INSERT ON "archives" REFERENCING NEW TABLE AS "new_rows"
  FOR EACH STATEMENT EXECUTE FUNCTION "job_last_runs_archive"();
--> statement-breakpoint
CREATE TRIGGER "job_last_runs_archive_update" AFTER UPDATE ON "archives" REFERENCING OLD TABLE AS "old_rows" NEW TABLE AS "new_rows"
  FOR EACH STATEMENT EXECUTE FUNCTION "job_last_runs_archive"();
--> statement-breakpoint
CREATE TRIGGER "job_last_runs_archive_delete" AFTER DELETE ON "archives" REFERENCING OLD TABLE AS "old_rows"
  FOR EACH STATEMENT EXECUTE FUNCTION "job_last_runs_archive"();
--> statement-breakpoint
-- The backfill: every job's last run and last success, from the runs there are.
INSERT INTO "job_last_runs" ("job_uuid", "kind", "task_uuid", "status", "requested_at", "started_at", "stopped_at", "error", "archive_uuid", "size")
  SELECT j."uuid", 'last', t."uuid", t."status", t."requested_at", t."started_at", t."stopped_at", t."error", t."archive_uuid", a."size"
    FROM "jobs" j
    CROSS JOIN LATERAL (SELECT l."uuid", l."status", l."requested_at", l."started_at", l."stopped_at", l."error", l."archive_uuid" FROM "tasks" l
      WHERE l."job_uuid" = j."uuid" AND l."op" = 'backup' AND l."stopped_at" IS NOT NULL AND l."status" IN ('done', 'failed')
      ORDER BY l."stopped_at" DESC, l."uuid" DESC LIMIT 1) t
    LEFT JOIN "archives" a ON a."uuid" = t."archive_uuid";
--> statement-breakpoint
INSERT INTO "job_last_runs" ("job_uuid", "kind", "task_uuid", "status", "requested_at", "started_at", "stopped_at", "error", "archive_uuid", "size")
  SELECT j."uuid", 'success', t."uuid", t."status", t."requested_at", t."started_at", t."stopped_at", t."error", t."archive_uuid", a."size"
    FROM "jobs" j
    CROSS JOIN LATERAL (SELECT l."uuid", l."status", l."requested_at", l."started_at", l."stopped_at", l."error", l."archive_uuid" FROM "tasks" l
      WHERE l."job_uuid" = j."uuid" AND l."op" = 'backup' AND l."stopped_at" IS NOT NULL AND l."status" = 'done'
      ORDER BY l."stopped_at" DESC, l."uuid" DESC LIMIT 1) t
    LEFT JOIN "archives" a ON a."uuid" = t."archive_uuid";
