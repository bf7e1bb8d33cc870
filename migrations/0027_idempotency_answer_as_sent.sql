-- An Idempotency-Key's answer is kept as sent (json, not jsonb): a GraphQL answer replays its
-- fields in the order the query selected them, as GraphQL requires; jsonb sorted them.
ALTER TABLE "idempotency_key" ALTER COLUMN "response_body" SET DATA TYPE json USING "response_body"::json;--> statement-breakpoint
DROP FUNCTION "idempotency_record"(uuid, varchar, varchar, varchar, varchar, int, jsonb, int);--> statement-breakpoint
-- As in 0026, with the answer as json.
CREATE FUNCTION "idempotency_record"(
  p_api_key_id uuid, p_key varchar, p_request_hash varchar, p_method varchar, p_path varchar,
  p_status int, p_body json, p_ttl_hours int
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
