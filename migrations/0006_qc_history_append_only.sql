-- The history of QC outcomes is a record, like the custody ledger and the audit trail: the
-- database refuses to change or remove it (21 CFR 11.10(e)).
CREATE TRIGGER qc_result_history_append_only
  BEFORE UPDATE OR DELETE ON qc_result_history
  FOR EACH ROW EXECUTE FUNCTION biobank_reject_change();
--> statement-breakpoint
CREATE TRIGGER qc_result_history_no_truncate
  BEFORE TRUNCATE ON qc_result_history
  FOR EACH STATEMENT EXECUTE FUNCTION biobank_reject_change();
--> statement-breakpoint
-- A re-check rewrites the current result of each check; when its outcome changes, the change is
-- kept. A trigger rather than a join in the writing statement: the WHEN clause costs next to
-- nothing on the rows that did not change, which on a re-run are nearly all of them.
CREATE OR REPLACE FUNCTION biobank_qc_result_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO qc_result_history
    (specimen_id, institution_id, check_code, previous_outcome, outcome, message, ruleset_version, run_id, checked_at)
  VALUES
    (NEW.specimen_id, NEW.institution_id, NEW.check_code, OLD.outcome, NEW.outcome, NEW.message,
     NEW.ruleset_version, NEW.run_id, NEW.checked_at);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER qc_result_history_on_change
  AFTER UPDATE ON qc_result
  FOR EACH ROW WHEN (OLD.outcome IS DISTINCT FROM NEW.outcome)
  EXECUTE FUNCTION biobank_qc_result_history();
--> statement-breakpoint
-- Room on every page for the next version of a row: a re-check rewrites most rows with the same
-- key and no indexed column changed, which PostgreSQL then does in place (HOT, no index writes).
ALTER TABLE qc_result SET (fillfactor = 70);
