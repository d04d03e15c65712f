CREATE TABLE "archive_objects" (
	"archive_uuid" uuid NOT NULL,
	"name" text NOT NULL,
	"store_key" text NOT NULL,
	"size" bigint NOT NULL,
	"stored_at" bigint NOT NULL,
	CONSTRAINT "archive_objects_archive_uuid_name_pk" PRIMARY KEY("archive_uuid","name")
);
