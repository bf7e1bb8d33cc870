// SQL of the imports module's own tables (import_job, import_row, import_error).
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { A, Q, pgArray } from '../../db/array-literals.js';
import { importErrors, importJobs, importRows, type ImportJobRow } from './imports.table.js';

export interface RowError {
  rowNo: number;
  column: string;
  code: string;
  detail: string;
}

export async function insertImportJob(
  db: DbOrTx,
  row: typeof importJobs.$inferInsert,
): Promise<ImportJobRow> {
  const [created] = await db.insert(importJobs).values(row).returning();
  return created!;
}

export async function findImportJob(
  db: DbOrTx,
  institutionId: string,
  id: string,
  opts: { lock?: boolean } = {},
): Promise<ImportJobRow | undefined> {
  const q = db
    .select()
    .from(importJobs)
    .where(and(eq(importJobs.id, id), eq(importJobs.institutionId, institutionId)));
  const [row] = opts.lock ? await q.for('update') : await q;
  return row;
}

/** A job by id alone: for the worker, which acts for the job's institution. With `lock`, FOR UPDATE. */
export async function findImportJobById(
  db: DbOrTx,
  id: string,
  opts: { lock?: boolean } = {},
): Promise<ImportJobRow | undefined> {
  const q = db.select().from(importJobs).where(eq(importJobs.id, id));
  const [row] = opts.lock ? await q.for('update') : await q;
  return row;
}

export async function updateImportJob(
  db: DbOrTx,
  id: string,
  patch: Partial<typeof importJobs.$inferInsert>,
): Promise<ImportJobRow> {
  const [row] = await db
    .update(importJobs)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(importJobs.id, id))
    .returning();
  return row!;
}

/** Adds to the job's counters (a chunk read or applied). */
export async function addToImportJob(
  db: DbOrTx,
  id: string,
  add: Partial<
    Record<
      | 'totalRows'
      | 'validRows'
      | 'existingRows'
      | 'invalidRows'
      | 'errorCount'
      | 'appliedRows'
      | 'createdRecords',
      number
    >
  >,
  set: Partial<typeof importJobs.$inferInsert> = {},
): Promise<void> {
  const inc = Object.fromEntries(
    Object.entries(add).map(([k, n]) => [k, sql`${importJobs[k as keyof typeof add]} + ${n ?? 0}`]),
  );
  await db
    .update(importJobs)
    .set({ ...inc, ...set, updatedAt: sql`now()` })
    .where(eq(importJobs.id, id));
}

/** Stages valid rows: one statement per chunk. */
export async function stageRows(
  db: DbOrTx,
  jobId: string,
  rows: { rowNo: number; keys: string[]; data: unknown }[],
): Promise<void> {
  if (rows.length === 0) return;
  const rowNo = A(rows.map((r) => r.rowNo));
  const keys = Q(rows.map((r) => pgArray(r.keys)));
  const data = Q(rows.map((r) => JSON.stringify(r.data)));
  await db.execute(sql`
    insert into import_row (job_id, row_no, keys, data)
    select ${jobId}, u.row_no, u.keys::text[], u.data::jsonb
      from unnest(${rowNo}::int[], ${keys}::text[], ${data}::text[]) as u(row_no, keys, data)`);
}

/** Records row errors; the same (row, column, code) twice is one error. Returns how many were new. */
export async function insertRowErrors(db: DbOrTx, jobId: string, errors: RowError[]): Promise<number> {
  if (errors.length === 0) return 0;
  const r = await db.execute(sql`
    insert into import_error (job_id, row_no, column_name, code, detail)
    select ${jobId}, u.row_no, u.column_name, u.code, u.detail
      from unnest(${A(errors.map((e) => e.rowNo))}::int[], ${Q(errors.map((e) => e.column))}::text[],
                  ${Q(errors.map((e) => e.code))}::text[], ${Q(errors.map((e) => e.detail))}::text[])
        as u(row_no, column_name, code, detail)
    on conflict do nothing`);
  return r.rowCount ?? 0;
}

/**
 * Staged rows whose natural key an earlier staged row has (rows of different chunks of the file);
 * each with the key and the first row holding it.
 */
export async function duplicateKeys(
  db: DbOrTx,
  jobId: string,
): Promise<{ rowNo: number; key: string; firstRow: number }[]> {
  const r = await db.execute<{ row_no: number; key: string; first_row: number }>(sql`
    with k as (select row_no, unnest(keys) as key from import_row where job_id = ${jobId}),
         f as (select key, min(row_no) as first_row from k group by key having count(*) > 1)
    select k.row_no, k.key, f.first_row from k join f using (key) where k.row_no > f.first_row
     order by k.row_no`);
  return r.rows.map((x) => ({ rowNo: x.row_no, key: x.key, firstRow: x.first_row }));
}

export async function unstageRows(db: DbOrTx, jobId: string, rowNos: number[]): Promise<void> {
  if (rowNos.length === 0) return;
  await db.execute(sql`delete from import_row where job_id = ${jobId} and row_no = any(${A(rowNos)}::int[])`);
}

/** A job with its staged rows and errors (a file that could not be read). */
export async function deleteImportJob(db: DbOrTx, id: string): Promise<void> {
  await db.delete(importJobs).where(eq(importJobs.id, id));
}

export async function clearStagedRows(db: DbOrTx, jobId: string): Promise<void> {
  await db.delete(importRows).where(eq(importRows.jobId, jobId));
}

/** The next staged rows after a row number, in file order. */
export async function stagedRowsAfter(db: DbOrTx, jobId: string, afterRow: number, limit: number) {
  return db
    .select({ rowNo: importRows.rowNo, data: importRows.data })
    .from(importRows)
    .where(and(eq(importRows.jobId, jobId), gt(importRows.rowNo, afterRow)))
    .orderBy(asc(importRows.rowNo))
    .limit(limit);
}

/** A page of a job's errors in file order (row, column, code), after a keyset cursor. */
export async function listRowErrors(
  db: DbOrTx,
  jobId: string,
  after: { rowNo: number; column: string; code: string } | undefined,
  limit: number,
): Promise<RowError[]> {
  const rows = await db
    .select({
      rowNo: importErrors.rowNo,
      column: importErrors.column,
      code: importErrors.code,
      detail: importErrors.detail,
    })
    .from(importErrors)
    .where(
      and(
        eq(importErrors.jobId, jobId),
        after
          ? sql`(${importErrors.rowNo}, ${importErrors.column}, ${importErrors.code}) > (${after.rowNo}, ${after.column}, ${after.code})`
          : undefined,
      ),
    )
    .orderBy(asc(importErrors.rowNo), asc(importErrors.column), asc(importErrors.code))
    .limit(limit);
  return rows;
}

/** How many distinct rows have errors. */
export async function countInvalidRows(db: DbOrTx, jobId: string): Promise<number> {
  const r = await db.execute<{ n: number }>(
    sql`select count(distinct row_no)::int as n from import_error where job_id = ${jobId}`,
  );
  return r.rows[0]!.n;
}
