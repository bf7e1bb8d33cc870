import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { badRequest, DomainError, notFound } from '../../errors.js';
import { parsePosition, positionLabel } from './grid.js';
import {
  containers,
  type ContainerKind,
  type ContainerRow,
  type LocationChainEntry,
} from './storage.table.js';

export const KIND_LABEL: Record<ContainerKind, string> = {
  site: 'Site',
  freezer: 'Freezer',
  ln2_tank: 'LN2 tank',
  refrigerator: 'Refrigerator',
  rack: 'Rack',
  shelf: 'Shelf',
  box: 'Box',
  plate: 'Plate',
};

/** Which kinds may hold which (DESIGN.md section 3); null = may be a root. */
export const ALLOWED_PARENTS: Record<ContainerKind, readonly (ContainerKind | null)[]> = {
  site: [null],
  freezer: [null, 'site'],
  ln2_tank: [null, 'site'],
  refrigerator: [null, 'site'],
  rack: ['freezer', 'ln2_tank', 'refrigerator'],
  shelf: ['freezer', 'ln2_tank', 'refrigerator'],
  box: ['rack', 'shelf', 'freezer', 'ln2_tank', 'refrigerator'],
  plate: ['rack', 'shelf', 'freezer', 'refrigerator'],
};

/** Kinds that hold specimens directly in their grid positions. */
export const SPECIMEN_HOLDERS: readonly ContainerKind[] = ['box', 'plate'];

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

/** Locks a container row (FOR UPDATE) before it moves. */
export async function lockContainer(
  tx: DbOrTx,
  institutionId: string,
  id: string,
): Promise<ContainerRow | undefined> {
  const [row] = await tx
    .select()
    .from(containers)
    .where(and(eq(containers.id, id), eq(containers.institutionId, institutionId)))
    .for('update');
  return row;
}

export async function findContainerByBarcode(db: DbOrTx, institutionId: string, barcode: string) {
  const [row] = await db
    .select()
    .from(containers)
    .where(and(eq(containers.barcode, barcode), eq(containers.institutionId, institutionId)));
  return row;
}

/** Containers by id with all their ancestors, in one query. */
export async function loadContainersWithAncestors(
  db: DbOrTx,
  institutionId: string,
  ids: readonly string[],
): Promise<Map<string, ContainerRow>> {
  if (ids.length === 0) return new Map();
  const idList = sql.join(
    ids.map((id) => sql`${id}::uuid`),
    sql`, `,
  );
  const rows = await db
    .select()
    .from(containers)
    .where(
      and(
        eq(containers.institutionId, institutionId),
        sql`${containers.id} in (select unnest(c.ancestor_ids || c.id) from container c where c.id in (${idList}))`,
      ),
    );
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

/** Ids of a container and everything below it. */
export async function findSubtreeIds(db: DbOrTx, rootId: string): Promise<string[]> {
  const rows = await db
    .select({ id: containers.id })
    .from(containers)
    .where(sql`${containers.id} = ${rootId} or ${containers.ancestorIds} @> array[${rootId}::uuid]`);
  return rows.map((r) => r.id);
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

const pathSegment = (c: Pick<ContainerRow, 'kind' | 'name'>) => `${KIND_LABEL[c.kind]} ${c.name}`;

/** "Freezer F-01 / Rack R3 / Box BX-0042" for a container, given it and its ancestors. */
export function containerPath(container: ContainerRow, byId: Map<string, ContainerRow>): string {
  return [...container.ancestorIds, container.id]
    .map((id) => byId.get(id))
    .filter((c): c is ContainerRow => c !== undefined)
    .map(pathSegment)
    .join(' / ');
}

/** The same path from a container's location chain (root first). */
export function chainPath(chain: readonly LocationChainEntry[]): string {
  return chain.map(pathSegment).join(' / ');
}

/** The specimen types allowed in a container: every restriction on the way from the root applies. */
export function typeAllowed(
  container: ContainerRow,
  byId: Map<string, ContainerRow>,
  type: string,
): ContainerRow | null {
  for (const id of [...container.ancestorIds, container.id]) {
    const c = byId.get(id);
    if (c?.allowedTypes && !c.allowedTypes.includes(type)) return c;
  }
  return null;
}

export interface ResolvedPosition {
  row: number;
  col: number;
  label: string;
}

/**
 * Validates a target position label against a specimen-holding container.
 * Throws POSITION_REQUIRED, POSITION_OUTSIDE_GRID, NOT_A_SPECIMEN_CONTAINER.
 */
export function resolvePosition(
  container: ContainerRow,
  label: string | null | undefined,
  field = 'position',
): ResolvedPosition | null {
  if (!SPECIMEN_HOLDERS.includes(container.kind)) {
    throw new DomainError(
      'unprocessable',
      'NOT_A_SPECIMEN_CONTAINER',
      `${KIND_LABEL[container.kind].toLowerCase()} ${container.barcode} does not hold specimens directly; use a box or plate`,
      [{ field: 'containerId', message: 'not a box or plate' }],
    );
  }
  const { gridRows, gridCols, gridScheme } = container;
  if (gridRows === null || gridCols === null || gridScheme === null) {
    if (label)
      throw badRequest('POSITION_NOT_ALLOWED', `container ${container.barcode} has no grid`, [
        { field, message: 'container has no grid' },
      ]);
    return null;
  }
  if (!label) {
    throw badRequest('POSITION_REQUIRED', `container ${container.barcode} has a grid: name the position`, [
      { field, message: 'required' },
    ]);
  }
  const pos = parsePosition(gridScheme, gridRows, gridCols, label);
  if (!pos) {
    throw badRequest(
      'POSITION_OUTSIDE_GRID',
      `position ${label} is not in the ${gridRows} x ${gridCols} grid of ${container.barcode}`,
      [{ field, message: `not a position of a ${gridRows} x ${gridCols} grid` }],
    );
  }
  return { ...pos, label: positionLabel(gridScheme, gridRows, gridCols, pos.row, pos.col) };
}

export function labelOf(
  container: ContainerRow | undefined,
  row: number | null,
  col: number | null,
): string | null {
  if (
    !container ||
    row === null ||
    col === null ||
    !container.gridScheme ||
    !container.gridRows ||
    !container.gridCols
  )
    return null;
  return positionLabel(container.gridScheme, container.gridRows, container.gridCols, row, col);
}

export function containerNotFound(id: string, field = 'containerId') {
  return new DomainError('not_found', 'CONTAINER_NOT_FOUND', `container ${id} was not found`, [
    { field, message: 'unknown container' },
  ]);
}

export { notFound };
