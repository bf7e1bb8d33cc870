import { sql } from 'drizzle-orm';
import {
  bigint,
  customType,
  index,
  integer,
  pgEnum,
  pgTable,
  text,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { tstz } from '../../db/columns.js';

/** The tables the change feed follows, by the entity name it gives their rows (one trigger set each). */
export const CHANGE_ENTITIES = ['specimen', 'participant', 'consent', 'container'] as const;
export type ChangeEntity = (typeof CHANGE_ENTITIES)[number];
export const CHANGE_OPERATIONS = ['created', 'updated', 'deleted'] as const;
export type ChangeOperation = (typeof CHANGE_OPERATIONS)[number];

export const changeOperation = pgEnum('change_operation', CHANGE_OPERATIONS);

/** PostgreSQL's 64-bit transaction id (`pg_current_xact_id()`), read as its decimal text. */
const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => 'xid8' });

/**
 * Every committed change to a followed table, written by statement triggers in the writer's own
 * transaction (migration 0009), so no writer can skip it. `position` is the feed order: the
 * sequencer (`change_log_sequence()`) gives it only to rows it can see, that is after their
 * transaction committed, in the order it sees them; a consumer reading `position > cursor` misses
 * nothing and sees nothing twice, whatever order transactions commit in. `id` and `txid` order the
 * rows of one pass.
 *
 * No foreign key on `institution_id`: it is copied from the changed row, which has one, and a
 * bulk write would pay a second check per row.
 */
export const changeLog = pgTable(
  'change_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    position: bigint('position', { mode: 'number' }),
    txid: xid8('txid')
      .notNull()
      .default(sql`pg_current_xact_id()`),
    institutionId: uuid('institution_id').notNull(),
    entity: varchar('entity', { length: 40 }).notNull(),
    entityId: uuid('entity_id').notNull(),
    /** the row's version after the change (before it, for a deletion); null where the table has none */
    version: integer('version'),
    operation: changeOperation('operation').notNull(),
    /** column names: those that differ (update), hold a value (create); none for a deletion */
    changedColumns: text('changed_columns')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    changedAt: tstz('changed_at')
      .notNull()
      .default(sql`now()`),
    /** `biobank.request_id` of the writing transaction (set by inTransaction) */
    requestId: varchar('request_id', { length: 128 }),
  },
  (t) => [
    uniqueIndex('change_log_position_unique').on(t.position),
    index('change_log_feed_idx')
      .on(t.institutionId, t.position)
      .where(sql`${t.position} is not null`),
    index('change_log_pending_idx')
      .on(t.txid, t.id)
      .where(sql`${t.position} is null`),
  ],
);

export type ChangeRow = typeof changeLog.$inferSelect;
