import { sql } from 'drizzle-orm';
import {
  bigint,
  check,
  customType,
  index,
  integer,
  pgEnum,
  pgTable,
  text,
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

/** What a change says, in both tables. */
const changeColumns = () => ({
  institutionId: uuid('institution_id').notNull(),
  entity: varchar('entity', { length: 40 }).notNull(),
  entityId: uuid('entity_id').notNull(),
  /** the row's version after the change (before it, for a deletion) */
  version: integer('version'),
  operation: changeOperation('operation').notNull(),
  /** the columns an update changed; none for a creation or a deletion (the whole row) */
  changedColumns: text('changed_columns')
    .array()
    .notNull()
    .default(sql`'{}'::text[]`),
  changedAt: tstz('changed_at')
    .notNull()
    .default(sql`now()`),
  /** `biobank.request_id` of the writing transaction (set by inTransaction) */
  requestId: varchar('request_id', { length: 128 }),
});

/**
 * Changes as they are captured: statement triggers on each followed table write here in the
 * writer's own transaction (migration 0011), so no writer can skip it, and a rolled-back write
 * leaves nothing. Rows wait here, without a feed position, until the sequencer moves them to
 * `change_log`; it looks for them from its low mark (`change_log_sequencer`), past the index
 * entries of rows it moved before. No key of its own, and no foreign key on `institution_id` (it
 * is copied from the changed row, which has one): each is one more check or index entry per change.
 */
export const changeLogPending = pgTable(
  'change_log_pending',
  {
    /** with txid, the order of a pass; no key and no index of its own: one index less per change */
    id: bigint('id', { mode: 'number' }).notNull().generatedAlwaysAsIdentity(),
    txid: xid8('txid')
      .notNull()
      .default(sql`pg_current_xact_id()`),
    ...changeColumns(),
  },
  (t) => [index('change_log_pending_order_idx').on(t.txid, t.id)],
);

/**
 * The feed: committed changes with their position. The sequencer (`change_log_sequence()`) moves
 * rows here only after their transaction committed, in the order it sees them, with positions
 * above every one already given; a consumer reading `position > cursor` misses nothing and sees
 * nothing twice, whatever order transactions commit in. Insert-only, so it stays dense in
 * position order.
 */
export const changeLog = pgTable(
  'change_log',
  {
    position: bigint('position', { mode: 'number' }).primaryKey(),
    ...changeColumns(),
  },
  (t) => [index('change_log_feed_idx').on(t.institutionId, t.position)],
);

/**
 * The sequencer's one row: `low_txid`, below which no transaction can still add a pending change
 * (every one that could had ended when a pass took everything it saw). Passes look for pending
 * rows from there, so they skip the index entries of rows already moved, however long ago vacuum
 * last ran.
 */
export const changeLogSequencer = pgTable(
  'change_log_sequencer',
  {
    id: integer('id').primaryKey(),
    lowTxid: xid8('low_txid').notNull(),
  },
  (t) => [check('change_log_sequencer_one_row', sql`${t.id} = 1`)],
);

export type ChangeRow = typeof changeLog.$inferSelect;
