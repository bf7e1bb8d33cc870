CREATE TYPE "public"."qc_outcome" AS ENUM('pass', 'warn', 'fail');--> statement-breakpoint
CREATE TYPE "public"."standardization_run_status" AS ENUM('queued', 'running', 'completed', 'failed');--> statement-breakpoint
CREATE TABLE "qc_result_history" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "qc_result_history_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"specimen_id" uuid NOT NULL,
	"institution_id" uuid NOT NULL,
	"check_code" varchar(80) NOT NULL,
	"previous_outcome" "qc_outcome" NOT NULL,
	"outcome" "qc_outcome" NOT NULL,
	"message" text NOT NULL,
	"ruleset_version" integer,
	"run_id" uuid,
	"checked_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "qc_result" (
	"specimen_id" uuid NOT NULL,
	"check_code" varchar(80) NOT NULL,
	"institution_id" uuid NOT NULL,
	"outcome" "qc_outcome" NOT NULL,
	"message" text NOT NULL,
	"details" jsonb,
	"ruleset_version" integer,
	"run_id" uuid,
	"checked_at" timestamp with time zone NOT NULL,
	CONSTRAINT "qc_result_pkey" PRIMARY KEY("specimen_id","check_code")
);
--> statement-breakpoint
CREATE TABLE "quality_ruleset" (
	"id" uuid PRIMARY KEY NOT NULL,
	"institution_id" uuid NOT NULL,
	"protocol_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"rules" jsonb NOT NULL,
	"created_by" varchar(120) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "standardization_run" (
	"id" uuid PRIMARY KEY NOT NULL,
	"institution_id" uuid NOT NULL,
	"status" "standardization_run_status" DEFAULT 'queued' NOT NULL,
	"filter" jsonb NOT NULL,
	"total" integer,
	"processed" integer DEFAULT 0 NOT NULL,
	"skipped" integer DEFAULT 0 NOT NULL,
	"holds_placed" integer DEFAULT 0 NOT NULL,
	"summary" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"rulesets" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"cursor" uuid,
	"max_id" uuid,
	"error" text,
	"requested_by" varchar(120) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "qc_result" ADD CONSTRAINT "qc_result_specimen_id_specimen_id_fk" FOREIGN KEY ("specimen_id") REFERENCES "public"."specimen"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "quality_ruleset" ADD CONSTRAINT "quality_ruleset_institution_id_institution_id_fk" FOREIGN KEY ("institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "quality_ruleset" ADD CONSTRAINT "quality_ruleset_protocol_id_collection_protocol_id_fk" FOREIGN KEY ("protocol_id") REFERENCES "public"."collection_protocol"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "standardization_run" ADD CONSTRAINT "standardization_run_institution_id_institution_id_fk" FOREIGN KEY ("institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "qc_result_history_specimen_idx" ON "qc_result_history" USING btree ("specimen_id","id");--> statement-breakpoint
CREATE INDEX "qc_result_run_idx" ON "qc_result" USING btree ("run_id","specimen_id") WHERE "qc_result"."run_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "quality_ruleset_version_unique" ON "quality_ruleset" USING btree ("protocol_id","version");--> statement-breakpoint
CREATE INDEX "standardization_run_institution_idx" ON "standardization_run" USING btree ("institution_id","id");