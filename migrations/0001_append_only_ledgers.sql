-- Append-only tables (21 CFR 11.10(e)): the database itself refuses to change or remove history.
CREATE OR REPLACE FUNCTION biobank_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'table % is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER audit_log_append_only
  BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION biobank_reject_change();
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate
  BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION biobank_reject_change();
--> statement-breakpoint
CREATE TRIGGER webhook_attempt_append_only
  BEFORE UPDATE OR DELETE ON webhook_attempt
  FOR EACH ROW EXECUTE FUNCTION biobank_reject_change();
--> statement-breakpoint
-- Wakes the outbox relay as soon as a transaction that wrote jobs commits (NOTIFY is
-- delivered at commit, and only once per transaction for the same payload).
CREATE OR REPLACE FUNCTION biobank_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('biobank_outbox', '');
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER outbox_notify
  AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION biobank_outbox_notify();
