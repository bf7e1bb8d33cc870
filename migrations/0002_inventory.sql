CREATE TYPE "public"."custody_event_type" AS ENUM('registered', 'collected', 'received', 'stored', 'moved', 'checked_out', 'checked_in', 'thawed', 'aliquoted', 'derived', 'created_from_parent', 'qc_recorded', 'reserved', 'reservation_released', 'shipped', 'received_by_partner', 'consumed', 'destroyed', 'marked_missing', 'found', 'consent_withdrawn', 'hold_placed', 'hold_released', 'corrected');--> statement-breakpoint
CREATE TYPE "public"."participant_sex" AS ENUM('female', 'male', 'other', 'unknown');--> statement-breakpoint
CREATE TYPE "public"."pathology_status" AS ENUM('normal', 'malignant', 'benign', 'pre_malignant', 'not_applicable', 'unknown');--> statement-breakpoint
CREATE TYPE "public"."qc_status" AS ENUM('unchecked', 'pass', 'warn', 'fail');--> statement-breakpoint
CREATE TYPE "public"."quantity_unit" AS ENUM('mL', 'uL', 'mg', 'ug', 'slides', 'blocks', 'cells');--> statement-breakpoint
CREATE TYPE "public"."specimen_lineage" AS ENUM('primary', 'aliquot', 'derivative');--> statement-breakpoint
CREATE TYPE "public"."specimen_status" AS ENUM('pending', 'available', 'in_use', 'reserved', 'shipped', 'distributed', 'consumed', 'destroyed', 'missing');--> statement-breakpoint
CREATE TYPE "public"."specimen_type" AS ENUM('whole_blood', 'plasma', 'plasma_double_spun', 'serum', 'buffy_coat', 'pbmc', 'red_blood_cells', 'bone_marrow', 'cord_blood', 'urine', 'saliva', 'sputum', 'csf', 'stool', 'fresh_frozen_tissue', 'oct_tissue', 'ffpe_block', 'ffpe_slide', 'dna', 'rna', 'cfdna', 'protein');--> statement-breakpoint
CREATE TYPE "public"."container_kind" AS ENUM('site', 'freezer', 'ln2_tank', 'refrigerator', 'rack', 'shelf', 'box', 'plate');--> statement-breakpoint
CREATE TYPE "public"."fill_order" AS ENUM('row_major', 'column_major');--> statement-breakpoint
CREATE TYPE "public"."grid_scheme" AS ENUM('alphanumeric', 'numeric');--> statement-breakpoint
CREATE TABLE "custody_event" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "custody_event_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"specimen_id" uuid NOT NULL,
	"institution_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"type" "custody_event_type" NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone NOT NULL,
	"actor" varchar(120) NOT NULL,
	"request_id" varchar(128) NOT NULL,
	"from_container_id" uuid,
	"from_position" varchar(16),
	"to_container_id" uuid,
	"to_position" varchar(16),
	"quantity_change" numeric(14, 4),
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"prev_hash" varchar(64),
	"hash" varchar(64) NOT NULL
);
--> statement-breakpoint
CREATE TABLE "participant" (
	"id" uuid PRIMARY KEY NOT NULL,
	"institution_id" uuid NOT NULL,
	"protocol_id" uuid NOT NULL,
	"protocol_participant_id" varchar(64) NOT NULL,
	"sex" "participant_sex" DEFAULT 'unknown' NOT NULL,
	"birth_year" integer,
	"diagnoses" text[] DEFAULT '{}'::text[] NOT NULL,
	"mrn_hash" varchar(64),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "participant_birth_year_range" CHECK ("participant"."birth_year" is null or "participant"."birth_year" between 1880 and 2200)
);
--> statement-breakpoint
CREATE TABLE "collection_protocol" (
	"id" uuid PRIMARY KEY NOT NULL,
	"institution_id" uuid NOT NULL,
	"code" varchar(40) NOT NULL,
	"title" varchar(300) NOT NULL,
	"ethics_approval_ref" varchar(120) NOT NULL,
	"consent_tiers" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "specimen" (
	"id" uuid PRIMARY KEY NOT NULL,
	"institution_id" uuid NOT NULL,
	"barcode" varchar(64) NOT NULL,
	"type" "specimen_type" NOT NULL,
	"lineage" "specimen_lineage" DEFAULT 'primary' NOT NULL,
	"parent_id" uuid,
	"root_id" uuid NOT NULL,
	"participant_id" uuid,
	"protocol_id" uuid,
	"anatomic_site" varchar(120),
	"pathology_status" "pathology_status" DEFAULT 'unknown' NOT NULL,
	"collected_at" timestamp with time zone,
	"received_at" timestamp with time zone,
	"processed_at" timestamp with time zone,
	"frozen_at" timestamp with time zone,
	"sprec_code" varchar(32),
	"sprec_version" varchar(8),
	"unit" "quantity_unit" NOT NULL,
	"initial_quantity" numeric(14, 4) NOT NULL,
	"available_quantity" numeric(14, 4) NOT NULL,
	"quality" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"freeze_thaw_count" integer DEFAULT 0 NOT NULL,
	"status" "specimen_status" DEFAULT 'pending' NOT NULL,
	"holds" text[] DEFAULT '{}'::text[] NOT NULL,
	"qc_status" "qc_status" DEFAULT 'unchecked' NOT NULL,
	"container_id" uuid,
	"position_row" integer,
	"position_col" integer,
	"external_ids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"custody_seq" integer DEFAULT 0 NOT NULL,
	"custody_head" varchar(64),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "specimen_position_unique" UNIQUE("container_id","position_row","position_col"),
	CONSTRAINT "specimen_quantity_nonnegative" CHECK ("specimen"."available_quantity" >= 0 and "specimen"."initial_quantity" >= 0),
	CONSTRAINT "specimen_quantity_within_initial" CHECK ("specimen"."available_quantity" <= "specimen"."initial_quantity"),
	CONSTRAINT "specimen_position_pair" CHECK (("specimen"."position_row" is null) = ("specimen"."position_col" is null)),
	CONSTRAINT "specimen_freeze_thaw_nonnegative" CHECK ("specimen"."freeze_thaw_count" >= 0),
	CONSTRAINT "specimen_lineage_parent" CHECK (("specimen"."lineage" = 'primary') = ("specimen"."parent_id" is null))
);
--> statement-breakpoint
CREATE TABLE "container" (
	"id" uuid PRIMARY KEY NOT NULL,
	"institution_id" uuid NOT NULL,
	"parent_id" uuid,
	"ancestor_ids" uuid[] DEFAULT '{}'::uuid[] NOT NULL,
	"kind" "container_kind" NOT NULL,
	"barcode" varchar(64) NOT NULL,
	"name" varchar(120) NOT NULL,
	"temperature_c" numeric(5, 1),
	"grid_rows" integer,
	"grid_cols" integer,
	"grid_scheme" "grid_scheme",
	"fill_order" "fill_order" DEFAULT 'row_major' NOT NULL,
	"allowed_types" text[],
	"slot_row" integer,
	"slot_col" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "container_grid_shape" CHECK (("container"."grid_rows" is null and "container"."grid_cols" is null and "container"."grid_scheme" is null) or ("container"."grid_rows" between 1 and 100 and "container"."grid_cols" between 1 and 100 and "container"."grid_scheme" is not null)),
	CONSTRAINT "container_slot_pair" CHECK (("container"."slot_row" is null) = ("container"."slot_col" is null))
);
--> statement-breakpoint
ALTER TABLE "participant" ADD CONSTRAINT "participant_institution_id_institution_id_fk" FOREIGN KEY ("institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "participant" ADD CONSTRAINT "participant_protocol_id_collection_protocol_id_fk" FOREIGN KEY ("protocol_id") REFERENCES "public"."collection_protocol"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "collection_protocol" ADD CONSTRAINT "collection_protocol_institution_id_institution_id_fk" FOREIGN KEY ("institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "specimen" ADD CONSTRAINT "specimen_institution_id_institution_id_fk" FOREIGN KEY ("institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "specimen" ADD CONSTRAINT "specimen_parent_id_specimen_id_fk" FOREIGN KEY ("parent_id") REFERENCES "public"."specimen"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "specimen" ADD CONSTRAINT "specimen_participant_id_participant_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."participant"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "specimen" ADD CONSTRAINT "specimen_protocol_id_collection_protocol_id_fk" FOREIGN KEY ("protocol_id") REFERENCES "public"."collection_protocol"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "specimen" ADD CONSTRAINT "specimen_container_id_container_id_fk" FOREIGN KEY ("container_id") REFERENCES "public"."container"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "container" ADD CONSTRAINT "container_institution_id_institution_id_fk" FOREIGN KEY ("institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "container" ADD CONSTRAINT "container_parent_id_container_id_fk" FOREIGN KEY ("parent_id") REFERENCES "public"."container"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "custody_specimen_seq_unique" ON "custody_event" USING btree ("specimen_id","seq");--> statement-breakpoint
CREATE INDEX "custody_institution_idx" ON "custody_event" USING btree ("institution_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "participant_protocol_pid_unique" ON "participant" USING btree ("protocol_id","protocol_participant_id");--> statement-breakpoint
CREATE UNIQUE INDEX "participant_protocol_mrn_unique" ON "participant" USING btree ("protocol_id","mrn_hash");--> statement-breakpoint
CREATE INDEX "participant_institution_mrn_idx" ON "participant" USING btree ("institution_id","mrn_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "protocol_code_unique" ON "collection_protocol" USING btree ("institution_id","code");--> statement-breakpoint
CREATE UNIQUE INDEX "specimen_barcode_unique" ON "specimen" USING btree ("institution_id","barcode");--> statement-breakpoint
CREATE INDEX "specimen_container_idx" ON "specimen" USING btree ("container_id");--> statement-breakpoint
CREATE INDEX "specimen_parent_idx" ON "specimen" USING btree ("parent_id");--> statement-breakpoint
CREATE INDEX "specimen_root_idx" ON "specimen" USING btree ("root_id");--> statement-breakpoint
CREATE INDEX "specimen_participant_idx" ON "specimen" USING btree ("participant_id");--> statement-breakpoint
CREATE INDEX "specimen_list_idx" ON "specimen" USING btree ("institution_id","id");--> statement-breakpoint
CREATE INDEX "specimen_external_ids_idx" ON "specimen" USING gin ("external_ids");--> statement-breakpoint
CREATE UNIQUE INDEX "container_barcode_unique" ON "container" USING btree ("institution_id","barcode");--> statement-breakpoint
CREATE UNIQUE INDEX "container_slot_unique" ON "container" USING btree ("parent_id","slot_row","slot_col");--> statement-breakpoint
CREATE INDEX "container_parent_idx" ON "container" USING btree ("parent_id");--> statement-breakpoint
CREATE INDEX "container_ancestors_idx" ON "container" USING gin ("ancestor_ids");