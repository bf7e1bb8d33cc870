import { index, integer, json, pgTable, primaryKey, uuid, varchar } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../db/columns.js';
import { apiKeys } from '../auth/api-keys.table.js';

/**
 * Idempotency-Key records, scoped to the API key, kept 24 hours (purged by a scheduled job). A
 * record is written by the request's own transaction, so a committed one always holds its answer
 * (src/http/idempotency.ts).
 */
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
    /** written with the record (null only in records left by the earlier two-step claim) */
    responseStatus: integer('response_status'),
    /** as answered, text kept: a GraphQL answer replays its fields in the order they were selected */
    responseBody: json('response_body'),
    createdAt: createdAt(),
    expiresAt: tstz('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index('idempotency_expires_idx').on(t.expiresAt)],
);
