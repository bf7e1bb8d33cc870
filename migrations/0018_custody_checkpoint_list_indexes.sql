CREATE TABLE "custody_checkpoint" (
	"specimen_id" uuid PRIMARY KEY NOT NULL,
	"seq" integer NOT NULL,
	"hash" varchar(64) NOT NULL,
	"first_type" varchar(40) NOT NULL,
	"last_to_container_id" uuid,
	"verified_at" timestamp with time zone NOT NULL,
	CONSTRAINT "custody_checkpoint_seq_positive" CHECK ("custody_checkpoint"."seq" > 0)
);
--> statement-breakpoint
DROP INDEX "specimen_container_idx";--> statement-breakpoint
ALTER TABLE "custody_checkpoint" ADD CONSTRAINT "custody_checkpoint_specimen_id_specimen_id_fk" FOREIGN KEY ("specimen_id") REFERENCES "public"."specimen"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "specimen_container_id_idx" ON "specimen" USING btree ("container_id","id");--> statement-breakpoint
CREATE INDEX "specimen_status_list_idx" ON "specimen" USING btree ("institution_id","status","id");--> statement-breakpoint
CREATE INDEX "specimen_qc_status_list_idx" ON "specimen" USING btree ("institution_id","qc_status","id");--> statement-breakpoint
CREATE INDEX "specimen_held_list_idx" ON "specimen" USING btree ("institution_id","id") WHERE "specimen"."holds" <> '{}'::text[];--> statement-breakpoint
CREATE INDEX "specimen_collected_idx" ON "specimen" USING btree ("institution_id","collected_at","id");