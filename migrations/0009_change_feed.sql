CREATE TYPE "public"."change_operation" AS ENUM('created', 'updated', 'deleted');--> statement-breakpoint
CREATE TABLE "change_log" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "change_log_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"position" bigint,
	"txid" "xid8" DEFAULT pg_current_xact_id() NOT NULL,
	"institution_id" uuid NOT NULL,
	"entity" varchar(40) NOT NULL,
	"entity_id" uuid NOT NULL,
	"version" integer,
	"operation" "change_operation" NOT NULL,
	"changed_columns" text[] DEFAULT '{}'::text[] NOT NULL,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"request_id" varchar(128)
);
--> statement-breakpoint
CREATE UNIQUE INDEX "change_log_position_unique" ON "change_log" USING btree ("position");--> statement-breakpoint
CREATE INDEX "change_log_feed_idx" ON "change_log" USING btree ("institution_id","position") WHERE "change_log"."position" is not null;--> statement-breakpoint
CREATE INDEX "change_log_pending_idx" ON "change_log" USING btree ("txid","id") WHERE "change_log"."position" is null;