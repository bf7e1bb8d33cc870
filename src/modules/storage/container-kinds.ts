// Container kinds in people's words, and which kinds hold which. Pure data, shared by the storage
// rules and the storage errors.
import type { ContainerKind, ContainerRow } from './storage.table.js';

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

/** A container as messages name it: `box BX-0042`. */
export const containerName = (c: Pick<ContainerRow, 'kind' | 'barcode'>) =>
  `${KIND_LABEL[c.kind].toLowerCase()} ${c.barcode}`;

/**
 * The order transactions lock containers in: every kind comes after each kind that may hold it
 * (ALLOWED_PARENTS), so locking by (this order, id) takes a parent before its children, and two
 * writers of one tree never wait on each other in a circle. A kind never changes.
 */
export const KIND_LOCK_ORDER: readonly ContainerKind[] = [
  'site',
  'freezer',
  'ln2_tank',
  'refrigerator',
  'rack',
  'shelf',
  'box',
  'plate',
];
