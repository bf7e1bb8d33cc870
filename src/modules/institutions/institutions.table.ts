import { sql } from 'drizzle-orm';
import { boolean, check, pgEnum, pgTable, text, uniqueIndex, varchar } from 'drizzle-orm/pg-core';
import { createdAt, idColumn, updatedAt, versionColumn } from '../../db/columns.js';
import { describeUnique } from '../../db/pg-errors.js';
import { institutionCodeTaken, operatorExists } from './institutions.errors.js';

export const INSTITUTION_KINDS = [
  'biobank',
  'research_hospital',
  'hospital',
  'research_institute',
  'partner',
] as const;
export const institutionKind = pgEnum('institution_kind', INSTITUTION_KINDS);

export const institutions = pgTable(
  'institution',
  {
    id: idColumn(),
    code: varchar('code', { length: 32 }).notNull(),
    name: varchar('name', { length: 200 }).notNull(),
    kind: institutionKind('kind').notNull(),
    /** runs this platform: its admins create the other institutions */
    operator: boolean('operator').notNull().default(false),
    webhookUrl: text('webhook_url'),
    /** Standard Webhooks signing secret (`whsec_...`), shown to the institution's admin once */
    webhookSecret: text('webhook_secret'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    version: versionColumn(),
  },
  (t) => [
    uniqueIndex('institution_code_unique').on(t.code),
    // One operator per platform.
    uniqueIndex('institution_single_operator')
      .on(t.operator)
      .where(sql`${t.operator}`),
    check('institution_code_format', sql`${t.code} ~ '^[A-Z0-9][A-Z0-9_-]{1,31}$'`),
  ],
);

describeUnique('institution_code_unique', (v) => institutionCodeTaken(v.code ?? ''));
describeUnique('institution_single_operator', operatorExists);
