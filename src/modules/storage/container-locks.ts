// Locks that keep container location chains right under concurrent writers. A container's
// `ancestor_ids` is copied from its parent's when it is created or moved: the parent and every
// container above it are locked first, so none of them moves while the copy is made and
// committed (a move of any of them has to lock the same rows, and waits).
import type { Tx } from '../../db/client.js';
import { lockContainersForShare, requireContainer } from './storage.repo.js';
import type { ContainerRow } from './storage.table.js';

/**
 * Locks the container `id` and its ancestors FOR SHARE, root first, and returns the container as
 * it is once they are held. When it moved before the locks were granted, the ancestors it has
 * now are locked too (a move elsewhere that finished meanwhile). Throws CONTAINER_NOT_FOUND.
 */
export async function lockChain(
  tx: Tx,
  institutionId: string,
  id: string,
  field: string,
): Promise<ContainerRow> {
  let current = await requireContainer(tx, institutionId, id, field);
  const held = new Set<string>();
  for (;;) {
    const wanted = [...current.ancestorIds, current.id].filter((a) => !held.has(a));
    if (wanted.length === 0) return current;
    const rows = await lockContainersForShare(tx, institutionId, wanted);
    for (const r of rows) held.add(r.id);
    current = rows.find((r) => r.id === current.id) ?? (await requireContainer(tx, institutionId, id, field));
  }
}
