// The storage module's errors, one constructor per code (catalogue in src/errors.ts). Containers
// are named as people read them (`box BX-0042`), positions and slots by the grid's own labels.
import { DomainError, type FieldProblem } from '../../errors.js';
import { ALLOWED_PARENTS, KIND_LABEL, containerName } from './container-kinds.js';
import type { ContainerKind, ContainerRow } from './storage.table.js';

type Named = Pick<ContainerRow, 'kind' | 'barcode'>;
type Grid = Named & Pick<ContainerRow, 'gridRows' | 'gridCols'>;
const kindName = (kind: ContainerKind) => KIND_LABEL[kind].toLowerCase();

export const containerNotFound = (id: string, field = 'containerId') =>
  new DomainError('CONTAINER_NOT_FOUND', `container ${id} was not found`, [
    { field, message: 'unknown container' },
  ]);

export const containerBarcodeTaken = (barcode: string) =>
  new DomainError('CONTAINER_BARCODE_TAKEN', `a container with barcode ${barcode} already exists`);

/** `parent` null: the kind cannot be a root. */
export const invalidParent = (kind: ContainerKind, parent: ContainerKind | null, field = 'parentId') =>
  new DomainError(
    'INVALID_PARENT',
    parent ? `a ${kindName(kind)} cannot go in a ${kindName(parent)}` : `a ${kindName(kind)} needs a parent`,
    [{ field, message: `allowed parents: ${ALLOWED_PARENTS[kind].map((k) => k ?? 'none').join(', ')}` }],
  );

export const containerCycle = (moved: Named, field = 'parentId') =>
  new DomainError('CONTAINER_CYCLE', `${containerName(moved)} cannot go inside itself`, [
    { field, message: 'inside the moved container' },
  ]);

export const gridRequired = (kind: ContainerKind) =>
  new DomainError('GRID_REQUIRED', `a ${kindName(kind)} needs a grid`, [
    { field: 'grid', message: 'required' },
  ]);

/** A map or a rack scan of a container without a grid (for a scan: of tube positions). */
export const noGrid = (container: Named, use: 'map' | 'scan', field = 'id') =>
  new DomainError('NO_GRID', `${containerName(container)} has no grid to ${use}`, [
    { field, message: 'no grid' },
  ]);

export const slotRequired = (parent: Named, field = 'slot') =>
  new DomainError('SLOT_REQUIRED', `${containerName(parent)} has slots: name one`, [
    { field, message: 'required' },
  ]);

export const slotNotAllowed = (parent: Named, field = 'slot') =>
  new DomainError('SLOT_NOT_ALLOWED', `${containerName(parent)} has no slots`, [
    { field, message: 'parent has no grid' },
  ]);

/**
 * `at` null: the database refused a second box for the slot a moment after the check passed, and
 * the slot is not known there.
 */
export const slotOccupied = (at: { slot: string; parent: Named; holder: Named } | null, field = 'slot') =>
  new DomainError(
    'SLOT_OCCUPIED',
    at
      ? `slot ${at.slot} of ${containerName(at.parent)} holds ${containerName(at.holder)}`
      : 'the slot was taken by another request a moment ago',
    [{ field, message: 'occupied' }],
  );

export const notASpecimenContainer = (container: Named, field = 'containerId') =>
  new DomainError(
    'NOT_A_SPECIMEN_CONTAINER',
    `${containerName(container)} does not hold specimens directly; use a box or plate`,
    [{ field, message: 'not a box or plate' }],
  );

export const positionRequired = (container: Named, field = 'position') =>
  new DomainError('POSITION_REQUIRED', `${containerName(container)} has a grid: name the position`, [
    { field, message: 'required' },
  ]);

export const positionNotAllowed = (container: Named, field = 'position') =>
  new DomainError('POSITION_NOT_ALLOWED', `${containerName(container)} has no grid: leave the position out`, [
    { field, message: 'container has no grid' },
  ]);

/** A tube position (`position`) or a box's place in a rack (`slot`) the grid does not have. */
export const positionOutsideGrid = (
  what: 'position' | 'slot',
  label: string,
  container: Grid,
  field: string,
) =>
  new DomainError(
    'POSITION_OUTSIDE_GRID',
    `${what} ${label} is not in the ${container.gridRows} x ${container.gridCols} grid of ${containerName(container)}`,
    [{ field, message: 'outside the grid' }],
  );

/**
 * `blocker` is the container whose restriction refuses the type (it may be an ancestor), with
 * the types it allows; `specimen` the tube's barcode when one already exists.
 */
export const typeNotAllowed = (
  type: string,
  blocker: Named & { allowedTypes: readonly string[] | null },
  field: string,
  specimen?: string,
) =>
  new DomainError(
    'TYPE_NOT_ALLOWED',
    `${specimen ? `${type} specimen ${specimen}` : type} is not allowed in ${containerName(blocker)} (allowed: ${(blocker.allowedTypes ?? []).join(', ')})`,
    [{ field, message: `${type} not allowed here` }],
  );

/** A scanner reading that cannot be used: the detail is its first problem, `errors` all of them. */
export const invalidReading = (problems: FieldProblem[]) =>
  new DomainError('INVALID_READING', problems[0]?.message ?? 'the reading is not valid', problems);

/** Each problem names the reading that asked for the move, and the position in its message. */
export const rackScanRejected = (
  box: Named,
  problems: { position: string; message: string; reading: number }[],
) =>
  new DomainError(
    'RACK_SCAN_REJECTED',
    `${problems.length === 1 ? '1 tube cannot' : `${problems.length} tubes cannot`} move into ${containerName(box)}; nothing was recorded`,
    problems.map((p) => ({ field: `readings.${p.reading}.barcode`, message: `${p.position}: ${p.message}` })),
  );
