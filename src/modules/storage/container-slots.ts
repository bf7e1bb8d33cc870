// Slots: where a container sits in its parent's grid (a box in a rack), for creating and moving
// containers. Positions of tubes in a box are placement's business (storage.placement.ts).
import type { DbOrTx } from '../../db/client.js';
import { DomainError, badRequest } from '../../errors.js';
import { parsePosition } from './grid.js';
import { findContainerInSlot } from './storage.repo.js';
import { KIND_LABEL, labelOf } from './storage.rules.js';
import type { ContainerRow } from './storage.table.js';

export type Slot = { row: number; col: number };

/** The slot a label names in the parent's grid; null without a label. Throws SLOT_NOT_ALLOWED, POSITION_OUTSIDE_GRID. */
export function slotOf(parent: ContainerRow, label: string | undefined, field = 'slot'): Slot | null {
  if (!label) return null;
  if (!parent.gridRows || !parent.gridCols || !parent.gridScheme) {
    throw badRequest(
      'SLOT_NOT_ALLOWED',
      `${KIND_LABEL[parent.kind].toLowerCase()} ${parent.barcode} has no slots`,
      [{ field, message: 'parent has no grid' }],
    );
  }
  const pos = parsePosition(parent.gridScheme, parent.gridRows, parent.gridCols, label);
  if (!pos) {
    throw badRequest(
      'POSITION_OUTSIDE_GRID',
      `slot ${label} is not in the ${parent.gridRows} x ${parent.gridCols} grid of ${parent.barcode}`,
      [{ field, message: 'outside the grid' }],
    );
  }
  return pos;
}

/** Throws SLOT_OCCUPIED when another container (not `exceptId`, the one moving) holds the slot. */
export async function assertSlotFree(
  tx: DbOrTx,
  parent: ContainerRow,
  slot: Slot,
  exceptId?: string,
): Promise<void> {
  const holder = await findContainerInSlot(tx, parent.id, slot);
  if (holder && holder.id !== exceptId) {
    throw new DomainError(
      'conflict',
      'SLOT_OCCUPIED',
      `slot ${labelOf(parent, slot.row, slot.col) ?? ''} of ${KIND_LABEL[parent.kind].toLowerCase()} ${parent.barcode} holds ${KIND_LABEL[holder.kind].toLowerCase()} ${holder.barcode}`,
      [{ field: 'slot', message: 'occupied' }],
    );
  }
}
