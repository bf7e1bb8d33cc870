import { index, pgEnum, pgTable, text, uniqueIndex, uuid, varchar } from 'drizzle-orm/pg-core';
import { createdAt, idColumn, tstz } from '../db/columns.js';
import { institutions } from '../modules/institutions/institutions.table.js';
import { ROLES } from './roles.js';

export const apiKeyRole = pgEnum('api_key_role', ROLES);

export const apiKeys = pgTable(
  'api_key',
  {
    id: idColumn(),
    institutionId: uuid('institution_id')
      .notNull()
      .references(() => institutions.id),
    name: varchar('name', { length: 120 }).notNull(),
    role: apiKeyRole('role').notNull(),
    /** short visible id, part of the token (`bbk_<prefix>_<secret>`), safe to show and log */
    prefix: varchar('prefix', { length: 16 }).notNull(),
    /** SHA-256 of the whole token, hex; the token itself is never stored */
    tokenHash: varchar('token_hash', { length: 64 }).notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    expiresAt: tstz('expires_at'),
    revokedAt: tstz('revoked_at'),
    lastUsedAt: tstz('last_used_at'),
  },
  (t) => [
    uniqueIndex('api_key_token_hash_unique').on(t.tokenHash),
    uniqueIndex('api_key_prefix_unique').on(t.prefix),
    index('api_key_institution_idx').on(t.institutionId, t.id),
  ],
);
