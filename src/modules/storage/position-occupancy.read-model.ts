// Read model: which specimen holds which box position. Placement is storage's rule, but the
// positions are held by specimen rows, so these two statements read (and lock around) the
// specimen table by name; the specimens module remains its only writer (ARCHITECTURE.md).
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';

/** A specimen holding a position. */
export type PositionOccupant = {
  id: string;
  barcode: string;
  containerId: string;
  positionRow: number;
  positionCol: number;
};

/**
 * Queues writers aiming at the same positions until their transactions end. The position unique
 * constraint is deferrable (a batch may swap tubes), and with a deferrable unique index two
 * concurrent writes of one position both enter the index, then wait for each other at the recheck:
 * a deadlock instead of POSITION_OCCUPIED. Taken in one global order (sorted keys), these locks
 * turn the race into a queue, and the occupancy check after them sees the winner's committed row.
 * Call inside a transaction, after any specimen row locks.
 */
export async function lockPositions(
  tx: DbOrTx,
  slots: readonly { containerId: string; row: number; col: number }[],
): Promise<void> {
  const keys = [...new Set(slots.map((s) => `position:${s.containerId}:${s.row}:${s.col}`))].sort();
  if (keys.length === 0) return;
  // One text[] parameter; unnest yields the keys in array order, so the locks follow the sort.
  await tx.execute(
    sql`select pg_advisory_xact_lock(hashtextextended(k, 0)) from unnest(${`{${keys.join(',')}}`}::text[]) as u(k)`,
  );
}

/** Specimens occupying any of the given (container, row, col) slots. */
export async function findOccupants(
  db: DbOrTx,
  slots: readonly { containerId: string; row: number; col: number }[],
): Promise<PositionOccupant[]> {
  if (slots.length === 0) return [];
  const tuples = sql.join(
    slots.map((s) => sql`(${s.containerId}::uuid, ${s.row}::int, ${s.col}::int)`),
    sql`, `,
  );
  const res = await db.execute<PositionOccupant>(
    sql`select id, barcode, container_id as "containerId", position_row as "positionRow", position_col as "positionCol"
          from specimen where (container_id, position_row, position_col) in (${tuples})`,
  );
  return res.rows;
}
