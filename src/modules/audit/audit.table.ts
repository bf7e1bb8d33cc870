import { sql } from 'drizzle-orm';
import { bigint, index, jsonb, pgTable, uuid, varchar } from 'drizzle-orm/pg-core';
import { tstz } from '../../db/columns.js';

/**
 * 21 CFR 11.10(e)-style audit trail: who changed what, before and after, when (database time).
 * Append-only: a trigger (migrations/*_audit_append_only.sql) rejects UPDATE, DELETE and TRUNCATE.
 * `before` and `after` are stored lz4-compressed where the server has it (migration 0024).
 */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    institutionId: uuid('institution_id'),
    actor: varchar('actor', { length: 120 }).notNull(),
    actorRole: varchar('actor_role', { length: 32 }),
    action: varchar('action', { length: 80 }).notNull(),
    entityType: varchar('entity_type', { length: 60 }).notNull(),
    entityId: varchar('entity_id', { length: 120 }).notNull(),
    before: jsonb('before'),
    after: jsonb('after'),
    requestId: varchar('request_id', { length: 128 }).notNull(),
    recordedAt: tstz('recorded_at')
      .notNull()
      .default(sql`now()`),
  },
  (t) => [
    index('audit_entity_idx').on(t.entityType, t.entityId, t.id),
    index('audit_institution_idx').on(t.institutionId, t.id),
  ],
);
