// Bulk import (POST /v1/imports, `npm run biobank -- import`): a file is read as a stream, a chunk
// of rows at a time, validated and staged (import_row) with every bad row's problems recorded
// (import_error), all before anything is applied. A dry run stops there; an all-or-nothing file
// with bad rows is refused; otherwise one job through the outbox applies the staged rows
// (imports.apply.ts). Memory stays bounded whatever the file's size: a chunk at a time.
import type { Readable } from 'node:stream';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize, type Operation } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { enqueueJob } from '../../jobs/outbox.js';
import { decodeCursor, encodeCursor } from '../../pagination.js';
import { z } from 'zod';
import { recordAudit } from '../audit/index.js';
import { COLUMNS, templateCsv } from './imports.columns.js';
import { duplicateKeyInFile, importNotFound, importRejected } from './imports.errors.js';
import { applyImportJob } from './imports.jobs.js';
import { csvRecords, ndjsonRecords, type ImportFormat, type ParsedRecord } from './imports.parse.js';
import {
  addToImportJob,
  clearStagedRows,
  countInvalidRows,
  deleteImportJob,
  duplicateKeys,
  findImportJob,
  insertImportJob,
  insertRowErrors,
  listRowErrors,
  stageRows,
  unstageRows,
  updateImportJob,
  type RowError,
} from './imports.repo.js';
import type { ImportJobRow, ImportKind, ImportMode } from './imports.table.js';
import { validateChunk, type ValidateDeps } from './imports.validate.js';
import { createImportApply, type ApplyDeps, type ApplyHooks } from './imports.apply.js';

/** Rows validated per transaction: the registration's checks cost a few statements per chunk. */
export const VALIDATE_CHUNK = 5_000;
/** Errors an answer lists; the rest are paged at GET /v1/imports/{id}/errors. */
export const ERRORS_IN_ANSWER = 1_000;

const WRITE: Record<ImportKind, Operation[]> = {
  specimens: ['specimens.register'],
  participants: ['participants.manage', 'participants.identity'],
  consents: ['consent.manage'],
};
const READ: Record<ImportKind, Operation> = {
  specimens: 'specimens.read',
  participants: 'participants.read',
  consents: 'consent.read',
};

export interface StartImportInput {
  kind: ImportKind;
  mode: ImportMode;
  dryRun: boolean;
  format: ImportFormat;
  file: Readable;
}

export interface ImportAnswer {
  job: ImportJobRow;
  /** the first errors in file order (all of them when fewer than ERRORS_IN_ANSWER) */
  errors: RowError[];
}

const errorCursor = z.object({ r: z.number().int(), c: z.string(), k: z.string() });

export type ImportServiceDeps = ValidateDeps & ApplyDeps & { db: Db };

export function createImportService(deps: ImportServiceDeps) {
  const { db } = deps;
  const apply = createImportApply(deps);

  async function ownJob(ctx: Ctx, id: string): Promise<ImportJobRow> {
    const job = await findImportJob(db, actorInstitutionId(ctx.actor), id);
    if (!job) throw importNotFound(id);
    authorize(ctx.actor, READ[job.kind]);
    return job;
  }

  /** Reads the file a chunk at a time into the job's staging rows and errors. */
  async function validateFile(ctx: Ctx, job: ImportJobRow, input: StartImportInput): Promise<void> {
    const columns = COLUMNS[input.kind];
    const records =
      input.format === 'csv' ? csvRecords(input.file, columns) : ndjsonRecords(input.file, columns.known);
    let chunk: ParsedRecord[] = [];
    const flush = async () => {
      const records = chunk;
      chunk = [];
      await inTransaction(db, ctx, async (tx) => {
        const out = await validateChunk(input.kind, tx, ctx, deps, records);
        await stageRows(tx, job.id, out.staged);
        const added = await insertRowErrors(tx, job.id, out.errors);
        await addToImportJob(tx, job.id, {
          totalRows: records.length,
          validRows: out.staged.length,
          existingRows: out.existing,
          invalidRows: new Set(out.errors.map((e) => e.rowNo)).size,
          errorCount: added,
        });
      });
    };
    for await (const record of records) {
      chunk.push(record);
      if (chunk.length >= VALIDATE_CHUNK) await flush();
    }
    if (chunk.length) await flush();
    // Rows of different chunks naming the same record: the later ones are errors.
    await inTransaction(db, ctx, async (tx) => {
      const dups = await duplicateKeys(tx, job.id);
      if (dups.length === 0) return;
      const errors = dups.map((d) => {
        const { column, error } = duplicateKeyInFile(d.key, d.firstRow);
        return { rowNo: d.rowNo, column, code: 'DUPLICATE_IN_FILE', detail: error.message };
      });
      const rows = [...new Set(dups.map((d) => d.rowNo))];
      await unstageRows(tx, job.id, rows);
      const added = await insertRowErrors(tx, job.id, errors);
      const invalid = await countInvalidRows(tx, job.id);
      const current = await findImportJob(tx, job.institutionId, job.id);
      await updateImportJob(tx, job.id, {
        validRows: current!.validRows - rows.length,
        invalidRows: invalid,
        errorCount: current!.errorCount + added,
      });
    });
  }

  return {
    /**
     * Reads, validates and stages a file; then a dry run ends (`validated`), an all-or-nothing file
     * with bad rows is refused, and otherwise the apply is queued (`queued`, or `completed` when
     * nothing is left to create); with `enqueue: false` the caller applies it (the CLI). Throws FORBIDDEN, IMPORT_MALFORMED (400: the file cannot be read;
     * nothing is kept), IMPORT_REJECTED (422, with the rows' errors; nothing was applied).
     */
    async startImport(
      ctx: Ctx,
      input: StartImportInput,
      opts: { enqueue?: boolean } = {},
    ): Promise<ImportAnswer> {
      for (const op of WRITE[input.kind]) authorize(ctx.actor, op);
      const institutionId = actorInstitutionId(ctx.actor);
      const job = await insertImportJob(db, {
        institutionId,
        kind: input.kind,
        mode: input.mode,
        dryRun: input.dryRun,
        format: input.format,
        actor: { ...ctx.actor },
        requestId: ctx.requestId,
      });
      try {
        await validateFile(ctx, job, input);
      } catch (err) {
        // A file that cannot be read leaves nothing behind: not even the job.
        await deleteImportJob(db, job.id);
        throw err;
      }
      const answer = await inTransaction(db, ctx, async (tx) => {
        const read = (await findImportJob(tx, institutionId, job.id, { lock: true }))!;
        const errors = await listRowErrors(tx, job.id, undefined, ERRORS_IN_ANSWER);
        const refused = !read.dryRun && read.mode === 'all-or-nothing' && read.invalidRows > 0;
        const status = read.dryRun
          ? 'validated'
          : refused
            ? 'rejected'
            : read.validRows === 0
              ? 'completed'
              : 'queued';
        if (status !== 'queued') await clearStagedRows(tx, job.id);
        const done = status !== 'queued';
        const after = await updateImportJob(tx, job.id, {
          status,
          ...(done ? { finishedAt: new Date() } : {}),
        });
        // A dry run or a refused file changes nothing, so it leaves no audit row either.
        if (status === 'queued' || status === 'completed')
          await recordAudit(tx, ctx, {
            action: 'startImport',
            entityType: 'import_job',
            entityId: job.id,
            institutionId,
            after,
          });
        if (status === 'queued' && opts.enqueue !== false)
          await enqueueJob(tx, ctx, applyImportJob, { importId: job.id });
        return { job: after, errors };
      });
      // Refused after the report is committed, so the job keeps it for GET .../errors.
      if (answer.job.status === 'rejected')
        throw importRejected(
          job.id,
          answer.job,
          answer.errors.map((e) => ({
            row: e.rowNo,
            column: e.column || null,
            code: e.code,
            detail: e.detail,
          })),
        );
      return answer;
    },

    /** The import and its progress. Throws IMPORT_NOT_FOUND. */
    async getImport(ctx: Ctx, id: string): Promise<ImportJobRow> {
      return ownJob(ctx, id);
    },

    /** A page of the import's row errors in file order. Throws IMPORT_NOT_FOUND, INVALID_CURSOR. */
    async listImportErrors(
      ctx: Ctx,
      input: { id: string; cursor?: string; limit: number },
    ): Promise<{ items: RowError[]; nextCursor: string | null }> {
      const job = await ownJob(ctx, input.id);
      const after = decodeCursor(input.cursor, errorCursor);
      const rows = await listRowErrors(
        db,
        job.id,
        after && { rowNo: after.r, column: after.c, code: after.k },
        input.limit + 1,
      );
      const items = rows.slice(0, input.limit);
      const last = items.at(-1);
      return {
        items,
        nextCursor:
          rows.length > input.limit && last
            ? encodeCursor({ r: last.rowNo, c: last.column, k: last.code })
            : null,
      };
    },

    /** The CSV template of a kind: header and one example row. */
    getImportTemplate(kind: ImportKind): string {
      return templateCsv(kind);
    },

    /**
     * Applies a queued import's staged rows (the imports.apply job, or the CLI in its own process).
     * Re-running it after a crash resumes; a finished import is left as it is.
     */
    applyImport: (ctx: Ctx, importId: string, hooks?: ApplyHooks) => apply.applyImport(ctx, importId, hooks),
  };
}

export type ImportService = ReturnType<typeof createImportService>;
