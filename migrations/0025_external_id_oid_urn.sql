-- An OID is written one way, as its urn:oid: URI (canonicalIdentifierSystem in
-- specimens.schemas.ts): a bare OID sent by REST and the same OID sent by FHIR were two systems,
-- so one accession could name two tubes. The column takes the longer spelling; stored bare OIDs
-- become URIs, in the lookup table and in each tube's list, except where the URI spelling of the
-- same accession already names a tube (two tubes the old spellings let in: left for a person).
ALTER TABLE "specimen_external_id" ALTER COLUMN "system" SET DATA TYPE varchar(48);--> statement-breakpoint
UPDATE "specimen_external_id" x
   SET "system" = 'urn:oid:' || x."system"
 WHERE x."system" ~ '^[0-2](\.(0|[1-9][0-9]*))+$'
   AND NOT EXISTS (
     SELECT 1 FROM "specimen_external_id" y
      WHERE y."institution_id" = x."institution_id" AND y."system" = 'urn:oid:' || x."system"
        AND y."value" = x."value");--> statement-breakpoint
UPDATE "specimen" s
   SET "external_ids" = (
     SELECT jsonb_agg(
              CASE WHEN EXISTS (
                     SELECT 1 FROM "specimen_external_id" x
                      WHERE x."specimen_id" = s."id" AND x."system" = 'urn:oid:' || (e->>'system')
                        AND x."value" = e->>'value')
                   THEN jsonb_set(e, '{system}', to_jsonb('urn:oid:' || (e->>'system')))
                   ELSE e END
              ORDER BY n)
       FROM jsonb_array_elements(s."external_ids") WITH ORDINALITY AS t(e, n))
 WHERE EXISTS (
   SELECT 1 FROM jsonb_array_elements(s."external_ids") e
    WHERE e->>'system' ~ '^[0-2](\.(0|[1-9][0-9]*))+$');
