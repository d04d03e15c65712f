ALTER TABLE "tasks" ADD COLUMN "error" text;--> statement-breakpoint
CREATE INDEX "archives_store_status_target" ON "archives" USING btree ("store_uuid","status","target_uuid","taken_at","size");--> statement-breakpoint
CREATE INDEX "archives_status_purged" ON "archives" USING btree ("status","purged_at");--> statement-breakpoint
CREATE INDEX "tasks_job_op_stopped" ON "tasks" USING btree ("job_uuid","op","stopped_at","uuid");--> statement-breakpoint
CREATE INDEX "tasks_op_stopped" ON "tasks" USING btree ("op","stopped_at");