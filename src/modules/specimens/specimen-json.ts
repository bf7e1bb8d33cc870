import { isoSql as iso, jsonObjectSql, type SqlFieldMap } from '../../db/json-sql.js';
import type { SpecimenRow } from './specimens.table.js';

// A specimen as JSON written by PostgreSQL, exactly as `toSpecimenDto` writes it without
// `location` (times as `Date#toISOString` writes them), for the GraphQL page, which parses it
// instead of mapping 35 columns per row in the ORM, and for the scan lookup
// (scan-lookup.read-model.ts); test/graphql-inventory.test.ts and test/scan-lookup.test.ts hold
// both equal to REST. The GraphQL page builds only the fields its query selects (issue 16).
// The whole row as the ORM returns it serves the audit rows of a ledger batch
// (test/specimen-batch-audit.test.ts holds it equal to the row's JSON); the DTO's fields are
// picked from it, as the DTO writes those columns the same way.

/**
 * Each column of the specimen row as `JSON.stringify` writes the ORM's `SpecimenRow` (property
 * names; times as `toISOString`, which the driver's parsing truncates to milliseconds as `MS`
 * does; numeric columns as numbers; jsonb as stored; text[] as an array), as SQL over `t`. Keyed by
 * the row type, so a new column does not compile until it is written here.
 */
const SPECIMEN_ROW_SQL_FIELDS: Record<keyof SpecimenRow, (t: string) => string> = {
  id: (t) => `${t}.id`,
  institutionId: (t) => `${t}.institution_id`,
  barcode: (t) => `${t}.barcode`,
  type: (t) => `${t}.type`,
  lineage: (t) => `${t}.lineage`,
  parentId: (t) => `${t}.parent_id`,
  rootId: (t) => `${t}.root_id`,
  participantId: (t) => `${t}.participant_id`,
  protocolId: (t) => `${t}.protocol_id`,
  anatomicSite: (t) => `${t}.anatomic_site`,
  pathologyStatus: (t) => `${t}.pathology_status`,
  collectedAt: (t) => iso(`${t}.collected_at`),
  receivedAt: (t) => iso(`${t}.received_at`),
  processedAt: (t) => iso(`${t}.processed_at`),
  frozenAt: (t) => iso(`${t}.frozen_at`),
  sprecCode: (t) => `${t}.sprec_code`,
  sprecVersion: (t) => `${t}.sprec_version`,
  unit: (t) => `${t}.unit`,
  initialQuantity: (t) => `${t}.initial_quantity::float8`,
  availableQuantity: (t) => `${t}.available_quantity::float8`,
  quality: (t) => `${t}.quality`,
  freezeThawCount: (t) => `${t}.freeze_thaw_count`,
  status: (t) => `${t}.status`,
  holds: (t) => `${t}.holds`,
  qcStatus: (t) => `${t}.qc_status`,
  containerId: (t) => `${t}.container_id`,
  positionRow: (t) => `${t}.position_row`,
  positionCol: (t) => `${t}.position_col`,
  externalIds: (t) => `${t}.external_ids`,
  custodySeq: (t) => `${t}.custody_seq`,
  custodyHead: (t) => `${t}.custody_head`,
  createdAt: (t) => iso(`${t}.created_at`),
  updatedAt: (t) => iso(`${t}.updated_at`),
  version: (t) => `${t}.version`,
};

/** The specimen DTO's fields but `location`, in the DTO's order: columns of the row, written alike. */
const SPECIMEN_DTO_FIELDS = [
  'id',
  'barcode',
  'type',
  'lineage',
  'parentId',
  'rootId',
  'participantId',
  'protocolId',
  'anatomicSite',
  'pathologyStatus',
  'collectedAt',
  'receivedAt',
  'processedAt',
  'frozenAt',
  'sprecCode',
  'sprecVersion',
  'unit',
  'initialQuantity',
  'availableQuantity',
  'quality',
  'freezeThawCount',
  'status',
  'holds',
  'qcStatus',
  'externalIds',
  'createdAt',
  'updatedAt',
  'version',
] as const satisfies readonly (keyof SpecimenRow)[];

/** Each field of the specimen DTO but `location`, in the DTO's order, as SQL over the table reference `t`. */
export const SPECIMEN_SQL_FIELDS: SqlFieldMap = Object.fromEntries(
  SPECIMEN_DTO_FIELDS.map((k) => [k, SPECIMEN_ROW_SQL_FIELDS[k]]),
);

/** The specimen's JSON object, every field, over the table reference `t` (an alias, or `"specimen"`). */
export const specimenJsonSql = (t: string) => `${jsonObjectSql(SPECIMEN_SQL_FIELDS, t)}::text`;

/** The same in SQL over any timestamp column, for other JSON written by PostgreSQL. */
export const isoSql = iso;

/**
 * The specimen row over `t` as jsonb, the document `recordAudit` stores for a `SpecimenRow`: the
 * ledger's batch writes its audit rows' `before` and `after` with it in PostgreSQL.
 */
export const specimenRowJsonbSql = (t: string) =>
  jsonObjectSql(SPECIMEN_ROW_SQL_FIELDS, t, 'jsonb_build_object');
