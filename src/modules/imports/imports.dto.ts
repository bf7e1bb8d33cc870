import type { z } from 'zod';
import type { RowError } from './imports.repo.js';
import type { importJobDto, rowErrorDto } from './imports.schemas.js';
import type { ImportJobRow } from './imports.table.js';

export function toImportJobDto(j: ImportJobRow): z.infer<typeof importJobDto> {
  return {
    id: j.id,
    kind: j.kind,
    mode: j.mode,
    dryRun: j.dryRun,
    format: j.format as 'csv' | 'ndjson',
    status: j.status,
    totalRows: j.totalRows,
    validRows: j.validRows,
    existingRows: j.existingRows,
    invalidRows: j.invalidRows,
    errorCount: j.errorCount,
    appliedRows: j.appliedRows,
    createdRecords: j.createdRecords,
    progress:
      j.validRows === 0 ? (j.status === 'completed' ? 1 : 0) : Math.min(1, j.appliedRows / j.validRows),
    errorsUrl: `/v1/imports/${j.id}/errors`,
    createdAt: j.createdAt.toISOString(),
    startedAt: j.startedAt?.toISOString() ?? null,
    finishedAt: j.finishedAt?.toISOString() ?? null,
  };
}

export const toRowErrorDto = (e: RowError): z.infer<typeof rowErrorDto> => ({
  row: e.rowNo,
  column: e.column === '' ? null : e.column,
  code: e.code,
  detail: e.detail,
});
