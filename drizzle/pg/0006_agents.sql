CREATE TABLE "agents" (
	"name" text PRIMARY KEY NOT NULL,
	"host_key" text NOT NULL,
	"first_seen" bigint NOT NULL,
	"last_seen" bigint NOT NULL,
	"version" text DEFAULT '' NOT NULL
);
