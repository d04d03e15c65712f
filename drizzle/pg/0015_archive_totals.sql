CREATE TABLE "archive_totals" (
	"store_uuid" uuid NOT NULL,
	"status" text NOT NULL,
	"target_uuid" uuid NOT NULL,
	"archives" integer DEFAULT 0 NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "archive_totals_store_uuid_status_target_uuid_pk" PRIMARY KEY("store_uuid","status","target_uuid")
);
--> statement-breakpoint
DROP INDEX "archives_store_status_target";--> statement-breakpoint
DROP INDEX "archives_taken";--> statement-breakpoint
DROP INDEX "archives_status_purged";--> statement-breakpoint
CREATE INDEX "archives_taken" ON "archives" USING btree ("taken_at","store_uuid","size");--> statement-breakpoint
CREATE INDEX "archives_status_purged" ON "archives" USING btree ("status","purged_at","store_uuid","size");
--> statement-breakpoint
-- Written by hand (drizzle-kit knows no triggers): archive_totals follows every change of archives.
-- Once per statement, over its transition tables: the changed rows netted per (store, status,
-- target), applied in key order so that two daemons' purgers updating many archives at once
-- lock the totals' rows in the same order.
CREATE FUNCTION "archive_totals_apply"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO "archive_totals" ("store_uuid", "status", "target_uuid", "archives", "bytes")
      SELECT "store_uuid", "status", "target_uuid", count(*), sum(coalesce("size", 0)) FROM "new_rows"
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
      ON CONFLICT ("store_uuid", "status", "target_uuid") DO UPDATE
      SET "archives" = "archive_totals"."archives" + excluded."archives", "bytes" = "archive_totals"."bytes" + excluded."bytes";
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO "archive_totals" ("store_uuid", "status", "target_uuid", "archives", "bytes")
      SELECT "store_uuid", "status", "target_uuid", -count(*), -sum(coalesce("size", 0)) FROM "old_rows"
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
      ON CONFLICT ("store_uuid", "status", "target_uuid") DO UPDATE
      SET "archives" = "archive_totals"."archives" + excluded."archives", "bytes" = "archive_totals"."bytes" + excluded."bytes";
  ELSE
    INSERT INTO "archive_totals" ("store_uuid", "status", "target_uuid", "archives", "bytes")
      SELECT s, st, t, sum(n), sum(b) FROM (
        SELECT "store_uuid" AS s, "status" AS st, "target_uuid" AS t, 1 AS n, coalesce("size", 0) AS b FROM "new_rows"
        UNION ALL
        SELECT "store_uuid", "status", "target_uuid", -1, -coalesce("size", 0) FROM "old_rows"
      ) d GROUP BY 1, 2, 3 HAVING sum(n) <> 0 OR sum(b) <> 0 ORDER BY 1, 2, 3
      ON CONFLICT ("store_uuid", "status", "target_uuid") DO UPDATE
      SET "archives" = "archive_totals"."archives" + excluded."archives", "bytes" = "archive_totals"."bytes" + excluded."bytes";
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "archive_totals_insert" AFTER INSERT ON "archives" REFERENCING NEW TABLE AS "new_rows"
  FOR EACH STATEMENT EXECUTE FUNCTION "archive_totals_apply"();--> statement-breakpoint
CREATE TRIGGER "archive_totals_update" AFTER UPDATE ON "archives" REFERENCING OLD TABLE AS "old_rows" NEW TABLE AS "new_rows"
  FOR EACH STATEMENT EXECUTE FUNCTION "archive_totals_apply"();--> statement-breakpoint
CREATE TRIGGER "archive_totals_delete" AFTER DELETE ON "archives" REFERENCING OLD TABLE AS "old_rows"
  FOR EACH STATEMENT EXECUTE FUNCTION "archive_totals_apply"();--> statement-breakpoint
INSERT INTO "archive_totals" ("store_uuid", "status", "target_uuid", "archives", "bytes")
  SELECT "store_uuid", "status", "target_uuid", count(*), sum(coalesce("size", 0)) FROM "archives" GROUP BY 1, 2, 3;
