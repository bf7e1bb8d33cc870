CREATE TABLE "specimen_external_id" (
	"institution_id" uuid NOT NULL,
	"system" varchar(40) NOT NULL,
	"value" varchar(120) NOT NULL,
	"specimen_id" uuid NOT NULL
);
--> statement-breakpoint
ALTER TABLE "specimen_external_id" ADD CONSTRAINT "specimen_external_id_institution_id_institution_id_fk" FOREIGN KEY ("institution_id") REFERENCES "public"."institution"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "specimen_external_id" ADD CONSTRAINT "specimen_external_id_specimen_id_specimen_id_fk" FOREIGN KEY ("specimen_id") REFERENCES "public"."specimen"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "specimen_external_id_unique" ON "specimen_external_id" USING btree ("institution_id","system","value");--> statement-breakpoint
CREATE INDEX "specimen_external_id_specimen_idx" ON "specimen_external_id" USING btree ("specimen_id");--> statement-breakpoint
-- Backfill from the specimens' external_ids. Before this table nothing stopped two tubes of an
-- institution from listing the same (system, value): the OLDEST of them (created_at, then id)
-- becomes its holder, so the migration never fails on existing duplicates. The younger tubes keep
-- the pair in their external_ids (what was recorded stays) but do not hold it; editing their
-- external ids answers 409 EXTERNAL_ID_TAKEN naming the holder until the pair is dropped.
INSERT INTO "specimen_external_id" ("institution_id", "system", "value", "specimen_id")
SELECT DISTINCT ON (s."institution_id", e->>'system', e->>'value')
       s."institution_id", e->>'system', e->>'value', s."id"
  FROM "specimen" s
 CROSS JOIN LATERAL jsonb_array_elements(s."external_ids") AS e
 WHERE e->>'system' IS NOT NULL AND e->>'value' IS NOT NULL
 ORDER BY s."institution_id", e->>'system', e->>'value', s."created_at", s."id";
