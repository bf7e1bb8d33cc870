import {
  bigint,
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
import { createdAt, idColumn, tstz } from '../../db/columns.js';
import { institutions } from '../institutions/institutions.table.js';

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export const webhookDeliveryStatus = pgEnum('webhook_delivery_status', WEBHOOK_DELIVERY_STATUSES);

/** One event to one institution's endpoint; its attempts are the delivery log. */
export const webhookDeliveries = pgTable(
  'webhook_delivery',
  {
    /** also the Standard Webhooks `webhook-id`, stable across retries so receivers can dedupe */
    id: idColumn(),
    institutionId: uuid('institution_id')
      .notNull()
      .references(() => institutions.id),
    eventType: varchar('event_type', { length: 80 }).notNull(),
    payload: jsonb('payload').notNull(),
    targetUrl: text('target_url').notNull(),
    status: webhookDeliveryStatus('status').notNull().default('pending'),
    attemptCount: integer('attempt_count').notNull().default(0),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    lastAttemptAt: tstz('last_attempt_at'),
    deliveredAt: tstz('delivered_at'),
    createdAt: createdAt(),
  },
  (t) => [index('webhook_delivery_institution_idx').on(t.institutionId, t.id)],
);

export const webhookAttempts = pgTable(
  'webhook_attempt',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    deliveryId: uuid('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id),
    attemptNumber: integer('attempt_number').notNull(),
    /** outbox id of the job run that made this attempt: one attempt per job try */
    jobId: varchar('job_id', { length: 80 }).notNull(),
    startedAt: tstz('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    responseExcerpt: varchar('response_excerpt', { length: 500 }),
  },
  (t) => [uniqueIndex('webhook_attempt_number_unique').on(t.deliveryId, t.attemptNumber)],
);
