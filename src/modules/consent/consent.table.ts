import { sql } from 'drizzle-orm';
import {
  date,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { createdAt, idColumn, tstz, updatedAt, versionColumn } from '../../db/columns.js';
import { describeUnique } from '../../db/pg-errors.js';
import { institutions } from '../institutions/institutions.table.js';
import { participants, protocols } from '../participants/participants.table.js';
import { specimens } from '../specimens/specimens.table.js';
import { consentExists } from './consent.errors.js';

export const CONSENT_RESPONSES = ['yes', 'no', 'unspecified'] as const;
export type ConsentResponse = (typeof CONSENT_RESPONSES)[number];
export const CONSENT_STATUSES = ['active', 'withdrawn', 'expired'] as const;
export const WITHDRAWAL_SCOPES = ['stop_future_use', 'destroy_specimens', 'stop_data_use'] as const;
export type WithdrawalScope = (typeof WITHDRAWAL_SCOPES)[number];
/** Withdrawn or destroyed specimens cannot come back under a new consent; held ones can. */
export const LIFTABLE_SCOPES: ReadonlySet<WithdrawalScope> = new Set<WithdrawalScope>([
  'stop_future_use',
  'stop_data_use',
]);

export const consentStatus = pgEnum('consent_status', CONSENT_STATUSES);
export const withdrawalScope = pgEnum('withdrawal_scope', WITHDRAWAL_SCOPES);
export const cascadeStatus = pgEnum('consent_cascade_status', ['pending', 'running', 'completed']);
export const cascadeKind = pgEnum('consent_cascade_kind', ['withdraw', 'reconsent']);

/**
 * A donor's consent to a protocol, one row per signed document version. The current one has no
 * `supersededAt`; earlier versions are kept as history.
 */
export const consents = pgTable(
  'consent',
  {
    id: idColumn(),
    institutionId: uuid('institution_id')
      .notNull()
      .references(() => institutions.id),
    participantId: uuid('participant_id')
      .notNull()
      .references(() => participants.id),
    protocolId: uuid('protocol_id')
      .notNull()
      .references(() => protocols.id),
    documentVersion: varchar('document_version', { length: 40 }).notNull(),
    signedOn: date('signed_on', { mode: 'string' }).notNull(),
    obtainedBy: varchar('obtained_by', { length: 120 }).notNull(),
    /** response per consent tier the protocol asks: { GENETIC_RESEARCH: 'yes', ... } */
    responses: jsonb('responses').$type<Record<string, ConsentResponse>>().notNull(),
    status: consentStatus('status').notNull().default('active'),
    expiresOn: date('expires_on', { mode: 'string' }),
    withdrawnAt: tstz('withdrawn_at'),
    withdrawalScope: withdrawalScope('withdrawal_scope'),
    withdrawalReason: text('withdrawal_reason'),
    supersedesId: uuid('supersedes_id'),
    supersededAt: tstz('superseded_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    version: versionColumn(),
  },
  (t) => [
    uniqueIndex('consent_current_unique')
      .on(t.participantId, t.protocolId)
      .where(sql`${t.supersededAt} is null`),
    index('consent_participant_idx').on(t.participantId),
  ],
);
describeUnique('consent_current_unique', consentExists);

/** Progress of a withdrawal (or re-consent) cascade, run by the consent worker. */
export const consentCascades = pgTable(
  'consent_cascade',
  {
    id: idColumn(),
    institutionId: uuid('institution_id').notNull(),
    consentId: uuid('consent_id')
      .notNull()
      .references(() => consents.id),
    kind: cascadeKind('kind').notNull(),
    status: cascadeStatus('status').notNull().default('pending'),
    specimensFound: integer('specimens_found').notNull().default(0),
    specimensChanged: integer('specimens_changed').notNull().default(0),
    destructionListed: integer('destruction_listed').notNull().default(0),
    partnersNotified: integer('partners_notified').notNull().default(0),
    createdAt: createdAt(),
    startedAt: tstz('started_at'),
    completedAt: tstz('completed_at'),
  },
  (t) => [index('consent_cascade_consent_idx').on(t.consentId)],
);

/** Specimens to destroy after a withdrawal with the destroy scope; confirmed by scanning them. */
export const destructionItems = pgTable(
  'destruction_item',
  {
    id: idColumn(),
    institutionId: uuid('institution_id').notNull(),
    specimenId: uuid('specimen_id')
      .notNull()
      .references(() => specimens.id),
    consentId: uuid('consent_id')
      .notNull()
      .references(() => consents.id),
    listedAt: createdAt(),
    confirmedAt: tstz('confirmed_at'),
    confirmedBy: varchar('confirmed_by', { length: 120 }),
  },
  (t) => [
    uniqueIndex('destruction_item_specimen_unique').on(t.specimenId, t.consentId),
    index('destruction_item_open_idx')
      .on(t.institutionId)
      .where(sql`${t.confirmedAt} is null`),
  ],
);
