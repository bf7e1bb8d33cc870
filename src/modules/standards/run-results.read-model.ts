// What a run's results show beside each specimen it checked. A named cross-module read model: it
// reads standardization_run_item (the run's specimens), specimen (barcode and type, the names a
// lab reads results by) and qc_result (the current results). The CSV page is one query because a
// million-specimen run streams a thousand specimens at a time: each page is one keyset range of
// run items joined to its specimens and results, in the order the lines are written.

import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import type { SpecimenType } from '../../vocabulary/specimen-types.js';

/** Barcode and type of the specimens with these ids (ids the caller read from its own run). */
export async function specimenLabels(
  db: DbOrTx,
  ids: readonly string[],
): Promise<Map<string, { id: string; barcode: string; type: SpecimenType }>> {
  const res = await db.execute<{ id: string; barcode: string; type: SpecimenType }>(
    sql`select id, barcode, type from specimen where id = any(${sql.param(ids)}::uuid[])`,
  );
  return new Map(res.rows.map((r) => [r.id, r]));
}

export type RunCsvRow = {
  specimen_id: string;
  barcode: string;
  type: string;
  check_code: string;
  outcome: string;
  message: string;
  ruleset_version: number | null;
  /** ISO 8601 in UTC, formatted by the database */
  checked_at: string;
};

/**
 * The current results of the next `pageSize` specimens of a run after `after`, by specimen id and
 * then check (a specimen without results gives no row).
 */
export async function runCsvPage(
  db: DbOrTx,
  runId: string,
  after: string | null,
  pageSize: number,
): Promise<RunCsvRow[]> {
  // Lateral: one primary-key range per specimen, in order, whatever the statistics say.
  const res = await db.execute<RunCsvRow>(sql`
    select i.specimen_id, s.barcode, s.type, q.check_code, q.outcome, q.message, q.ruleset_version,
           to_char(q.checked_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as checked_at
      from (select specimen_id from standardization_run_item
             where run_id = ${runId} ${after ? sql`and specimen_id > ${after}::uuid` : sql``}
             order by specimen_id limit ${pageSize}) i
      join specimen s on s.id = i.specimen_id
      cross join lateral (
        select * from qc_result q where q.specimen_id = i.specimen_id order by q.check_code
      ) q
     order by i.specimen_id, q.check_code`);
  return res.rows;
}
