// Container rules, pure: how a container is named in a path, which specimen types a container
// allows, and which positions its grid has. No I/O (storage.repo.ts holds the SQL); which kinds
// hold which is in container-kinds.ts.
import { KIND_LABEL } from './container-kinds.js';
import { parsePosition, positionLabel } from './grid.js';
import {
  notASpecimenContainer,
  positionNotAllowed,
  positionOutsideGrid,
  positionRequired,
} from './storage.errors.js';
import type { ContainerKind, ContainerRow, LocationChainEntry } from './storage.table.js';

/** Kinds that hold specimens directly in their grid positions. */
export const SPECIMEN_HOLDERS: readonly ContainerKind[] = ['box', 'plate'];

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
    throw notASpecimenContainer(container);
  }
  const { gridRows, gridCols, gridScheme } = container;
  if (gridRows === null || gridCols === null || gridScheme === null) {
    if (label) throw positionNotAllowed(container, field);
    return null;
  }
  if (!label) {
    throw positionRequired(container, field);
  }
  const pos = parsePosition(gridScheme, gridRows, gridCols, label);
  if (!pos) {
    throw positionOutsideGrid('position', label, container, field);
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
