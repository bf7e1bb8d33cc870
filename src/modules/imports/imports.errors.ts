// The imports module's errors, one constructor per code (catalogue in src/errors.ts).
import { DomainError } from '../../errors.js';

export const importNotFound = (id: string) => new DomainError('IMPORT_NOT_FOUND', `import ${id} not found`);

/** The file cannot be read as the format says (a header, the compression, an unclosed quote). */
export const importMalformed = (detail: string) =>
  new DomainError('IMPORT_MALFORMED', `the file cannot be read: ${detail}`, [
    { field: 'body', message: detail },
  ]);

/**
 * An all-or-nothing import with bad rows: nothing was applied. `errors` are the first rows'
 * problems (row, column, code, detail); the whole list is paged at `errorsUrl`.
 */
export const importRejected = (
  importId: string,
  counts: { errorCount: number; invalidRows: number; totalRows: number },
  errors: { row: number; column: string | null; code: string; detail: string }[],
) =>
  new DomainError(
    'IMPORT_REJECTED',
    `${counts.invalidRows} of ${counts.totalRows} rows have errors (${counts.errorCount} in all); nothing was imported`,
    [],
    {
      importId,
      errorCount: counts.errorCount,
      invalidRows: counts.invalidRows,
      totalRows: counts.totalRows,
      rowErrors: errors,
      errorsUrl: `/v1/imports/${importId}/errors`,
    },
  );

/** A row that cannot be read: another number of fields than the header, not a JSON object. */
export const malformedRow = (detail: string) => new DomainError('MALFORMED_ROW', `the row ${detail}`);

/** The row's natural key (an external id, a barcode, a position) is an earlier row's. */
export const duplicateInFile = (what: string, firstRow: number) =>
  new DomainError('DUPLICATE_IN_FILE', `${what} is also in row ${firstRow}`);

/**
 * A row's key ("<column>\n<scope...>\n<value>") met again: named by its column and the value the
 * file gave, last in the key; a hospital patient id is kept only as a keyed hash, so it is named
 * without its value.
 */
export const duplicateKeyInFile = (key: string, firstRow: number) => {
  const [column, ...rest] = key.split('\n');
  return {
    column: column!,
    error: duplicateInFile(
      column === 'lisPatientId' ? 'the same lisPatientId' : `${column} ${rest.at(-1)}`,
      firstRow,
    ),
  };
};
