-- An Idempotency-Key's record, written by the request's transaction with COMMIT in one round trip
-- (src/db/transaction.ts, src/http/idempotency.ts): `select idempotency_record(...); commit`.
-- A key that holds a live answer refuses the record with SQLSTATE BB409, which skips the COMMIT,
-- so the effect rolls back and the request replays that answer. An expired record not yet purged,
-- or one left by the earlier two-step claim, starts over.
CREATE FUNCTION "idempotency_record"(
  p_api_key_id uuid, p_key varchar, p_request_hash varchar, p_method varchar, p_path varchar,
  p_status int, p_body jsonb, p_ttl_hours int
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "idempotency_key" AS k ("api_key_id", "key", "request_hash", "method", "path",
                                      "response_status", "response_body", "expires_at")
  VALUES (p_api_key_id, p_key, p_request_hash, p_method, p_path, p_status, p_body,
          now() + make_interval(hours => p_ttl_hours))
  ON CONFLICT ("api_key_id", "key") DO UPDATE
    SET "request_hash" = excluded."request_hash", "method" = excluded."method",
        "path" = excluded."path", "response_status" = excluded."response_status",
        "response_body" = excluded."response_body", "created_at" = now(),
        "expires_at" = excluded."expires_at"
    WHERE k."expires_at" < now() OR k."response_status" IS NULL;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'the Idempotency-Key holds an answer already' USING ERRCODE = 'BB409';
  END IF;
END $$;
