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
ALTER TABLE "custody_checkpoint" ADD CONSTRAINT "custody_checkpoint_specimen_id_specimen_id_fk" FOREIGN KEY ("specimen_id") REFERENCES "public"."specimen"("id") ON DELETE no action ON UPDATE no action;