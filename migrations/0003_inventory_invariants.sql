-- The custody ledger is append-only, like the audit trail.
CREATE TRIGGER custody_event_append_only
  BEFORE UPDATE OR DELETE ON custody_event
  FOR EACH ROW EXECUTE FUNCTION biobank_reject_change();
--> statement-breakpoint
CREATE TRIGGER custody_event_no_truncate
  BEFORE TRUNCATE ON custody_event
  FOR EACH STATEMENT EXECUTE FUNCTION biobank_reject_change();
--> statement-breakpoint
-- One tube per position, checked at the end of each statement, so a rack scan that swaps two
-- tubes in one UPDATE is accepted while two tubes can never end in one position.
ALTER TABLE specimen DROP CONSTRAINT specimen_position_unique;
--> statement-breakpoint
ALTER TABLE specimen ADD CONSTRAINT specimen_position_unique
  UNIQUE (container_id, position_row, position_col) DEFERRABLE INITIALLY IMMEDIATE;
