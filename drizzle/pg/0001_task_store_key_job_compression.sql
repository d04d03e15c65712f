ALTER TABLE "retention" ALTER COLUMN "expiry" SET DATA TYPE bigint;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "compression" text DEFAULT 'zstd' NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "store_key" text;