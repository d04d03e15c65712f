CREATE TABLE "archives" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"target_uuid" uuid NOT NULL,
	"store_uuid" uuid NOT NULL,
	"job_uuid" uuid,
	"store_key" text NOT NULL,
	"taken_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"notes" text DEFAULT '' NOT NULL,
	"status" text DEFAULT 'valid' NOT NULL,
	"size" bigint,
	"raw_size" bigint,
	"sha256" text,
	"compression" text DEFAULT 'none' NOT NULL,
	"cipher" text DEFAULT 'none' NOT NULL,
	"encryption_key" text,
	"purged_at" bigint
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"summary" text DEFAULT '' NOT NULL,
	"target_uuid" uuid NOT NULL,
	"store_uuid" uuid NOT NULL,
	"schedule_uuid" uuid NOT NULL,
	"retention_uuid" uuid NOT NULL,
	"priority" integer DEFAULT 50 NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "retention" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"summary" text DEFAULT '' NOT NULL,
	"expiry" integer NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "schedules" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"summary" text DEFAULT '' NOT NULL,
	"timespec" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stores" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"summary" text DEFAULT '' NOT NULL,
	"plugin" text NOT NULL,
	"endpoint" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "targets" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"summary" text DEFAULT '' NOT NULL,
	"plugin" text NOT NULL,
	"endpoint" text NOT NULL,
	"agent" text DEFAULT '' NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tasks" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"op" text NOT NULL,
	"job_uuid" uuid,
	"archive_uuid" uuid,
	"target_uuid" uuid,
	"store_uuid" uuid,
	"status" text NOT NULL,
	"requested_at" bigint NOT NULL,
	"started_at" bigint,
	"stopped_at" bigint,
	"log" text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tokens" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"user_uuid" uuid NOT NULL,
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" bigint NOT NULL,
	"last_used_at" bigint
);
--> statement-breakpoint
CREATE TABLE "users" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"password_hash" text NOT NULL,
	"role" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_target_uuid_targets_uuid_fk" FOREIGN KEY ("target_uuid") REFERENCES "public"."targets"("uuid") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_store_uuid_stores_uuid_fk" FOREIGN KEY ("store_uuid") REFERENCES "public"."stores"("uuid") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_schedule_uuid_schedules_uuid_fk" FOREIGN KEY ("schedule_uuid") REFERENCES "public"."schedules"("uuid") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_retention_uuid_retention_uuid_fk" FOREIGN KEY ("retention_uuid") REFERENCES "public"."retention"("uuid") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tokens" ADD CONSTRAINT "tokens_user_uuid_users_uuid_fk" FOREIGN KEY ("user_uuid") REFERENCES "public"."users"("uuid") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "archives_target_taken" ON "archives" USING btree ("target_uuid","taken_at");--> statement-breakpoint
CREATE INDEX "archives_store_taken" ON "archives" USING btree ("store_uuid","taken_at");--> statement-breakpoint
CREATE INDEX "archives_taken" ON "archives" USING btree ("taken_at");--> statement-breakpoint
CREATE INDEX "archives_status_expires" ON "archives" USING btree ("status","expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_name" ON "jobs" USING btree ("name");--> statement-breakpoint
CREATE INDEX "jobs_target" ON "jobs" USING btree ("target_uuid");--> statement-breakpoint
CREATE INDEX "jobs_store" ON "jobs" USING btree ("store_uuid");--> statement-breakpoint
CREATE INDEX "jobs_schedule" ON "jobs" USING btree ("schedule_uuid");--> statement-breakpoint
CREATE INDEX "jobs_retention" ON "jobs" USING btree ("retention_uuid");--> statement-breakpoint
CREATE UNIQUE INDEX "retention_name" ON "retention" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "schedules_name" ON "schedules" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "stores_name" ON "stores" USING btree ("name");--> statement-breakpoint
CREATE INDEX "stores_plugin" ON "stores" USING btree ("plugin");--> statement-breakpoint
CREATE UNIQUE INDEX "targets_name" ON "targets" USING btree ("name");--> statement-breakpoint
CREATE INDEX "targets_plugin" ON "targets" USING btree ("plugin");--> statement-breakpoint
CREATE INDEX "tasks_status_requested" ON "tasks" USING btree ("status","requested_at");--> statement-breakpoint
CREATE INDEX "tasks_requested" ON "tasks" USING btree ("requested_at");--> statement-breakpoint
CREATE INDEX "tasks_job" ON "tasks" USING btree ("job_uuid");--> statement-breakpoint
CREATE UNIQUE INDEX "tokens_hash" ON "tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "tokens_user_name" ON "tokens" USING btree ("user_uuid","name");--> statement-breakpoint
CREATE UNIQUE INDEX "users_name" ON "users" USING btree ("name");