CREATE TABLE "drill_results" (
	"task_uuid" uuid PRIMARY KEY NOT NULL,
	"job_uuid" uuid NOT NULL,
	"archive_uuid" uuid,
	"ok" boolean NOT NULL,
	"rto_ms" bigint,
	"figures" text,
	"verify" text NOT NULL,
	"error" text,
	"finished_ms" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "drills" (
	"job_uuid" uuid PRIMARY KEY NOT NULL,
	"scratch_target_uuid" uuid NOT NULL,
	"schedule_uuid" uuid NOT NULL,
	"next_due_at" bigint,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification_channels" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"settings" text NOT NULL,
	"events" text NOT NULL,
	"jobs" text DEFAULT '[]' NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification_deliveries" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"channel_uuid" uuid NOT NULL,
	"event" text NOT NULL,
	"task_uuid" uuid,
	"job_uuid" uuid,
	"message" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_at" bigint,
	"last_error" text,
	"created_at" bigint NOT NULL,
	"delivered_at" bigint
);
--> statement-breakpoint
CREATE INDEX "drill_results_job_finished" ON "drill_results" USING btree ("job_uuid","finished_ms");--> statement-breakpoint
CREATE UNIQUE INDEX "drills_scratch_target" ON "drills" USING btree ("scratch_target_uuid");--> statement-breakpoint
CREATE UNIQUE INDEX "notification_channels_name" ON "notification_channels" USING btree ("name");--> statement-breakpoint
CREATE INDEX "notification_deliveries_status_next" ON "notification_deliveries" USING btree ("status","next_at");--> statement-breakpoint
CREATE INDEX "notification_deliveries_created" ON "notification_deliveries" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "notification_deliveries_once" ON "notification_deliveries" USING btree ("channel_uuid","event","task_uuid");