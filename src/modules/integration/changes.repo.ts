import { sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../../db/client.js';
import type { ChangeEntity, ChangeRow } from './changes.table.js';

/** One change as the feed hands it out. */
export type ChangeRecord = Omit<ChangeRow, 'institutionId' | 'entity'> & { entity: ChangeEntity };

/**
 * One sequencer pass (migration 0011, `change_log_sequence`): moves up to `batch` committed
 * changes from change_log_pending into the feed with their positions; returns how many it moved.
 * A statement of its own on the pool (never inside a caller's transaction), so its advisory lock
 * ends with it.
 */
export async function sequenceChanges(db: Db, batch: number): Promise<number> {
  const result = await db.execute<{ moved: number }>(sql`select change_log_sequence(${batch}::int) as moved`);
  return result.rows[0]?.moved ?? 0;
}

/**
 * The institution's changes after `position`, in feed order (migration 0011, `change_log_page`:
 * the same ordered index walk whatever the table's statistics say).
 */
export async function changesAfter(
  db: DbOrTx,
  institutionId: string,
  position: number,
  limit: number,
): Promise<ChangeRecord[]> {
  const result = await db.execute<{
    position: number;
    entity: ChangeEntity;
    entity_id: string;
    version: number | null;
    operation: ChangeRecord['operation'];
    changed_columns: string[];
    changed_ms: number;
    request_id: string | null;
  }>(
    // Drizzle hands timestamptz to raw statements as text: epoch milliseconds make one Date.
    sql`
    select position, entity, entity_id, version, operation, changed_columns, request_id,
           extract(epoch from changed_at)::float8 * 1000 as changed_ms
      from change_log_page(${institutionId}::uuid, ${position}::bigint, ${limit}::int)`,
  );
  return result.rows.map((r) => ({
    position: r.position,
    entity: r.entity,
    entityId: r.entity_id,
    version: r.version,
    operation: r.operation,
    changedColumns: r.changed_columns,
    changedAt: new Date(r.changed_ms),
    requestId: r.request_id,
  }));
}
