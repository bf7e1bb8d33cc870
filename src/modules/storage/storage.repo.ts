// Container SQL: every statement on the container table. Storage's reads of specimen rows are
// read models (container-contents, position-occupancy).
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { KIND_LOCK_ORDER } from './container-kinds.js';
import { containerNotFound } from './storage.errors.js';
import { containers, type ContainerKind, type ContainerRow } from './storage.table.js';

/** The institution's container (a move locks with lockSubtree and lockContainersForShare). */
export async function findContainer(
  db: DbOrTx,
  institutionId: string,
  id: string,
): Promise<ContainerRow | undefined> {
  const [row] = await db
    .select()
    .from(containers)
    .where(and(eq(containers.id, id), eq(containers.institutionId, institutionId)));
  return row;
}

/** The institution's container, or CONTAINER_NOT_FOUND naming the field the id came in. */
export async function requireContainer(
  db: DbOrTx,
  institutionId: string,
  id: string,
  field = 'id',
): Promise<ContainerRow> {
  const c = await findContainer(db, institutionId, id);
  if (!c) throw containerNotFound(id, field);
  return c;
}

export async function findContainerByBarcode(db: DbOrTx, institutionId: string, barcode: string) {
  const [row] = await db
    .select()
    .from(containers)
    .where(and(eq(containers.barcode, barcode), eq(containers.institutionId, institutionId)));
  return row;
}

/** Containers by id with all their ancestors, in one query. */
/**
 * The containers and every container above them. With `keyShare`, locked FOR KEY SHARE, root first
 * (as every chain is locked), and read as they are once the locks are held: tubes stored in them
 * keep an edit of what they allow (FOR UPDATE) waiting until they are committed. Key share, not
 * share: a container move (FOR NO KEY UPDATE, then the tubes inside) never waits for a placement,
 * which holds its tube before it loads its place, so the two cannot deadlock.
 */
export async function loadContainersWithAncestors(
  db: DbOrTx,
  institutionId: string,
  ids: readonly string[],
  opts: { keyShare?: boolean } = {},
): Promise<Map<string, ContainerRow>> {
  if (ids.length === 0) return new Map();
  const idList = sql.join(
    ids.map((id) => sql`${id}::uuid`),
    sql`, `,
  );
  const q = db
    .select()
    .from(containers)
    .where(
      and(
        eq(containers.institutionId, institutionId),
        sql`${containers.id} in (select unnest(c.ancestor_ids || c.id) from container c where c.id in (${idList}))`,
      ),
    );
  const rows = opts.keyShare ? await q.orderBy(...lockOrder).for('key share') : await q;
  return new Map(rows.map((r) => [r.id, r]));
}

export async function loadContainers(db: DbOrTx, institutionId: string, ids: readonly string[]) {
  if (ids.length === 0) return new Map<string, ContainerRow>();
  const rows = await db
    .select()
    .from(containers)
    .where(and(eq(containers.institutionId, institutionId), inArray(containers.id, [...ids])));
  return new Map(rows.map((r) => [r.id, r]));
}

/** The container in a slot of a parent's grid (a box in a rack), if any. */
export async function findContainerInSlot(
  db: DbOrTx,
  parentId: string,
  slot: { row: number; col: number },
): Promise<ContainerRow | undefined> {
  const [holder] = await db
    .select()
    .from(containers)
    .where(
      and(
        eq(containers.parentId, parentId),
        eq(containers.slotRow, slot.row),
        eq(containers.slotCol, slot.col),
      ),
    );
  return holder;
}

/** Children of a container, or the top-level containers; of one kind if given (then at any depth when no parent). */
export async function listContainerRows(
  db: DbOrTx,
  institutionId: string,
  q: { parentId?: string; kind?: ContainerKind },
): Promise<ContainerRow[]> {
  return db
    .select()
    .from(containers)
    .where(
      and(
        eq(containers.institutionId, institutionId),
        q.parentId
          ? eq(containers.parentId, q.parentId)
          : q.kind
            ? undefined
            : sql`${containers.parentId} is null`,
        q.kind ? eq(containers.kind, q.kind) : undefined,
      ),
    )
    .orderBy(asc(containers.slotRow), asc(containers.slotCol), asc(containers.barcode))
    .limit(1000);
}

/** Children of any of the containers (the boxes in racks). */
export async function findChildContainers(
  db: DbOrTx,
  institutionId: string,
  parentIds: readonly string[],
): Promise<ContainerRow[]> {
  if (parentIds.length === 0) return [];
  return db
    .select()
    .from(containers)
    .where(
      and(
        eq(containers.institutionId, institutionId),
        sql`${containers.parentId} in (${sql.join(
          parentIds.map((i) => sql`${i}::uuid`),
          sql`, `,
        )})`,
      ),
    );
}

/** The storage lock order (container-kinds.ts KIND_LOCK_ORDER), then id. */
const lockOrder = [
  sql`array_position(${`{${KIND_LOCK_ORDER.join(',')}}`}::text[], ${containers.kind}::text)`,
  asc(containers.id),
];

/**
 * Locks the containers FOR SHARE in the storage lock order and returns them as they are now
 * (a locking read sees the latest committed row): none of them can move or be moved under until
 * the transaction ends, while tubes and other readers pass.
 */
export async function lockContainersForShare(
  tx: DbOrTx,
  institutionId: string,
  ids: readonly string[],
): Promise<ContainerRow[]> {
  if (ids.length === 0) return [];
  return tx
    .select()
    .from(containers)
    .where(and(eq(containers.institutionId, institutionId), inArray(containers.id, [...ids])))
    .orderBy(...lockOrder)
    .for('share');
}

/**
 * Locks one container and returns it as it is now: FOR NO KEY UPDATE for an edit of its own
 * columns, FOR UPDATE when tubes being stored in it must wait (see loadContainersWithAncestors).
 */
export async function lockContainer(
  tx: DbOrTx,
  institutionId: string,
  id: string,
  strength: 'no key update' | 'update' = 'no key update',
): Promise<ContainerRow | undefined> {
  const [row] = await tx
    .select()
    .from(containers)
    .where(and(eq(containers.institutionId, institutionId), eq(containers.id, id)))
    .for(strength);
  return row;
}

/**
 * Locks a container and everything below it for a move (FOR NO KEY UPDATE: tubes may still be put
 * in its boxes) and returns the rows as they are now, the container first. The container is
 * locked alone first: from then on nothing can be moved or created under it (that needs its
 * chain, so this row, FOR SHARE), so the descendants read next are all there are.
 */
export async function lockSubtree(
  tx: DbOrTx,
  institutionId: string,
  rootId: string,
  strength: 'no key update' | 'update' = 'no key update',
): Promise<ContainerRow[]> {
  const root = await lockContainer(tx, institutionId, rootId, strength);
  if (!root) return [];
  const below = await tx
    .select()
    .from(containers)
    .where(
      and(
        eq(containers.institutionId, institutionId),
        sql`${containers.ancestorIds} @> array[${rootId}::uuid]`,
      ),
    )
    .orderBy(...lockOrder)
    .for(strength);
  return [root, ...below];
}

/** A container and everything below it. */
export async function findSubtree(
  db: DbOrTx,
  institutionId: string,
  rootId: string,
): Promise<ContainerRow[]> {
  return db
    .select()
    .from(containers)
    .where(
      and(
        eq(containers.institutionId, institutionId),
        sql`(${containers.id} = ${rootId} or ${containers.ancestorIds} @> array[${rootId}::uuid])`,
      ),
    );
}

export type NewContainerRow = Omit<typeof containers.$inferInsert, 'id'>;

export async function insertContainer(tx: DbOrTx, values: NewContainerRow): Promise<ContainerRow> {
  const [row] = await tx
    .insert(containers)
    .values({ id: newId(), ...values })
    .returning();
  return row!;
}

/** Applies a patch if the container is still at the expected version; undefined when it is not. */
export async function updateContainerRow(
  tx: DbOrTx,
  id: string,
  expectedVersion: number,
  patch: { name?: string; temperatureC?: number | null; allowedTypes?: string[] | null },
): Promise<ContainerRow | undefined> {
  const [after] = await tx
    .update(containers)
    .set({ ...patch, version: sql`${containers.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(containers.id, id), eq(containers.version, expectedVersion)))
    .returning();
  return after;
}

/**
 * Moves a container under a new parent: its descendants' ancestor lists get the new prefix, then
 * the container itself its parent, ancestors and slot. Every row touched gets a new version.
 */
export async function reparentContainer(
  tx: DbOrTx,
  institutionId: string,
  container: ContainerRow,
  to: { parentId: string; ancestorIds: string[]; slot: { row: number; col: number } | null },
): Promise<ContainerRow> {
  const oldPrefix = container.ancestorIds.length;
  // One array parameter (a JS array interpolated into sql`` would become a row, not uuid[]).
  const newPrefix = `{${to.ancestorIds.join(',')}}`;
  await tx.execute(sql`
    update container set ancestor_ids = ${newPrefix}::uuid[] || ancestor_ids[${oldPrefix + 1}:], updated_at = now(), version = version + 1
    where institution_id = ${institutionId} and ancestor_ids @> array[${container.id}::uuid]`);
  const [after] = await tx
    .update(containers)
    .set({
      parentId: to.parentId,
      ancestorIds: to.ancestorIds,
      slotRow: to.slot?.row ?? null,
      slotCol: to.slot?.col ?? null,
      version: sql`${containers.version} + 1`,
      updatedAt: sql`now()`,
    })
    .where(eq(containers.id, container.id))
    .returning();
  return after!;
}
