CREATE TABLE "archive_copies" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"archive_uuid" uuid NOT NULL,
	"store_uuid" uuid NOT NULL,
	"retention_uuid" uuid,
	"store_key" text,
	"status" text NOT NULL,
	"size" integer,
	"sha256" text,
	"error" text,
	"created_at" bigint NOT NULL,
	"copied_at" bigint,
	"expires_at" bigint,
	"purged_at" bigint,
	"purge_attempts" integer DEFAULT 0 NOT NULL,
	"purge_next_at" bigint
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "copies" text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "run_window" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "stores" ADD COLUMN "max_tasks" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "stores" ADD COLUMN "bandwidth" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "targets" ADD COLUMN "bandwidth" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "archive_copies_archive_store" ON "archive_copies" USING btree ("archive_uuid","store_uuid");--> statement-breakpoint
CREATE INDEX "archive_copies_status_expires" ON "archive_copies" USING btree ("status","expires_at");