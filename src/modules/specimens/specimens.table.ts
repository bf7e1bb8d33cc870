import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  jsonb,
  numeric,
  pgEnum,
  pgTable,
  text,
  uniqueIndex,
  unique,
  uuid,
  varchar,
  type AnyPgColumn,
} from 'drizzle-orm/pg-core';
import { createdAt, idColumn, tstz, updatedAt, versionColumn } from '../../db/columns.js';
import { describeCheck, describeUnique } from '../../db/pg-errors.js';
import { positionOccupied } from '../../errors.js';
import { institutions } from '../institutions/institutions.table.js';
import { participants, protocols } from '../participants/participants.table.js';
import { containers } from '../storage/storage.table.js';
import { SPECIMEN_STATUSES } from './specimens.lifecycle.js';
import { SPECIMEN_TYPES, SPECIMEN_UNITS } from '../../vocabulary/specimen-types.js';
import { barcodeTaken, externalIdTaken, insufficientQuantity } from './specimens.errors.js';

export const LINEAGES = ['primary', 'aliquot', 'derivative'] as const;
export const PATHOLOGY_STATUSES = [
  'normal',
  'malignant',
  'benign',
  'pre_malignant',
  'not_applicable',
  'unknown',
] as const;
/**
 * Why a tube is held. PROVIDER_CONSENT_WITHDRAWN: a tube received from another institution whose
 * donor withdrew consent there (the provider's withdrawal reaches the receiver through sharing).
 */
export const HOLD_REASONS = [
  'CONSENT_WITHDRAWN',
  'QC_FAILED',
  'QUARANTINE',
  'PROVIDER_CONSENT_WITHDRAWN',
] as const;
export type HoldReason = (typeof HOLD_REASONS)[number];
/**
 * Holds that follow the donor's consent here: placed by a withdrawal, lifted by a re-consent, never
 * by hand. (PROVIDER_CONSENT_WITHDRAWN is not one: nothing here learns of a re-consent at the
 * provider, so the receiver's manager releases it once the provider confirms one.)
 */
export const CONSENT_HOLDS: ReadonlySet<HoldReason> = new Set<HoldReason>(['CONSENT_WITHDRAWN']);
export const QC_STATUSES = ['unchecked', 'pass', 'warn', 'fail'] as const;

export const specimenType = pgEnum('specimen_type', SPECIMEN_TYPES);
export const specimenStatus = pgEnum('specimen_status', SPECIMEN_STATUSES);
export const specimenLineage = pgEnum('specimen_lineage', LINEAGES);
export const pathologyStatus = pgEnum('pathology_status', PATHOLOGY_STATUSES);
export const quantityUnit = pgEnum('quantity_unit', SPECIMEN_UNITS);
export const qcStatus = pgEnum('qc_status', QC_STATUSES);

export const specimens = pgTable(
  'specimen',
  {
    id: idColumn(),
    institutionId: uuid('institution_id')
      .notNull()
      .references(() => institutions.id),
    barcode: varchar('barcode', { length: 64 }).notNull(),
    type: specimenType('type').notNull(),
    lineage: specimenLineage('lineage').notNull().default('primary'),
    parentId: uuid('parent_id').references((): AnyPgColumn => specimens.id),
    rootId: uuid('root_id').notNull(),
    participantId: uuid('participant_id').references(() => participants.id),
    protocolId: uuid('protocol_id').references(() => protocols.id),
    anatomicSite: varchar('anatomic_site', { length: 120 }),
    pathologyStatus: pathologyStatus('pathology_status').notNull().default('unknown'),
    collectedAt: tstz('collected_at'),
    receivedAt: tstz('received_at'),
    processedAt: tstz('processed_at'),
    frozenAt: tstz('frozen_at'),
    sprecCode: varchar('sprec_code', { length: 32 }),
    sprecVersion: varchar('sprec_version', { length: 8 }),
    unit: quantityUnit('unit').notNull(),
    initialQuantity: numeric('initial_quantity', { precision: 14, scale: 4, mode: 'number' }).notNull(),
    availableQuantity: numeric('available_quantity', { precision: 14, scale: 4, mode: 'number' }).notNull(),
    /** quality metrics, e.g. { rin: 8.1, concentrationNgUl: 52.3, a260a280: 1.9 } */
    quality: jsonb('quality').$type<Record<string, number>>().notNull().default({}),
    freezeThawCount: integer('freeze_thaw_count').notNull().default(0),
    status: specimenStatus('status').notNull().default('pending'),
    holds: text('holds')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    qcStatus: qcStatus('qc_status').notNull().default('unchecked'),
    containerId: uuid('container_id').references(() => containers.id),
    positionRow: integer('position_row'),
    positionCol: integer('position_col'),
    /**
     * ids in other systems, e.g. [{ system: 'LIS', value: 'A-123' }]. Found through
     * specimen_external_id (below), never searched here: not indexed, as every write would pay it.
     */
    externalIds: jsonb('external_ids').$type<{ system: string; value: string }[]>().notNull().default([]),
    custodySeq: integer('custody_seq').notNull().default(0),
    custodyHead: varchar('custody_head', { length: 64 }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    version: versionColumn(),
  },
  (t) => [
    uniqueIndex('specimen_barcode_unique').on(t.institutionId, t.barcode),
    // One specimen per position; NULLs (not in a positional container) never clash.
    unique('specimen_position_unique').on(t.containerId, t.positionRow, t.positionCol),
    // A container's tubes in key order: a subtree's list finds its first and last tube per container.
    index('specimen_container_id_idx').on(t.containerId, t.id),
    // Only the tubes that have one: every primary has no parent and many no donor, and each NULL
    // entry cost every insert (a file import) for lookups that always name a parent or a donor.
    index('specimen_parent_idx')
      .on(t.parentId)
      .where(sql`${t.parentId} is not null`),
    index('specimen_root_idx').on(t.rootId),
    index('specimen_participant_idx')
      .on(t.participantId)
      .where(sql`${t.participantId} is not null`),
    index('specimen_list_idx').on(t.institutionId, t.id),
    // Lists filtered by a sparse state answer a page from these in key order (GET /v1/specimens):
    // walking every id to find the few missing, failed or held tubes took 0.2-0.5 s over 1M.
    index('specimen_status_list_idx').on(t.institutionId, t.status, t.id),
    index('specimen_qc_status_list_idx').on(t.institutionId, t.qcStatus, t.id),
    index('specimen_held_list_idx')
      .on(t.institutionId, t.id)
      .where(sql`${t.holds} <> '{}'::text[]`),
    // A collection window's first and last ids, read from the index alone.
    index('specimen_collected_idx').on(t.institutionId, t.collectedAt, t.id),
    // FHIR Specimen search (fhir/fhir-specimen-search.read-model.ts): one type, or a last-update
    // window, a page at a time in key order.
    index('specimen_type_idx').on(t.institutionId, t.type, t.id),
    index('specimen_updated_idx').on(t.institutionId, t.updatedAt, t.id),
    check('specimen_quantity_nonnegative', sql`${t.availableQuantity} >= 0 and ${t.initialQuantity} >= 0`),
    check('specimen_quantity_within_initial', sql`${t.availableQuantity} <= ${t.initialQuantity}`),
    check('specimen_position_pair', sql`(${t.positionRow} is null) = (${t.positionCol} is null)`),
    check('specimen_freeze_thaw_nonnegative', sql`${t.freezeThawCount} >= 0`),
    check('specimen_lineage_parent', sql`(${t.lineage} = 'primary') = (${t.parentId} is null)`),
  ],
);

/**
 * Which specimen holds each external id (system, value) of the institution: an LIS id names one
 * tube. The specimen's `external_ids` array is what the API shows; a unique index cannot span the
 * elements of an array, so the pairs are kept here too, written only by the specimen ledger
 * (register and edit) in the same transaction. Migration 0009 filled it from existing rows,
 * keeping the oldest specimen as the holder of a pair several listed.
 */
export const specimenExternalIds = pgTable(
  'specimen_external_id',
  {
    institutionId: uuid('institution_id')
      .notNull()
      .references(() => institutions.id),
    // 40 as sent, 48 once a bare OID is written as its urn:oid: URI.
    system: varchar('system', { length: 48 }).notNull(),
    value: varchar('value', { length: 120 }).notNull(),
    specimenId: uuid('specimen_id')
      .notNull()
      .references(() => specimens.id),
  },
  (t) => [
    uniqueIndex('specimen_external_id_unique').on(t.institutionId, t.system, t.value),
    index('specimen_external_id_specimen_idx').on(t.specimenId),
  ],
);

describeUnique('specimen_barcode_unique', (v) => barcodeTaken(v.barcode ?? ''));
// A race: the check before the write found the pair free; the holder is not known here.
describeUnique('specimen_external_id_unique', (v) => externalIdTaken(v.system ?? '', v.value ?? '', null));
describeUnique('specimen_position_unique', () => positionOccupied(null));
describeCheck('specimen_quantity_nonnegative', () => insufficientQuantity(null));

export type SpecimenRow = typeof specimens.$inferSelect;
