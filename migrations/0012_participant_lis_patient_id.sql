ALTER TABLE "participant" ADD COLUMN "lis_patient_id_hash" varchar(64);--> statement-breakpoint
CREATE UNIQUE INDEX "participant_protocol_lis_patient_unique" ON "participant" USING btree ("protocol_id","lis_patient_id_hash");--> statement-breakpoint
-- The change feed compares a followed table's columns one by one (0011_change_feed_capture.sql):
-- its capture function is generated again so the new column is compared too.
SELECT change_log_follow('participant', 'participant');
