import { and, asc, eq, gt, gte, inArray, lte, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../db/client.js';
import { Q } from '../../db/array-literals.js';
import { specimenExternalIds, specimens, type SpecimenRow } from './specimens.table.js';

export type NewSpecimenRow = typeof specimens.$inferInsert;

/** Locks specimens in id order (one order for every writer, so batches never deadlock). */
export async function lockSpecimens(
  db: DbOrTx,
  institutionId: string,
  ids: readonly string[],
): Promise<SpecimenRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(specimens)
    .where(and(eq(specimens.institutionId, institutionId), inArray(specimens.id, [...ids])))
    .orderBy(asc(specimens.id))
    .for('update');
}

export async function lockSpecimensByBarcode(db: DbOrTx, institutionId: string, barcodes: readonly string[]) {
  if (barcodes.length === 0) return [];
  return db
    .select()
    .from(specimens)
    .where(and(eq(specimens.institutionId, institutionId), inArray(specimens.barcode, [...barcodes])))
    .orderBy(asc(specimens.id))
    .for('update');
}

export async function findSpecimen(
  db: DbOrTx,
  institutionId: string,
  id: string,
): Promise<SpecimenRow | undefined> {
  const [row] = await db
    .select()
    .from(specimens)
    .where(and(eq(specimens.institutionId, institutionId), eq(specimens.id, id)));
  return row;
}

export async function findSpecimensByIds(db: DbOrTx, institutionId: string, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(specimens)
    .where(and(eq(specimens.institutionId, institutionId), inArray(specimens.id, [...ids])));
}

export async function findSpecimensByBarcodes(
  db: DbOrTx,
  institutionId: string,
  barcodes: readonly string[],
) {
  if (barcodes.length === 0) return [];
  return db
    .select()
    .from(specimens)
    .where(
      and(
        eq(specimens.institutionId, institutionId),
        // One array parameter however many barcodes (an import checks thousands at once).
        sql`${specimens.barcode} = any(${Q([...barcodes])}::text[])`,
      ),
    );
}

export async function specimensInContainers(db: DbOrTx, containerIds: readonly string[]) {
  if (containerIds.length === 0) return [];
  return db
    .select()
    .from(specimens)
    .where(inArray(specimens.containerId, [...containerIds]));
}

export interface SpecimenFilter {
  institutionId: string;
  type?: string;
  status?: string;
  protocolId?: string;
  participantId?: string;
  subtreeContainerIds?: SQL;
  collectedFrom?: Date;
  collectedTo?: Date;
  qcStatus?: string;
  held?: boolean;
  afterId?: string;
  limit: number;
}

/**
 * The first and last id a subtree or a collection window can hold, as bounds on the key-order
 * walk: a page filtered by them walks from the first match and stops at the last, where it used
 * to walk every later id of the institution to learn that nothing more matched (0.2-0.6 s over
 * 1M specimens past a freezer's last tube). Each bound is read from an index: per container its
 * first and last tube on (container_id, id), a window's ids on (institution_id, collected_at, id).
 * No match gives null bounds and so an empty page at once.
 */
function idBounds(f: SpecimenFilter): SQL[] {
  const bounds: SQL[] = [];
  if (f.subtreeContainerIds) {
    const end = (dir: 'asc' | 'desc') =>
      sql`(select z.k from (${f.subtreeContainerIds}) c(id)
            cross join lateral (select x.id as k from specimen x where x.container_id = c.id
                                 order by x.id ${sql.raw(dir)} limit 1) z
            order by z.k ${sql.raw(dir)} limit 1)`;
    bounds.push(sql`${specimens.id} between ${end('asc')} and ${end('desc')}`);
  }
  if (f.collectedFrom && f.collectedTo) {
    // Open-ended windows are left to the planner: their bounds would read most of the index. The
    // aggregate over every match (uuid has no min/max: its text sorts alike) keeps the planner
    // on the window's index, where `order by id limit 1` would walk the ids again.
    const end = (agg: 'min' | 'max') =>
      sql`(select ${sql.raw(agg)}(x.id::text)::uuid from specimen x where x.institution_id = ${f.institutionId}
            and x.collected_at >= ${f.collectedFrom} and x.collected_at <= ${f.collectedTo})`;
    bounds.push(sql`${specimens.id} between ${end('min')} and ${end('max')}`);
  }
  return bounds;
}

export async function listSpecimenRows(db: DbOrTx, f: SpecimenFilter): Promise<SpecimenRow[]> {
  return db.select().from(specimens).where(specimenListWhere(f)).orderBy(asc(specimens.id)).limit(f.limit);
}

/** The list's conditions, for the specimen page read model too. */
export function specimenListWhere(f: SpecimenFilter): SQL | undefined {
  return and(
    eq(specimens.institutionId, f.institutionId),
    f.type ? eq(specimens.type, f.type as SpecimenRow['type']) : undefined,
    f.status ? eq(specimens.status, f.status as SpecimenRow['status']) : undefined,
    f.protocolId ? eq(specimens.protocolId, f.protocolId) : undefined,
    f.participantId ? eq(specimens.participantId, f.participantId) : undefined,
    // A correlated test per tube, not `in (...)`: the planner cannot turn it into a join, so it
    // walks the ids in order between the subtree's bounds and stops at a full page, where a
    // hash join sorted all the subtree's tubes first (a 32,000-tube freezer: 0.1-0.2 s).
    f.subtreeContainerIds
      ? sql`(select true from (${f.subtreeContainerIds}) t(id) where t.id = ${specimens.containerId})`
      : undefined,
    f.collectedFrom ? gte(specimens.collectedAt, f.collectedFrom) : undefined,
    f.collectedTo ? lte(specimens.collectedAt, f.collectedTo) : undefined,
    f.qcStatus ? eq(specimens.qcStatus, f.qcStatus as SpecimenRow['qcStatus']) : undefined,
    // Compared with the empty array, not by cardinality(): the column's statistics then tell the
    // planner how few tubes are held, and it reads them from specimen_held_list_idx.
    f.held === true ? sql`${specimens.holds} <> '{}'::text[]` : undefined,
    f.held === false ? sql`${specimens.holds} = '{}'::text[]` : undefined,
    f.afterId ? gt(specimens.id, f.afterId) : undefined,
    ...idBounds(f),
  );
}

/** Ancestors of a specimen, root first. */
export async function findAncestors(db: DbOrTx, institutionId: string, id: string): Promise<SpecimenRow[]> {
  const result = await db.execute<{ id: string; depth: number }>(sql`
    with recursive up(id, parent_id, depth) as (
      select id, parent_id, 0 from specimen where id = ${id} and institution_id = ${institutionId}
      union all
      select s.id, s.parent_id, up.depth + 1 from specimen s join up on s.id = up.parent_id
    )
    select id, depth from up where depth > 0 order by depth desc`);
  const ids = result.rows.map((r) => r.id);
  const rows = await findSpecimensByIds(db, institutionId, ids);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((i) => byId.get(i)).filter((r): r is SpecimenRow => r !== undefined);
}

/** Every descendant of a specimen (any generation), parents before children. */
export async function findDescendants(db: DbOrTx, institutionId: string, id: string): Promise<SpecimenRow[]> {
  const result = await db.execute<{ id: string }>(sql`
    with recursive down(id, depth) as (
      select id, 0 from specimen where parent_id = ${id} and institution_id = ${institutionId}
      union all
      select s.id, down.depth + 1 from specimen s join down on s.parent_id = down.id
    )
    select id from down order by depth, id`);
  const ids = result.rows.map((r) => r.id);
  const rows = await findSpecimensByIds(db, institutionId, ids);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((i) => byId.get(i)).filter((r): r is SpecimenRow => r !== undefined);
}

export { specimens };

/** Which specimens of the institution hold these external ids (system, value), with their barcodes. */
export async function findExternalIdHolders(
  handle: DbOrTx,
  institutionId: string,
  ids: readonly { system: string; value: string }[],
): Promise<{ system: string; value: string; specimenId: string; barcode: string }[]> {
  if (ids.length === 0) return [];
  return handle
    .select({
      system: specimenExternalIds.system,
      value: specimenExternalIds.value,
      specimenId: specimenExternalIds.specimenId,
      barcode: specimens.barcode,
    })
    .from(specimenExternalIds)
    .innerJoin(specimens, eq(specimens.id, specimenExternalIds.specimenId))
    .where(
      and(
        eq(specimenExternalIds.institutionId, institutionId),
        sql`(${specimenExternalIds.system}, ${specimenExternalIds.value}) in (
          select x.system, x.value from jsonb_to_recordset(${JSON.stringify(ids)}::jsonb) as x(system text, value text))`,
      ),
    );
}
