// A specimen as JSON written by PostgreSQL, exactly as `toSpecimenDto` writes it without
// `location` (times as `Date#toISOString` writes them), for the GraphQL page, which parses it
// instead of mapping 35 columns per row in the ORM, and for the scan lookup
// (scan-lookup.read-model.ts); test/graphql-inventory.test.ts and test/scan-lookup.test.ts hold
// both equal to REST.

/** `Date#toISOString` in SQL: UTC, milliseconds truncated like the driver's date parsing. */
const iso = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The specimen's JSON object over the table reference `t` (an alias, or `"specimen"`). */
export const specimenJsonSql = (t: string) => `json_build_object(
         'id', ${t}.id, 'barcode', ${t}.barcode, 'type', ${t}.type, 'lineage', ${t}.lineage, 'parentId', ${t}.parent_id,
         'rootId', ${t}.root_id, 'participantId', ${t}.participant_id, 'protocolId', ${t}.protocol_id,
         'anatomicSite', ${t}.anatomic_site, 'pathologyStatus', ${t}.pathology_status,
         'collectedAt', ${iso(`${t}.collected_at`)}, 'receivedAt', ${iso(`${t}.received_at`)},
         'processedAt', ${iso(`${t}.processed_at`)}, 'frozenAt', ${iso(`${t}.frozen_at`)},
         'sprecCode', ${t}.sprec_code, 'sprecVersion', ${t}.sprec_version, 'unit', ${t}.unit,
         'initialQuantity', ${t}.initial_quantity::float8, 'availableQuantity', ${t}.available_quantity::float8,
         'quality', ${t}.quality, 'freezeThawCount', ${t}.freeze_thaw_count, 'status', ${t}.status, 'holds', ${t}.holds,
         'qcStatus', ${t}.qc_status, 'externalIds', ${t}.external_ids, 'createdAt', ${iso(`${t}.created_at`)},
         'updatedAt', ${iso(`${t}.updated_at`)}, 'version', ${t}.version
       )::text`;

/** The same in SQL over any timestamp column, for other JSON written by PostgreSQL. */
export const isoSql = iso;
