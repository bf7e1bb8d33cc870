import { index, integer, jsonb, pgEnum, pgTable, primaryKey, uuid, varchar } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../db/columns.js';
import { apiKeys } from '../auth/api-keys.table.js';

export const idempotencyState = pgEnum('idempotency_state', ['in_flight', 'completed']);

/** Idempotency-Key records, scoped to the API key, kept 24 hours (purged by a scheduled job). */
export const idempotencyKeys = pgTable(
  'idempotency_key',
  {
    apiKeyId: uuid('api_key_id')
      .notNull()
      .references(() => apiKeys.id),
    key: varchar('key', { length: 255 }).notNull(),
    /** SHA-256 over method, path and body: the same key with another request is refused */
    requestHash: varchar('request_hash', { length: 64 }).notNull(),
    method: varchar('method', { length: 10 }).notNull(),
    path: varchar('path', { length: 2048 }).notNull(),
    state: idempotencyState('state').notNull().default('in_flight'),
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    createdAt: createdAt(),
    lockedUntil: tstz('locked_until').notNull(),
    expiresAt: tstz('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index('idempotency_expires_idx').on(t.expiresAt)],
);
