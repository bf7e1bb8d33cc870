-- A sharing request's timeline is its record of who did what and why (issue 10): like the audit
-- log (migration 0001), the database refuses to change or remove it.
CREATE TRIGGER sharing_request_event_append_only
  BEFORE UPDATE OR DELETE ON sharing_request_event
  FOR EACH ROW EXECUTE FUNCTION biobank_reject_change();
--> statement-breakpoint
CREATE TRIGGER sharing_request_event_no_truncate
  BEFORE TRUNCATE ON sharing_request_event
  FOR EACH STATEMENT EXECUTE FUNCTION biobank_reject_change();
