import { z } from 'zod';
import { pageQuery } from '../../pagination.js';
import { IMPORT_FORMATS } from './imports.parse.js';
import { IMPORT_KINDS, IMPORT_MODES, IMPORT_STATUSES } from './imports.table.js';

// Import inputs and answers REST and GraphQL share.

export const startImportQuery = z.object({
  kind: z.enum(IMPORT_KINDS).describe('what the rows are'),
  mode: z
    .enum(IMPORT_MODES)
    .default('all-or-nothing')
    .describe('all-or-nothing: one bad row refuses the file; valid-rows: bad rows are reported and left out'),
  dryRun: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .describe('validate and report only: nothing is applied'),
  format: z
    .enum(IMPORT_FORMATS)
    .optional()
    .describe('csv or ndjson; by default from the Content-Type (text/csv, application/x-ndjson)'),
});

export const importParams = z.object({ id: z.uuid() });
export const templateParams = z.object({ kind: z.enum(IMPORT_KINDS) });
export const importErrorsQuery = pageQuery;

export const rowErrorDto = z
  .object({
    row: z.number().int().describe('the row number in the file (the CSV header is row 1)'),
    column: z.string().nullable().describe('the column (CSV) or field (NDJSON); null for the whole row'),
    code: z.string().describe('an error code of the catalogue'),
    detail: z.string(),
  })
  .describe('one problem of one row, as problem details');

export const importJobDto = z.object({
  id: z.uuid(),
  kind: z.enum(IMPORT_KINDS),
  mode: z.enum(IMPORT_MODES),
  dryRun: z.boolean(),
  format: z.enum(IMPORT_FORMATS),
  status: z.enum(IMPORT_STATUSES),
  totalRows: z.number().int().describe('rows read (the header not counted)'),
  validRows: z.number().int().describe('rows that passed validation and create or update something'),
  existingRows: z.number().int().describe('rows whose record already exists as described (a re-import)'),
  invalidRows: z.number().int(),
  errorCount: z.number().int(),
  appliedRows: z.number().int(),
  createdRecords: z.number().int(),
  progress: z.number().describe('applied share of the valid rows, 0 to 1'),
  errorsUrl: z.string(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});

export const startImportDto = importJobDto.extend({
  errors: z.array(rowErrorDto).describe('the first 1,000 row errors in file order; the rest at errorsUrl'),
});

export const rowErrorPageDto = z.object({ items: z.array(rowErrorDto), nextCursor: z.string().nullable() });
