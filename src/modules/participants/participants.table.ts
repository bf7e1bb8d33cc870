import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  pgEnum,
  pgTable,
  text,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { createdAt, idColumn, updatedAt, versionColumn } from '../../db/columns.js';
import { describeUnique } from '../../db/pg-errors.js';
import { participantExists, protocolCodeTaken } from './participants.errors.js';
import { institutions } from '../institutions/institutions.table.js';
import { DISEASE_AREAS } from '../../vocabulary/disease-areas.js';

export const SEXES = ['female', 'male', 'other', 'unknown'] as const;
export const participantSex = pgEnum('participant_sex', SEXES);
export const diseaseArea = pgEnum('disease_area', DISEASE_AREAS);

export const protocols = pgTable(
  'collection_protocol',
  {
    id: idColumn(),
    institutionId: uuid('institution_id')
      .notNull()
      .references(() => institutions.id),
    code: varchar('code', { length: 40 }).notNull(),
    title: varchar('title', { length: 300 }).notNull(),
    ethicsApprovalRef: varchar('ethics_approval_ref', { length: 120 }).notNull(),
    consentTiers: text('consent_tiers')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /** the disease area the protocol's collection serves (catalogue grouping) */
    diseaseArea: diseaseArea('disease_area').notNull().default('other'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    version: versionColumn(),
  },
  (t) => [uniqueIndex('protocol_code_unique').on(t.institutionId, t.code)],
);

/**
 * A pseudonymous donor registered to a protocol. No names; the hospital MRN and LIS patient id
 * only as HMACs so the LIS integration can match them without the service holding them.
 */
export const participants = pgTable(
  'participant',
  {
    id: idColumn(),
    institutionId: uuid('institution_id')
      .notNull()
      .references(() => institutions.id),
    protocolId: uuid('protocol_id')
      .notNull()
      .references(() => protocols.id),
    protocolParticipantId: varchar('protocol_participant_id', { length: 64 }).notNull(),
    sex: participantSex('sex').notNull().default('unknown'),
    birthYear: integer('birth_year'),
    /** ICD-10 codes */
    diagnoses: text('diagnoses')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    mrnHash: varchar('mrn_hash', { length: 64 }),
    /** the hospital LIS's patient id, as the MRN: only a keyed hash (the upsert's key) */
    lisPatientIdHash: varchar('lis_patient_id_hash', { length: 64 }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    version: versionColumn(),
  },
  (t) => [
    uniqueIndex('participant_protocol_pid_unique').on(t.protocolId, t.protocolParticipantId),
    uniqueIndex('participant_protocol_mrn_unique').on(t.protocolId, t.mrnHash),
    uniqueIndex('participant_protocol_lis_patient_unique').on(t.protocolId, t.lisPatientIdHash),
    index('participant_institution_mrn_idx').on(t.institutionId, t.mrnHash),
    check(
      'participant_birth_year_range',
      sql`${t.birthYear} is null or ${t.birthYear} between 1880 and 2200`,
    ),
  ],
);

describeUnique('protocol_code_unique', (v) => protocolCodeTaken(v.code ?? ''));
describeUnique('participant_protocol_pid_unique', (v) => participantExists(v.protocol_participant_id ?? ''));
describeUnique('participant_protocol_mrn_unique', () => participantExists(null));
describeUnique('participant_protocol_lis_patient_unique', () => participantExists(null, 'LIS patient id'));
