// Read model: which specimen holds which box position. Placement is storage's rule, but the
// positions are held by specimen rows, so these two statements read (and lock around) the
// specimen table by name; the specimens module remains its only writer (ARCHITECTURE.md).
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { A } from '../../db/array-literals.js';

/** A specimen holding a position. */
export type PositionOccupant = {
  id: string;
  barcode: string;
  containerId: string;
  positionRow: number;
  positionCol: number;
};

/**
 * Above this many positions in one call (a file import's chunk), a writer locks whole containers
 * instead: one lock per box rather than thousands, which PostgreSQL's lock table could not hold.
 */
export const WHOLE_CONTAINER_SLOTS = 256;

/**
 * Queues writers aiming at the same positions until their transactions end. The position unique
 * constraint is deferrable (a batch may swap tubes), and with a deferrable unique index two
 * concurrent writes of one position both enter the index, then wait for each other at the recheck:
 * a deadlock instead of POSITION_OCCUPIED. Taken in one global order (sorted keys, every container's
 * before any position's), these locks turn the race into a queue, and the occupancy check after them
 * sees the winner's committed row. A writer holds each container it places into in share mode and
 * its positions exclusively; a writer of more than WHOLE_CONTAINER_SLOTS positions holds the
 * containers exclusively, which covers their positions. Call inside a transaction, after any
 * specimen row locks.
 */
export async function lockPositions(
  tx: DbOrTx,
  slots: readonly { containerId: string; row: number; col: number }[],
): Promise<void> {
  if (slots.length === 0) return;
  const whole = slots.length > WHOLE_CONTAINER_SLOTS;
  const keys = new Map<string, boolean>(); // key -> shared
  for (const s of slots) {
    keys.set(`container:${s.containerId}`, !whole);
    if (!whole) keys.set(`position:${s.containerId}:${s.row}:${s.col}`, false);
  }
  const sorted = [...keys.keys()].sort();
  // Two array parameters; unnest yields them in array order, so the locks follow the sort.
  await tx.execute(sql`
    select case when u.shared then pg_advisory_xact_lock_shared(hashtextextended(u.k, 0))
                else pg_advisory_xact_lock(hashtextextended(u.k, 0)) end
      from unnest(${`{${sorted.join(',')}}`}::text[], ${A(sorted.map((k) => String(keys.get(k))))}::bool[])
        as u(k, shared)`);
}

/** Specimens occupying any of the given (container, row, col) slots. */
export async function findOccupants(
  db: DbOrTx,
  slots: readonly { containerId: string; row: number; col: number }[],
): Promise<PositionOccupant[]> {
  if (slots.length === 0) return [];
  // Three array parameters, however many slots (a list of tuples would be three parameters each).
  const res = await db.execute<PositionOccupant>(
    sql`select s.id, s.barcode, s.container_id as "containerId", s.position_row as "positionRow",
               s.position_col as "positionCol"
          from unnest(${A(slots.map((s) => s.containerId))}::uuid[], ${A(slots.map((s) => s.row))}::int[],
                      ${A(slots.map((s) => s.col))}::int[]) as u(container_id, position_row, position_col)
          join specimen s on s.container_id = u.container_id and s.position_row = u.position_row
                         and s.position_col = u.position_col`,
  );
  return res.rows;
}
