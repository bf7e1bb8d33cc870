// Slots: where a container sits in its parent's grid (a box in a rack), for creating and moving
// containers. Positions of tubes in a box are placement's business (storage.placement.ts).
import type { DbOrTx } from '../../db/client.js';
import { parsePosition } from './grid.js';
import { positionOutsideGrid, slotNotAllowed, slotOccupied } from './storage.errors.js';
import { findContainerInSlot } from './storage.repo.js';
import { labelOf } from './storage.rules.js';
import type { ContainerRow } from './storage.table.js';

export type Slot = { row: number; col: number };

/** The slot a label names in the parent's grid; null without a label. Throws SLOT_NOT_ALLOWED, POSITION_OUTSIDE_GRID. */
export function slotOf(parent: ContainerRow, label: string | undefined, field = 'slot'): Slot | null {
  if (!label) return null;
  if (!parent.gridRows || !parent.gridCols || !parent.gridScheme) {
    throw slotNotAllowed(parent, field);
  }
  const pos = parsePosition(parent.gridScheme, parent.gridRows, parent.gridCols, label);
  if (!pos) {
    throw positionOutsideGrid('slot', label, parent, field);
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
    throw slotOccupied({ slot: labelOf(parent, slot.row, slot.col) ?? '', parent, holder });
  }
}
