CREATE TYPE "public"."consent_cascade_kind" AS ENUM('withdraw', 'reconsent');--> statement-breakpoint
CREATE TYPE "public"."consent_cascade_status" AS ENUM('pending', 'running', 'completed');--> statement-breakpoint
CREATE TYPE "public"."consent_status" AS ENUM('active', 'withdrawn', 'expired');--> statement-breakpoint
CREATE TYPE "public"."withdrawal_scope" AS ENUM('stop_future_use', 'destroy_specimens', 'stop_data_use');--> statement-breakpoint
CREATE TABLE "consent_cascade" (
	"id" uuid PRIMARY KEY NOT NULL,
	"institution_id" uuid NOT NULL,
	"consent_id" uuid NOT NULL,
	"kind" "consent_cascade_kind" NOT NULL,
	"status" "consent_cascade_status" DEFAULT 'pending' NOT NULL,
	"specimens_found" integer DEFAULT 0 NOT NULL,
	"specimens_changed" integer DEFAULT 0 NOT NULL,
	"destruction_listed" integer DEFAULT 0 NOT NULL,
	"partners_notified" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "consent" (
	"id" uuid PRIMARY KEY NOT NULL,
	"institution_id" uuid NOT NULL,
	"participant_id" uuid NOT NULL,
	"protocol_id" uuid NOT NULL,
	"document_version" varchar(40) NOT NULL,
	"signed_on" date NOT NULL,
	"obtained_by" varchar(120) NOT NULL,
	"responses" jsonb NOT NULL,
	"status" "consent_status" DEFAULT 'active' NOT NULL,
	"expires_on" date,
	"withdrawn_at" timestamp with time zone,
	"withdrawal_scope" "withdrawal_scope",
	"withdrawal_reason" text,
	"supersedes_id" uuid,
	"superseded_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "destruction_item" (
	"id" uuid PRIMARY KEY NOT NULL,
	"institution_id" uuid NOT NULL,
	"specimen_id" uuid NOT NULL,
	"consent_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"confirmed_at" timestamp with time zone,
	"confirmed_by" varchar(120)
);
--> statement-breakpoint
ALTER TABLE "consent_cascade" ADD CONSTRAINT "consent_cascade_consent_id_consent_id_fk" FOREIGN KEY ("consent_id") REFERENCES "public"."consent"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent" ADD CONSTRAINT "consent_institution_id_institution_id_fk" FOREIGN KEY ("institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent" ADD CONSTRAINT "consent_participant_id_participant_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participant"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent" ADD CONSTRAINT "consent_protocol_id_collection_protocol_id_fk" FOREIGN KEY ("protocol_id") REFERENCES "public"."collection_protocol"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "destruction_item" ADD CONSTRAINT "destruction_item_specimen_id_specimen_id_fk" FOREIGN KEY ("specimen_id") REFERENCES "public"."specimen"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "destruction_item" ADD CONSTRAINT "destruction_item_consent_id_consent_id_fk" FOREIGN KEY ("consent_id") REFERENCES "public"."consent"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "consent_cascade_consent_idx" ON "consent_cascade" USING btree ("consent_id");--> statement-breakpoint
CREATE UNIQUE INDEX "consent_current_unique" ON "consent" USING btree ("participant_id","protocol_id") WHERE "consent"."superseded_at" is null;--> statement-breakpoint
CREATE INDEX "consent_participant_idx" ON "consent" USING btree ("participant_id");--> statement-breakpoint
CREATE UNIQUE INDEX "destruction_item_specimen_unique" ON "destruction_item" USING btree ("specimen_id","consent_id");--> statement-breakpoint
CREATE INDEX "destruction_item_open_idx" ON "destruction_item" USING btree ("institution_id") WHERE "destruction_item"."confirmed_at" is null;