-- The change feed (src/modules/integration). Capture happens in the database, so no writer can
-- miss it: statement triggers on each followed table append to change_log in the writer's own
-- transaction (a rolled-back write leaves nothing). One INSERT ... SELECT per statement, over its
-- transition table: a 96-tube rack scan or a 5,000-row seed batch costs one statement, not one
-- per row. Transition tables allow one event per trigger, hence three triggers per table.
--
-- Changed columns: those whose value differs between the old and the new row (as jsonb), or that
-- hold a value in a new one. `id` and `institution_id` never change; `updated_at` and `version`
-- move with every change (the version travels in its own column), so they are left out, and an
-- update that moved nothing else is no change. The request id comes from `biobank.request_id`,
-- which inTransaction sets for the transaction (src/db/transaction.ts).
CREATE FUNCTION change_log_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  request text := nullif(current_setting('biobank.request_id', true), '');
  skipped text[] := ARRAY['id', 'institution_id', 'updated_at', 'version'];
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO change_log (institution_id, entity, entity_id, version, operation, changed_columns, request_id)
    SELECT (x.r->>'institution_id')::uuid, TG_ARGV[0], (x.r->>'id')::uuid, (x.r->>'version')::int, 'created',
           array(SELECT e.key FROM jsonb_each(x.r) e
                  WHERE e.value <> 'null'::jsonb AND e.key <> ALL (skipped) ORDER BY e.key),
           request
      FROM (SELECT to_jsonb(n) AS r FROM new_rows n) x;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO change_log (institution_id, entity, entity_id, version, operation, changed_columns, request_id)
    SELECT (x.r->>'institution_id')::uuid, TG_ARGV[0], (x.r->>'id')::uuid, (x.r->>'version')::int, 'updated',
           coalesce(d.cols, '{}'), request
      FROM (SELECT to_jsonb(n) AS r, to_jsonb(o) AS old FROM new_rows n JOIN old_rows o ON o.id = n.id) x
     CROSS JOIN LATERAL (SELECT array_agg(e.key ORDER BY e.key) AS cols FROM jsonb_each(x.r) e
                          WHERE e.value IS DISTINCT FROM x.old -> e.key AND e.key <> ALL (skipped)) d
     WHERE d.cols IS NOT NULL OR x.r->'version' IS DISTINCT FROM x.old->'version';
  ELSE
    INSERT INTO change_log (institution_id, entity, entity_id, version, operation, request_id)
    SELECT (x.r->>'institution_id')::uuid, TG_ARGV[0], (x.r->>'id')::uuid, (x.r->>'version')::int, 'deleted', request
      FROM (SELECT to_jsonb(o) AS r FROM old_rows o) x;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Follows a table: its rows appear in the feed as `entity`. The table needs `id` (uuid) and
-- `institution_id`; `version` is read where it has one. Following another table is one line:
-- SELECT change_log_follow('sharing_request', 'sharing_request');
CREATE FUNCTION change_log_follow(target regclass, entity text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TRIGGER change_log_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                 'FOR EACH STATEMENT EXECUTE FUNCTION change_log_capture(%L)', target, entity);
  EXECUTE format('CREATE TRIGGER change_log_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                 'FOR EACH STATEMENT EXECUTE FUNCTION change_log_capture(%L)', target, entity);
  EXECUTE format('CREATE TRIGGER change_log_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                 'FOR EACH STATEMENT EXECUTE FUNCTION change_log_capture(%L)', target, entity);
END $$;
--> statement-breakpoint
SELECT change_log_follow('specimen', 'specimen');
--> statement-breakpoint
SELECT change_log_follow('participant', 'participant');
--> statement-breakpoint
SELECT change_log_follow('consent', 'consent');
--> statement-breakpoint
SELECT change_log_follow('container', 'container');
--> statement-breakpoint
-- The sequencer: gives feed positions to committed rows that have none, oldest transaction first,
-- at most `batch` per pass, and returns how many it gave. Positions are handed out only to rows
-- this pass can see, that is after their transaction committed, so a transaction that commits
-- late gets positions after everything already handed out, never behind a consumer's cursor
-- (a sequence or a timestamp read at insert time would be). Passes run one at a time (the
-- transaction-level advisory lock), and each statement below takes its snapshot after the lock
-- (a volatile function in READ COMMITTED), so a pass sees every position the previous one gave.
-- Call it on its own, outside an explicit transaction, so the lock is released at once.
CREATE FUNCTION change_log_sequence(batch integer) RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  last bigint;
  assigned integer;
BEGIN
  PERFORM pg_advisory_xact_lock(7303, 0);
  SELECT coalesce(max(position), 0) INTO last FROM change_log;
  UPDATE change_log c SET position = last + p.n
    FROM (SELECT q.id, row_number() OVER (ORDER BY q.txid, q.id) AS n
            FROM (SELECT id, txid FROM change_log WHERE position IS NULL ORDER BY txid, id LIMIT batch) q) p
   WHERE c.id = p.id;
  GET DIAGNOSTICS assigned = ROW_COUNT;
  RETURN assigned;
END $$;
