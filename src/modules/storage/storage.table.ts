import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  jsonb,
  numeric,
  pgEnum,
  pgTable,
  text,
  uniqueIndex,
  uuid,
  varchar,
  type AnyPgColumn,
} from 'drizzle-orm/pg-core';
import { createdAt, idColumn, updatedAt, versionColumn } from '../../db/columns.js';
import { describeUnique } from '../../db/pg-errors.js';
import { institutions } from '../institutions/institutions.table.js';
import { FILL_ORDERS, GRID_SCHEMES, type GridScheme } from './grid.js';
import { containerBarcodeTaken, slotOccupied } from './storage.errors.js';

export const CONTAINER_KINDS = [
  'site',
  'freezer',
  'ln2_tank',
  'refrigerator',
  'rack',
  'shelf',
  'box',
  'plate',
] as const;
export type ContainerKind = (typeof CONTAINER_KINDS)[number];
export const containerKind = pgEnum('container_kind', CONTAINER_KINDS);
export const gridScheme = pgEnum('grid_scheme', GRID_SCHEMES);
export const fillOrder = pgEnum('fill_order', FILL_ORDERS);

/**
 * The storage tree: site > freezer / LN2 tank > rack / shelf > box / plate. Positional
 * containers have a grid. `ancestorIds` (root first) makes subtree queries one index lookup.
 */
export const containers = pgTable(
  'container',
  {
    id: idColumn(),
    institutionId: uuid('institution_id')
      .notNull()
      .references(() => institutions.id),
    parentId: uuid('parent_id').references((): AnyPgColumn => containers.id),
    ancestorIds: uuid('ancestor_ids')
      .array()
      .notNull()
      .default(sql`'{}'::uuid[]`),
    kind: containerKind('kind').notNull(),
    barcode: varchar('barcode', { length: 64 }).notNull(),
    name: varchar('name', { length: 120 }).notNull(),
    temperatureC: numeric('temperature_c', { precision: 5, scale: 1, mode: 'number' }),
    gridRows: integer('grid_rows'),
    gridCols: integer('grid_cols'),
    gridScheme: gridScheme('grid_scheme'),
    fillOrder: fillOrder('fill_order').notNull().default('row_major'),
    /** specimen types allowed here and below; null = no restriction of its own */
    allowedTypes: text('allowed_types').array(),
    /** slot in the parent's grid (a box in a rack) */
    slotRow: integer('slot_row'),
    slotCol: integer('slot_col'),
    /**
     * The container and its ancestors, root first, as the location path needs them. Derived:
     * a trigger keeps it in step with ancestor_ids and the ancestors' names (migration 0008), so
     * the scan lookup reads one row instead of walking the tree.
     */
    locationChain: jsonb('location_chain')
      .$type<LocationChainEntry[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    /** Goes up whenever `locationChain` changes: (id, version) names one chain for caches. */
    locationChainVersion: integer('location_chain_version').notNull().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    version: versionColumn(),
  },
  (t) => [
    uniqueIndex('container_barcode_unique').on(t.institutionId, t.barcode),
    // One box per rack slot.
    uniqueIndex('container_slot_unique').on(t.parentId, t.slotRow, t.slotCol),
    index('container_parent_idx').on(t.parentId),
    index('container_ancestors_idx').using('gin', t.ancestorIds),
    check(
      'container_grid_shape',
      sql`(${t.gridRows} is null and ${t.gridCols} is null and ${t.gridScheme} is null) or (${t.gridRows} between 1 and 100 and ${t.gridCols} between 1 and 100 and ${t.gridScheme} is not null)`,
    ),
    check('container_slot_pair', sql`(${t.slotRow} is null) = (${t.slotCol} is null)`),
  ],
);

describeUnique('container_barcode_unique', (v) => containerBarcodeTaken(v.barcode ?? ''));
describeUnique('container_slot_unique', () => slotOccupied(null));

export type ContainerRow = typeof containers.$inferSelect;

/** One container of a location chain (see `locationChain`): what a location path shows of it. */
export interface LocationChainEntry {
  id: string;
  kind: ContainerKind;
  name: string;
  barcode: string;
  gridRows: number | null;
  gridCols: number | null;
  gridScheme: GridScheme | null;
}
