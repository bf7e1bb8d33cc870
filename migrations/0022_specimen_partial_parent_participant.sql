DROP INDEX "specimen_parent_idx";--> statement-breakpoint
DROP INDEX "specimen_participant_idx";--> statement-breakpoint
CREATE INDEX "specimen_parent_idx" ON "specimen" USING btree ("parent_id") WHERE "specimen"."parent_id" is not null;--> statement-breakpoint
CREATE INDEX "specimen_participant_idx" ON "specimen" USING btree ("participant_id") WHERE "specimen"."participant_id" is not null;