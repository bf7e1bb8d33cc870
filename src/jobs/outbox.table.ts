import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, uuid, varchar } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../db/columns.js';

/**
 * Transactional outbox: jobs are written with the change that implies them and moved into
 * BullMQ by the relay after commit (job id = outbox id, so a second move is deduplicated). A row
 * stays open until its handler has finished, so work survives Redis losing its data.
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
    /**
     * When the job's handler finished (PostgreSQL, not Redis, is the record of work done): until
     * then the reconciler puts the job back whenever Redis no longer has it.
     */
    doneAt: tstz('done_at'),
    /** When the job failed for good (a refusal, or its last attempt): not put back either. */
    failedAt: tstz('failed_at'),
    /**
     * The W3C trace context (`traceparent`, `tracestate`) of the request that wrote the row, when
     * tracing is on: the relay hands it to the job, whose span continues the request's trace.
     */
    traceContext: jsonb('trace_context').$type<Record<string, string>>(),
  },
  (t) => [
    index('outbox_pending_idx')
      .on(t.createdAt)
      .where(sql`${t.enqueuedAt} is null`),
    // Relayed work not yet finished: what the reconciler walks.
    index('outbox_open_idx')
      .on(t.enqueuedAt)
      .where(sql`${t.enqueuedAt} is not null and ${t.doneAt} is null and ${t.failedAt} is null`),
  ],
);
