import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { createdAt, idColumn, tstz, updatedAt } from '../../db/columns.js';
import { institutions } from '../institutions/institutions.table.js';

export const IMPORT_KINDS = ['specimens', 'participants', 'consents'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];
/** all-or-nothing: one bad row refuses the file; valid-rows: bad rows are reported and left out */
export const IMPORT_MODES = ['all-or-nothing', 'valid-rows'] as const;
export type ImportMode = (typeof IMPORT_MODES)[number];
/**
 * validated: a dry run's end; rejected: all-or-nothing with bad rows; queued: waiting for the
 * worker; applying; completed; failed: the apply stopped (the reason is an error of row 0).
 */
export const IMPORT_STATUSES = [
  'validating',
  'validated',
  'rejected',
  'queued',
  'applying',
  'completed',
  'failed',
] as const;
export type ImportStatus = (typeof IMPORT_STATUSES)[number];

export const importKind = pgEnum('import_kind', IMPORT_KINDS);
export const importMode = pgEnum('import_mode', IMPORT_MODES);
export const importStatus = pgEnum('import_status', IMPORT_STATUSES);

/** One uploaded file and what became of it. Counters move as the file is read, then applied. */
export const importJobs = pgTable(
  'import_job',
  {
    id: idColumn(),
    institutionId: uuid('institution_id')
      .notNull()
      .references(() => institutions.id),
    kind: importKind('kind').notNull(),
    mode: importMode('mode').notNull(),
    dryRun: boolean('dry_run').notNull(),
    format: varchar('format', { length: 10 }).notNull(),
    status: importStatus('status').notNull().default('validating'),
    /** the API key (or system) that uploaded it: the apply acts as it, so custody and audit name it */
    actor: jsonb('actor').$type<Record<string, unknown>>().notNull(),
    requestId: varchar('request_id', { length: 128 }).notNull(),
    totalRows: integer('total_rows').notNull().default(0),
    /** rows that passed validation and create something */
    validRows: integer('valid_rows').notNull().default(0),
    /** rows whose record already exists as the row describes it (a re-import) */
    existingRows: integer('existing_rows').notNull().default(0),
    invalidRows: integer('invalid_rows').notNull().default(0),
    errorCount: integer('error_count').notNull().default(0),
    appliedRows: integer('applied_rows').notNull().default(0),
    createdRecords: integer('created_records').notNull().default(0),
    /** the apply's resume point: staged rows up to this row number are done */
    appliedThroughRow: integer('applied_through_row').notNull().default(0),
    startedAt: tstz('started_at'),
    finishedAt: tstz('finished_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('import_job_institution_idx').on(t.institutionId, t.id),
    check('import_job_counts', sql`${t.appliedRows} <= ${t.validRows}`),
  ],
);

/**
 * Rows that passed validation, as the apply needs them (natural keys resolved to ids), kept until
 * applied: the file is read once and never held in memory. `keys` are the row's natural keys (its
 * external id, barcode, position), for duplicates across the whole file.
 */
export const importRows = pgTable(
  'import_row',
  {
    jobId: uuid('job_id')
      .notNull()
      .references(() => importJobs.id, { onDelete: 'cascade' }),
    rowNo: integer('row_no').notNull(),
    keys: text('keys')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.rowNo] })],
);

/** Every problem found, one per row and column: a file's errors are reported all at once. */
export const importErrors = pgTable(
  'import_error',
  {
    jobId: uuid('job_id')
      .notNull()
      .references(() => importJobs.id, { onDelete: 'cascade' }),
    rowNo: integer('row_no').notNull(),
    column: varchar('column_name', { length: 64 }).notNull(),
    code: varchar('code', { length: 64 }).notNull(),
    detail: text('detail').notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.rowNo, t.column, t.code] })],
);

export type ImportJobRow = typeof importJobs.$inferSelect;
export type ImportErrorRow = typeof importErrors.$inferSelect;
