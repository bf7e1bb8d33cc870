import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, uuid, varchar } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../db/columns.js';

/**
 * Transactional outbox: jobs are written with the change that implies them and moved into
 * BullMQ by the relay after commit (job id = outbox id, so a second move is deduplicated).
 */
export const outbox = pgTable(
  'outbox',
  {
    id: uuid('id').primaryKey(),
    queue: varchar('queue', { length: 60 }).notNull(),
    jobName: varchar('job_name', { length: 80 }).notNull(),
    payload: jsonb('payload').notNull(),
    createdAt: createdAt(),
    /** earliest time the job may run (delayed jobs) */
    runAt: tstz('run_at'),
    enqueuedAt: tstz('enqueued_at'),
    relayAttempts: integer('relay_attempts').notNull().default(0),
    lastError: text('last_error'),
  },
  (t) => [
    index('outbox_pending_idx')
      .on(t.createdAt)
      .where(sql`${t.enqueuedAt} is null`),
  ],
);
