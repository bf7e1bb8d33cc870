CREATE TABLE "standardization_run_item" (
	"run_id" uuid NOT NULL,
	"specimen_id" uuid NOT NULL,
	"outcome" "qc_outcome" NOT NULL,
	CONSTRAINT "standardization_run_item_pkey" PRIMARY KEY("run_id","specimen_id")
);
--> statement-breakpoint
DROP INDEX "qc_result_run_idx";