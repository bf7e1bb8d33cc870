CREATE TYPE "public"."disease_area" AS ENUM('tumour', 'neurological', 'pan_vascular', 'respiratory', 'rheumatic_immune_musculoskeletal', 'sensory', 'other');--> statement-breakpoint
CREATE TYPE "public"."sharing_item_state" AS ENUM('proposed', 'reserved', 'released', 'withdrawn', 'shipped', 'received', 'damaged', 'missing', 'temperature_excursion');--> statement-breakpoint
CREATE TYPE "public"."sharing_request_state" AS ENUM('draft', 'submitted', 'under_review', 'approved', 'rejected', 'reserved', 'shipped', 'received', 'completed', 'cancelled');--> statement-breakpoint
CREATE TYPE "public"."sharing_use" AS ENUM('internal_research', 'genetic_research', 'external_sharing', 'commercial_use');--> statement-breakpoint
CREATE TYPE "public"."shipping_temperature" AS ENUM('ambient', '2_8c', 'dry_ice', 'ln2_dry_shipper');--> statement-breakpoint
CREATE TABLE "sharing_agreement" (
	"id" uuid PRIMARY KEY NOT NULL,
	"provider_institution_id" uuid NOT NULL,
	"requester_institution_id" uuid NOT NULL,
	"uses" "sharing_use"[] NOT NULL,
	"mta_reference" varchar(120) NOT NULL,
	"valid_from" date NOT NULL,
	"valid_until" date,
	"review_deadline_days" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "sharing_agreement_not_self" CHECK ("sharing_agreement"."provider_institution_id" <> "sharing_agreement"."requester_institution_id"),
	CONSTRAINT "sharing_agreement_uses_nonempty" CHECK (cardinality("sharing_agreement"."uses") > 0),
	CONSTRAINT "sharing_agreement_dates" CHECK ("sharing_agreement"."valid_until" is null or "sharing_agreement"."valid_until" >= "sharing_agreement"."valid_from"),
	CONSTRAINT "sharing_agreement_review_days" CHECK ("sharing_agreement"."review_deadline_days" between 1 and 365)
);
--> statement-breakpoint
CREATE TABLE "sharing_request_event" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "sharing_request_event_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"request_id" uuid NOT NULL,
	"actor" varchar(120) NOT NULL,
	"actor_institution_id" uuid,
	"call_request_id" varchar(128) NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"action" varchar(40) NOT NULL,
	"from_state" "sharing_request_state",
	"to_state" "sharing_request_state" NOT NULL,
	"reason" text,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sharing_request_item" (
	"id" uuid PRIMARY KEY NOT NULL,
	"request_id" uuid NOT NULL,
	"provider_institution_id" uuid NOT NULL,
	"specimen_id" uuid NOT NULL,
	"sample_code" varchar(16) NOT NULL,
	"donor_code" varchar(16) NOT NULL,
	"state" "sharing_item_state" DEFAULT 'proposed' NOT NULL,
	"receiver_specimen_id" uuid,
	"note" varchar(500),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sharing_request" (
	"id" uuid PRIMARY KEY NOT NULL,
	"requester_institution_id" uuid NOT NULL,
	"provider_institution_id" uuid NOT NULL,
	"agreement_id" uuid NOT NULL,
	"use" "sharing_use" NOT NULL,
	"ethics_approval_ref" varchar(120) NOT NULL,
	"criteria" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"specimen_count" integer NOT NULL,
	"quantity_per_specimen" numeric(14, 4) NOT NULL,
	"unit" "quantity_unit" NOT NULL,
	"one_per_donor" boolean DEFAULT true NOT NULL,
	"purpose" text NOT NULL,
	"state" "sharing_request_state" DEFAULT 'draft' NOT NULL,
	"reason" text,
	"submitted_at" timestamp with time zone,
	"proposed_at" timestamp with time zone,
	"review_started_at" timestamp with time zone,
	"review_reminded_at" timestamp with time zone,
	"review_escalated_at" timestamp with time zone,
	"reservation_deadline" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "sharing_request_not_self" CHECK ("sharing_request"."provider_institution_id" <> "sharing_request"."requester_institution_id"),
	CONSTRAINT "sharing_request_count" CHECK ("sharing_request"."specimen_count" between 1 and 10000),
	CONSTRAINT "sharing_request_quantity" CHECK ("sharing_request"."quantity_per_specimen" > 0)
);
--> statement-breakpoint
CREATE TABLE "shipment" (
	"id" uuid PRIMARY KEY NOT NULL,
	"request_id" uuid NOT NULL,
	"provider_institution_id" uuid NOT NULL,
	"requester_institution_id" uuid NOT NULL,
	"courier" varchar(120),
	"tracking_number" varchar(120),
	"shipping_temperature" "shipping_temperature",
	"dispatched_at" timestamp with time zone,
	"received_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "shipment_received_after_dispatch" CHECK ("shipment"."received_at" is null or "shipment"."dispatched_at" is not null)
);
--> statement-breakpoint
ALTER TABLE "collection_protocol" ADD COLUMN "disease_area" "disease_area" DEFAULT 'other' NOT NULL;--> statement-breakpoint
ALTER TABLE "sharing_agreement" ADD CONSTRAINT "sharing_agreement_provider_institution_id_institution_id_fk" FOREIGN KEY ("provider_institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sharing_agreement" ADD CONSTRAINT "sharing_agreement_requester_institution_id_institution_id_fk" FOREIGN KEY ("requester_institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sharing_request_event" ADD CONSTRAINT "sharing_request_event_request_id_sharing_request_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."sharing_request"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sharing_request_event" ADD CONSTRAINT "sharing_request_event_actor_institution_id_institution_id_fk" FOREIGN KEY ("actor_institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sharing_request_item" ADD CONSTRAINT "sharing_request_item_request_id_sharing_request_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."sharing_request"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sharing_request_item" ADD CONSTRAINT "sharing_request_item_provider_institution_id_institution_id_fk" FOREIGN KEY ("provider_institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sharing_request_item" ADD CONSTRAINT "sharing_request_item_specimen_id_specimen_id_fk" FOREIGN KEY ("specimen_id") REFERENCES "public"."specimen"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sharing_request_item" ADD CONSTRAINT "sharing_request_item_receiver_specimen_id_specimen_id_fk" FOREIGN KEY ("receiver_specimen_id") REFERENCES "public"."specimen"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sharing_request" ADD CONSTRAINT "sharing_request_requester_institution_id_institution_id_fk" FOREIGN KEY ("requester_institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sharing_request" ADD CONSTRAINT "sharing_request_provider_institution_id_institution_id_fk" FOREIGN KEY ("provider_institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sharing_request" ADD CONSTRAINT "sharing_request_agreement_id_sharing_agreement_id_fk" FOREIGN KEY ("agreement_id") REFERENCES "public"."sharing_agreement"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shipment" ADD CONSTRAINT "shipment_request_id_sharing_request_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."sharing_request"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shipment" ADD CONSTRAINT "shipment_provider_institution_id_institution_id_fk" FOREIGN KEY ("provider_institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shipment" ADD CONSTRAINT "shipment_requester_institution_id_institution_id_fk" FOREIGN KEY ("requester_institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "sharing_agreement_mta_unique" ON "sharing_agreement" USING btree ("provider_institution_id","requester_institution_id","mta_reference");--> statement-breakpoint
CREATE INDEX "sharing_agreement_requester_idx" ON "sharing_agreement" USING btree ("requester_institution_id");--> statement-breakpoint
CREATE INDEX "sharing_request_event_request_idx" ON "sharing_request_event" USING btree ("request_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "sharing_item_specimen_unique" ON "sharing_request_item" USING btree ("request_id","specimen_id");--> statement-breakpoint
CREATE UNIQUE INDEX "sharing_item_sample_code_unique" ON "sharing_request_item" USING btree ("request_id","sample_code");--> statement-breakpoint
CREATE UNIQUE INDEX "sharing_item_active_reservation" ON "sharing_request_item" USING btree ("specimen_id") WHERE "sharing_request_item"."state" in ('reserved', 'shipped');--> statement-breakpoint
CREATE INDEX "sharing_item_specimen_idx" ON "sharing_request_item" USING btree ("specimen_id");--> statement-breakpoint
CREATE INDEX "sharing_request_requester_idx" ON "sharing_request" USING btree ("requester_institution_id","id");--> statement-breakpoint
CREATE INDEX "sharing_request_provider_idx" ON "sharing_request" USING btree ("provider_institution_id","id");--> statement-breakpoint
CREATE INDEX "sharing_request_review_due_idx" ON "sharing_request" USING btree ("submitted_at") WHERE "sharing_request"."state" in ('submitted', 'under_review');--> statement-breakpoint
CREATE INDEX "sharing_request_reservation_due_idx" ON "sharing_request" USING btree ("reservation_deadline") WHERE "sharing_request"."state" = 'reserved';--> statement-breakpoint
CREATE UNIQUE INDEX "shipment_request_unique" ON "shipment" USING btree ("request_id");