CREATE TYPE "public"."import_kind" AS ENUM('specimens', 'participants', 'consents');--> statement-breakpoint
CREATE TYPE "public"."import_mode" AS ENUM('all-or-nothing', 'valid-rows');--> statement-breakpoint
CREATE TYPE "public"."import_status" AS ENUM('validating', 'validated', 'rejected', 'queued', 'applying', 'completed', 'failed');--> statement-breakpoint
CREATE TABLE "import_error" (
	"job_id" uuid NOT NULL,
	"row_no" integer NOT NULL,
	"column_name" varchar(64) NOT NULL,
	"code" varchar(64) NOT NULL,
	"detail" text NOT NULL,
	CONSTRAINT "import_error_job_id_row_no_column_name_code_pk" PRIMARY KEY("job_id","row_no","column_name","code")
);
--> statement-breakpoint
CREATE TABLE "import_job" (
	"id" uuid PRIMARY KEY NOT NULL,
	"institution_id" uuid NOT NULL,
	"kind" "import_kind" NOT NULL,
	"mode" "import_mode" NOT NULL,
	"dry_run" boolean NOT NULL,
	"format" varchar(10) NOT NULL,
	"status" "import_status" DEFAULT 'validating' NOT NULL,
	"actor" jsonb NOT NULL,
	"request_id" varchar(128) NOT NULL,
	"total_rows" integer DEFAULT 0 NOT NULL,
	"valid_rows" integer DEFAULT 0 NOT NULL,
	"existing_rows" integer DEFAULT 0 NOT NULL,
	"invalid_rows" integer DEFAULT 0 NOT NULL,
	"error_count" integer DEFAULT 0 NOT NULL,
	"applied_rows" integer DEFAULT 0 NOT NULL,
	"created_records" integer DEFAULT 0 NOT NULL,
	"applied_through_row" integer DEFAULT 0 NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "import_job_counts" CHECK ("import_job"."applied_rows" <= "import_job"."valid_rows")
);
--> statement-breakpoint
CREATE TABLE "import_row" (
	"job_id" uuid NOT NULL,
	"row_no" integer NOT NULL,
	"keys" text[] DEFAULT '{}'::text[] NOT NULL,
	"data" jsonb NOT NULL,
	CONSTRAINT "import_row_job_id_row_no_pk" PRIMARY KEY("job_id","row_no")
);
--> statement-breakpoint
ALTER TABLE "import_error" ADD CONSTRAINT "import_error_job_id_import_job_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."import_job"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "import_job" ADD CONSTRAINT "import_job_institution_id_institution_id_fk" FOREIGN KEY ("institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "import_row" ADD CONSTRAINT "import_row_job_id_import_job_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."import_job"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "import_job_institution_idx" ON "import_job" USING btree ("institution_id","id");