import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  index,
  integer,
  smallint,
  jsonb,
  numeric,
  pgEnum,
  pgTable,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { tstz } from '../../db/columns.js';

export const CUSTODY_EVENT_TYPES = [
  'registered',
  'collected',
  'received',
  'stored',
  'moved',
  'checked_out',
  'checked_in',
  'thawed',
  'aliquoted',
  'derived',
  'created_from_parent',
  'qc_recorded',
  'reserved',
  'reservation_released',
  'shipped',
  'received_by_partner',
  // first event of a specimen received from another institution: names the provider's `shipped` event
  'received_from_institution',
  'consumed',
  'destroyed',
  'marked_missing',
  'found',
  'consent_withdrawn',
  'hold_placed',
  'hold_released',
  'corrected',
] as const;
export type CustodyEventType = (typeof CUSTODY_EVENT_TYPES)[number];
export const custodyEventType = pgEnum('custody_event_type', CUSTODY_EVENT_TYPES);

/**
 * The custody ledger (ISO 20387 traceability): one hash chain per specimen. Append-only: a
 * trigger rejects UPDATE and DELETE. The hash covers the previous hash and the canonical event.
 */
export const custodyEvents = pgTable(
  'custody_event',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    specimenId: uuid('specimen_id').notNull(),
    institutionId: uuid('institution_id').notNull(),
    seq: integer('seq').notNull(),
    type: custodyEventType('type').notNull(),
    occurredAt: tstz('occurred_at').notNull(),
    recordedAt: tstz('recorded_at').notNull(),
    actor: varchar('actor', { length: 120 }).notNull(),
    // Who acted, readable as it was then (ISO 20387 traceability): the key's name, role and
    // institution code. Null in events recorded before they were kept (hash version 1).
    actorName: varchar('actor_name', { length: 120 }),
    actorRole: varchar('actor_role', { length: 20 }),
    actorInstitutionCode: varchar('actor_institution_code', { length: 32 }),
    /** which canonical form the hash covers: 1 without the actor's identity, 2 with it */
    hashVersion: smallint('hash_version').notNull().default(1),
    requestId: varchar('request_id', { length: 128 }).notNull(),
    fromContainerId: uuid('from_container_id'),
    fromPosition: varchar('from_position', { length: 16 }),
    toContainerId: uuid('to_container_id'),
    toPosition: varchar('to_position', { length: 16 }),
    quantityChange: numeric('quantity_change', { precision: 14, scale: 4, mode: 'string' }),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    prevHash: varchar('prev_hash', { length: 64 }),
    hash: varchar('hash', { length: 64 }).notNull(),
  },
  (t) => [
    uniqueIndex('custody_specimen_seq_unique').on(t.specimenId, t.seq),
    index('custody_institution_idx').on(t.institutionId, t.id),
    // Every event hashed with the actor's identity names the actor.
    check('custody_actor_identity', sql`${t.hashVersion} = 1 or ${t.actorName} is not null`),
  ],
);

export type CustodyEventRow = typeof custodyEvents.$inferSelect;
