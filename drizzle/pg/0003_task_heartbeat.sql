ALTER TABLE "tasks" ADD COLUMN "runner_id" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "runner_host" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "runner_pid" integer;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "runner_pid_space" text;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "heartbeat_at" bigint;