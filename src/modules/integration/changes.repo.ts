import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../../db/client.js';
import { changeLog, type ChangeEntity, type ChangeOperation } from './changes.table.js';

/** One change as the feed hands it out: a change_log row that has its position. */
export interface ChangeRecord {
  position: number;
  entity: ChangeEntity;
  entityId: string;
  version: number | null;
  operation: ChangeOperation;
  changedColumns: string[];
  changedAt: Date;
  requestId: string | null;
}

/**
 * One sequencer pass (migration 0010, `change_log_sequence`): positions for up to `batch`
 * committed changes that have none; returns how many it gave. A statement of its own on the pool
 * (never inside a caller's transaction), so its advisory lock ends with it.
 */
export async function sequenceChanges(db: Db, batch: number): Promise<number> {
  const result = await db.execute<{ assigned: number }>(
    sql`select change_log_sequence(${batch}::int) as assigned`,
  );
  return result.rows[0]?.assigned ?? 0;
}

/** The institution's sequenced changes after `position`, in feed order. */
export async function changesAfter(
  db: DbOrTx,
  institutionId: string,
  position: number,
  limit: number,
): Promise<ChangeRecord[]> {
  const rows = await db
    .select({
      position: sql<number>`${changeLog.position}`.mapWith(Number),
      entity: changeLog.entity,
      entityId: changeLog.entityId,
      version: changeLog.version,
      operation: changeLog.operation,
      changedColumns: changeLog.changedColumns,
      changedAt: changeLog.changedAt,
      requestId: changeLog.requestId,
    })
    .from(changeLog)
    .where(and(eq(changeLog.institutionId, institutionId), gt(changeLog.position, position)))
    .orderBy(asc(changeLog.position))
    .limit(limit);
  return rows as ChangeRecord[];
}
