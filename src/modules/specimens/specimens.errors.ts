// Errors the specimen services share, in the product's words.
import { DomainError, conflict } from '../../errors.js';
import { findDatabaseError } from '../../db/pg-errors.js';

export function specimenNotFound(idOrBarcode: string, field = 'id') {
  return new DomainError('not_found', 'SPECIMEN_NOT_FOUND', `specimen ${idOrBarcode} was not found`, [
    { field, message: 'unknown specimen' },
  ]);
}

/** Rewrites a race lost at a unique constraint (position, barcode) as the product error. */
export async function placementRace<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const pg = findDatabaseError(err);
    if (pg?.code === '23505' && pg.constraint === 'specimen_position_unique') {
      throw new DomainError(
        'conflict',
        'POSITION_OCCUPIED',
        'the position was taken by another request a moment ago',
        [{ field: 'position', message: 'occupied' }],
      );
    }
    if (pg?.code === '23505' && pg.constraint === 'specimen_barcode_unique') {
      throw conflict(
        'BARCODE_TAKEN',
        'a specimen with that barcode was registered by another request a moment ago',
      );
    }
    throw err;
  }
}
