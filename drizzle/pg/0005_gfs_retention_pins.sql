ALTER TABLE "archives" ADD COLUMN "pinned" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "archives" ADD COLUMN "pin_reason" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "retention" ADD COLUMN "keep_last" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "retention" ADD COLUMN "keep_hourly" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "retention" ADD COLUMN "keep_daily" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "retention" ADD COLUMN "keep_weekly" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "retention" ADD COLUMN "keep_monthly" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "retention" ADD COLUMN "keep_yearly" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "retention" ADD COLUMN "keep_within" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "archives_job_taken" ON "archives" USING btree ("job_uuid","taken_at");