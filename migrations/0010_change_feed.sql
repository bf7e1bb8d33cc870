CREATE TYPE "public"."change_operation" AS ENUM('created', 'updated', 'deleted');--> statement-breakpoint
CREATE TABLE "change_log" (
	"position" bigint PRIMARY KEY NOT NULL,
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
CREATE TABLE "change_log_pending" (
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "change_log_pending_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
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
CREATE TABLE "change_log_sequencer" (
	"id" integer PRIMARY KEY NOT NULL,
	"low_txid" "xid8" NOT NULL,
	CONSTRAINT "change_log_sequencer_one_row" CHECK ("change_log_sequencer"."id" = 1)
);
--> statement-breakpoint
CREATE INDEX "change_log_feed_idx" ON "change_log" USING btree ("institution_id","position");--> statement-breakpoint
CREATE INDEX "change_log_pending_order_idx" ON "change_log_pending" USING btree ("txid","id");