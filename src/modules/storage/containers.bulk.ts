// Bulk container writes for loaders that build a whole storage tree at once (the synthetic
// inventory): one `insert ... select from unnest(...)` per batch instead of a statement per box.
// The caller decides the tree (ids, parents, slots); nothing here checks parent kinds or slot
// clashes, which the schema's foreign keys and unique slot index still enforce.
import { sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../db/client.js';
import type { GridScheme } from './grid.js';
import type { ContainerKind } from './storage.table.js';
import { A, Q, pgArray } from '../../db/array-literals.js';

/** A container to insert, with its place in the tree decided by the caller. */
export interface BulkContainer {
  id: string;
  parentId: string | null;
  /** root first, parent last (the tree path the location queries read) */
  ancestorIds: string[];
  kind: ContainerKind;
  barcode: string;
  name: string;
  temperatureC: number | null;
  /** filled row by row */
  grid: { rows: number; cols: number; scheme: GridScheme } | null;
  allowedTypes: string[] | null;
  /** position in the parent's grid */
  slot: { row: number; col: number } | null;
  createdAt: Date;
}

/** Inserts containers of one institution in one statement (parents before or beside their children). */
export async function insertContainers(
  tx: Tx,
  institutionId: string,
  rows: readonly BulkContainer[],
): Promise<void> {
  if (rows.length === 0) return;
  const v = {
    id: A(rows.map((x) => x.id)),
    parentId: A(rows.map((x) => x.parentId)),
    ancestorIds: Q(rows.map((x) => pgArray(x.ancestorIds))),
    kind: A(rows.map((x) => x.kind)),
    barcode: Q(rows.map((x) => x.barcode)),
    name: Q(rows.map((x) => x.name)),
    temperatureC: A(rows.map((x) => x.temperatureC)),
    gridRows: A(rows.map((x) => x.grid?.rows ?? null)),
    gridCols: A(rows.map((x) => x.grid?.cols ?? null)),
    gridScheme: A(rows.map((x) => x.grid?.scheme ?? null)),
    allowedTypes: Q(rows.map((x) => (x.allowedTypes ? pgArray(x.allowedTypes) : null))),
    slotRow: A(rows.map((x) => x.slot?.row ?? null)),
    slotCol: A(rows.map((x) => x.slot?.col ?? null)),
    createdAt: A(rows.map((x) => x.createdAt.toISOString())),
  };
  await tx.execute(sql`
    insert into container (id, institution_id, parent_id, ancestor_ids, kind, barcode, name, temperature_c,
      grid_rows, grid_cols, grid_scheme, fill_order, allowed_types, slot_row, slot_col, created_at,
      updated_at)
    select u.id, ${institutionId}, u.parent_id, u.ancestor_ids::uuid[], u.kind, u.barcode, u.name,
           u.temperature_c, u.grid_rows, u.grid_cols, u.grid_scheme, 'row_major', u.allowed_types::text[],
           u.slot_row, u.slot_col, u.created_at, u.created_at
      from unnest(${v.id}::uuid[], ${v.parentId}::uuid[], ${v.ancestorIds}::text[],
                  ${v.kind}::container_kind[], ${v.barcode}::text[], ${v.name}::text[],
                  ${v.temperatureC}::numeric[], ${v.gridRows}::int[], ${v.gridCols}::int[],
                  ${v.gridScheme}::grid_scheme[], ${v.allowedTypes}::text[], ${v.slotRow}::int[],
                  ${v.slotCol}::int[], ${v.createdAt}::timestamptz[])
        as u(id, parent_id, ancestor_ids, kind, barcode, name, temperature_c, grid_rows, grid_cols,
             grid_scheme, allowed_types, slot_row, slot_col, created_at)`);
}

/** How many containers the institution has (every kind). */
export async function countContainers(db: DbOrTx, institutionId: string): Promise<number> {
  const r = await db.execute<{ n: number }>(
    sql`select count(*)::int as n from container where institution_id = ${institutionId}`,
  );
  return r.rows[0]!.n;
}
