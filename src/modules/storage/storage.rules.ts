// Container rules, pure: which kinds hold which, how a container is named in a path, which
// specimen types a container allows, and which positions its grid has. No I/O (storage.repo.ts
// holds the SQL).
import { badRequest, DomainError } from '../../errors.js';
import { parsePosition, positionLabel } from './grid.js';
import type { ContainerKind, ContainerRow, LocationChainEntry } from './storage.table.js';

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
