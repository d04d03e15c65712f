CREATE TABLE "audit_entries" (
	"uuid" uuid PRIMARY KEY NOT NULL,
	"at" bigint NOT NULL,
	"user_uuid" uuid,
	"user_name" text NOT NULL,
	"provider" text,
	"token_name" text,
	"address" text NOT NULL,
	"action" text NOT NULL,
	"object_type" text NOT NULL,
	"object_uuid" text,
	"object_name" text,
	"changes" text
);
--> statement-breakpoint
CREATE INDEX "audit_entries_at" ON "audit_entries" USING btree ("at");--> statement-breakpoint
CREATE INDEX "audit_entries_user_at" ON "audit_entries" USING btree ("user_name","at");--> statement-breakpoint
CREATE INDEX "audit_entries_object_at" ON "audit_entries" USING btree ("object_type","object_uuid","at");--> statement-breakpoint
CREATE INDEX "audit_entries_uuid_at" ON "audit_entries" USING btree ("object_uuid","at");--> statement-breakpoint
CREATE INDEX "audit_entries_action_at" ON "audit_entries" USING btree ("action","at");