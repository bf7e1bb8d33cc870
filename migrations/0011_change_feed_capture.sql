-- The change feed (src/modules/integration). Capture happens in the database, so no writer can
-- miss it: statement triggers on each followed table append to change_log_pending in the writer's
-- own transaction (a rolled-back write leaves nothing). One INSERT ... SELECT per statement, over
-- its transition tables: a 96-tube rack scan or a 5,000-row seed batch costs one statement, not
-- one per row. Transition tables allow one event per trigger, hence three triggers per table.
--
-- Changed columns (updates only; a creation or a deletion concerns the whole row): those whose
-- value differs between the old and the new row, compared column by column with the type's own
-- equality, which costs a few microseconds a row where serialising both rows (to_jsonb, hstore)
-- costs 20 to 60. So the capture function is generated per table from its columns, and a
-- migration that adds a column to a followed table calls change_log_follow again
-- (test/change-feed.test.ts fails until it does). `id` and `institution_id` never change;
-- `updated_at` and `version` move with every change (the version travels in its own column), so
-- they are left out, and an update that moved nothing else is no change. The request id comes
-- from `biobank.request_id`, which inTransaction sets for the transaction (src/db/transaction.ts).
--
-- Follows a table: its rows appear in the feed as `entity`. The table needs `id` (uuid),
-- `institution_id` and `version` (every mutable aggregate has one). Following another table is
-- one line: SELECT change_log_follow('sharing_request', 'sharing_request');
CREATE FUNCTION change_log_follow(target regclass, entity text) RETURNS void LANGUAGE plpgsql AS $follow$
DECLARE
  capture text := format('change_log_capture_%s', entity);
  compared text;
BEGIN
  -- json, xml and point have no equality operator: their text is compared.
  SELECT coalesce(string_agg(
           format(CASE WHEN a.atttypid IN ('json'::regtype, 'xml'::regtype, 'point'::regtype)
                       THEN 'CASE WHEN n.%1$I::text IS DISTINCT FROM o.%1$I::text THEN %1$L END'
                       ELSE 'CASE WHEN n.%1$I IS DISTINCT FROM o.%1$I THEN %1$L END' END, a.attname),
           ', ' ORDER BY a.attnum), '')
    INTO compared
    FROM pg_attribute a
   WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attname NOT IN ('id', 'institution_id', 'updated_at', 'version');
  EXECUTE format($fn$
    CREATE OR REPLACE FUNCTION %1$I() RETURNS trigger LANGUAGE plpgsql AS $capture$
    DECLARE
      request text := nullif(current_setting('biobank.request_id', true), '');
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO change_log_pending (institution_id, entity, entity_id, version, operation, request_id)
        SELECT n.institution_id, %2$L, n.id, n.version, 'created', request FROM new_rows n;
      ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO change_log_pending (institution_id, entity, entity_id, version, operation, changed_columns, request_id)
        SELECT n.institution_id, %2$L, n.id, n.version, 'updated', c.changed, request
          FROM new_rows n
          JOIN old_rows o ON o.id = n.id
         CROSS JOIN LATERAL (SELECT array_remove(ARRAY[%3$s]::text[], NULL) AS changed) c
         WHERE cardinality(c.changed) > 0 OR n.version IS DISTINCT FROM o.version;
      ELSE
        INSERT INTO change_log_pending (institution_id, entity, entity_id, version, operation, request_id)
        SELECT o.institution_id, %2$L, o.id, o.version, 'deleted', request FROM old_rows o;
      END IF;
      RETURN NULL;
    END $capture$$fn$, capture, entity, compared);
  EXECUTE format('DROP TRIGGER IF EXISTS change_log_insert ON %s', target);
  EXECUTE format('DROP TRIGGER IF EXISTS change_log_update ON %s', target);
  EXECUTE format('DROP TRIGGER IF EXISTS change_log_delete ON %s', target);
  EXECUTE format('CREATE TRIGGER change_log_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                 'FOR EACH STATEMENT EXECUTE FUNCTION %I()', target, capture);
  EXECUTE format('CREATE TRIGGER change_log_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                 'FOR EACH STATEMENT EXECUTE FUNCTION %I()', target, capture);
  EXECUTE format('CREATE TRIGGER change_log_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                 'FOR EACH STATEMENT EXECUTE FUNCTION %I()', target, capture);
END $follow$;
--> statement-breakpoint
SELECT change_log_follow('specimen', 'specimen');
--> statement-breakpoint
SELECT change_log_follow('participant', 'participant');
--> statement-breakpoint
SELECT change_log_follow('consent', 'consent');
--> statement-breakpoint
SELECT change_log_follow('container', 'container');
--> statement-breakpoint
-- The sequencer: moves committed changes from change_log_pending to change_log, oldest
-- transaction first, at most `batch` per pass, with positions after every one already given, and
-- returns how many it moved. A pass sees only rows whose transaction committed, so a transaction
-- that commits late gets positions after everything already handed out, never behind a
-- consumer's cursor (as a sequence or a timestamp read at insert time would). Passes run one at a
-- time (the transaction-level advisory lock), and each statement below takes its snapshot after
-- the lock (a volatile function in READ COMMITTED), so a pass sees every position the previous
-- one gave. Call it on its own, outside an explicit transaction, so the lock is released at once.
--
-- `horizon`: every transaction with a smaller id had ended before the move took its snapshot, so
-- a pass that moved all it saw leaves none of their rows behind, and the next pass may start its
-- index scan there instead of walking the entries of rows moved before (vacuum may be far off).
INSERT INTO change_log_sequencer (id, low_txid) VALUES (1, '0');
--> statement-breakpoint
CREATE FUNCTION change_log_sequence(batch integer) RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  low xid8;
  horizon xid8;
  last bigint;
  moved integer;
BEGIN
  PERFORM pg_advisory_xact_lock(7303, 0);
  horizon := pg_snapshot_xmin(pg_current_snapshot());
  SELECT low_txid INTO low FROM change_log_sequencer WHERE id = 1;
  SELECT coalesce(max(position), 0) INTO last FROM change_log;
  WITH taken AS (
    DELETE FROM change_log_pending p
     WHERE p.ctid = ANY (ARRAY(SELECT ctid FROM change_log_pending WHERE txid >= low ORDER BY txid, id LIMIT batch))
    RETURNING p.*
  )
  INSERT INTO change_log (position, institution_id, entity, entity_id, version, operation, changed_columns, changed_at, request_id)
  SELECT last + row_number() OVER (ORDER BY txid, id), institution_id, entity, entity_id, version, operation,
         changed_columns, changed_at, request_id
    FROM taken;
  GET DIAGNOSTICS moved = ROW_COUNT;
  IF moved < batch AND horizon > low THEN
    UPDATE change_log_sequencer SET low_txid = horizon WHERE id = 1;
  END IF;
  RETURN moved;
END $$;
--> statement-breakpoint
-- One page of an institution's feed: an ordered walk of change_log_feed_idx from the cursor that
-- stops after `n` rows, whatever the statistics say (with none yet, or stale ones after a burst,
-- the planner would rather read every change after the cursor and sort them).
CREATE FUNCTION change_log_page(institution uuid, after bigint, n integer) RETURNS SETOF change_log
LANGUAGE sql STABLE
SET enable_bitmapscan = off
SET enable_seqscan = off
AS $$
  SELECT * FROM change_log
   WHERE institution_id = institution AND position > after
   ORDER BY position
   LIMIT n
$$;
