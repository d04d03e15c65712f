CREATE TABLE "auth_providers" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"type" text NOT NULL,
	"config" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tokens" ADD COLUMN "role" text;--> statement-breakpoint
ALTER TABLE "tokens" ADD COLUMN "expires_at" bigint;--> statement-breakpoint
ALTER TABLE "tokens" ADD COLUMN "checked_at" bigint;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "provider" text DEFAULT 'local' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "auth_providers_name" ON "auth_providers" USING btree ("name");