// Read model: the tubes inside containers. Reads the specimen table (and joins container for a
// subtree) by name, because what a box holds is a storage question answered by specimen rows:
// the container map, free positions, a rack scan's expected tubes, the tubes a moving box
// carries, and whether a new type restriction fits what is already stored. Storage only reads
// here; the specimen ledger remains the only writer of specimens (ARCHITECTURE.md).
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';

/** A tube recorded in a container, with what a map or a reconciliation shows of it. */
export type ContainedTube = {
  id: string;
  barcode: string;
  type: string;
  status: string;
  holds: string[];
  containerId: string;
  positionRow: number | null;
  positionCol: number | null;
};

/** Tubes recorded in any of the containers (their own positions, not their subtrees). */
export async function tubesInContainers(
  db: DbOrTx,
  containerIds: readonly string[],
): Promise<ContainedTube[]> {
  if (containerIds.length === 0) return [];
  const ids = sql.join(
    containerIds.map((id) => sql`${id}::uuid`),
    sql`, `,
  );
  const res = await db.execute<ContainedTube>(
    sql`select id, barcode, type, status, holds, container_id as "containerId",
               position_row as "positionRow", position_col as "positionCol"
          from specimen where container_id in (${ids})`,
  );
  return res.rows;
}

/** A tube stored in the container or below it whose type is not among the allowed ones, if any. */
export async function findTubeOfOtherType(
  db: DbOrTx,
  institutionId: string,
  containerId: string,
  allowedTypes: readonly string[],
): Promise<{ barcode: string; type: string } | undefined> {
  // One text[] parameter: a JS array interpolated into sql`` would become a row.
  const allowed = `{${allowedTypes.join(',')}}`;
  const res = await db.execute<{ barcode: string; type: string }>(sql`
    select s.barcode, s.type from specimen s join container c on c.id = s.container_id
    where c.institution_id = ${institutionId} and (c.id = ${containerId} or c.ancestor_ids @> array[${containerId}::uuid])
      and not (s.type::text = any(${allowed}::text[])) limit 1`);
  return res.rows[0];
}
