// The specimens module's errors, one constructor per code (catalogue in src/errors.ts), in the
// product's words. Specimens are named by barcode where the row is known, else by what the caller
// sent.
import { DomainError } from '../../errors.js';
import { findDatabaseError, translatePgError } from '../../db/pg-errors.js';
import type { SpecimenAction } from './specimens.lifecycle.js';
import type { SpecimenRow } from './specimens.table.js';

/** `ref` is the id or barcode the caller sent, `field` where it was sent. */
export const specimenNotFound = (ref: string, field = 'id') =>
  new DomainError('SPECIMEN_NOT_FOUND', `specimen ${ref} was not found`, [
    { field, message: 'unknown specimen' },
  ]);

/**
 * `takenByItem`: an earlier item of the same request has the barcode. `field` undefined: the
 * database refused it a moment after the check passed, and the item is not known there.
 */
export const barcodeTaken = (barcode: string, field?: string, takenByItem?: number) =>
  new DomainError(
    'BARCODE_TAKEN',
    `barcode ${barcode} is already taken by ${takenByItem === undefined ? 'another specimen' : `item ${takenByItem} of this request`}`,
    field === undefined ? [] : [{ field, message: 'taken' }],
  );

/**
 * An external id (system, value) another specimen of the institution holds. `holderBarcode` null:
 * the database refused it a moment after the check passed. `takenByItem`: an earlier item of the
 * same request lists it.
 */
export const externalIdTaken = (
  system: string,
  value: string,
  holderBarcode: string | null,
  field?: string,
  takenByItem?: number,
) =>
  new DomainError(
    'EXTERNAL_ID_TAKEN',
    `external id ${system} ${value} is already held by ${
      takenByItem !== undefined
        ? `item ${takenByItem} of this request`
        : holderBarcode !== null
          ? `specimen ${holderBarcode}`
          : 'another specimen'
    }`,
    field === undefined ? [] : [{ field, message: 'taken' }],
    holderBarcode === null ? {} : { holderBarcode },
  );

/** `needs` is what asked for the container: `a position`, `store`. */
export const containerRequired = (needs: string, field: string) =>
  new DomainError('CONTAINER_REQUIRED', `${needs} needs a containerId`, [{ field, message: 'required' }]);

/**
 * A position says nothing without its container: refused (CONTAINER_REQUIRED at
 * `<prefix>containerId`), never dropped. Every call that places a tube asks this.
 */
export const positionWithoutContainer = (
  target: { containerId?: string | null; position?: string | null },
  prefix = '',
): DomainError | undefined =>
  target.position != null && !target.containerId
    ? containerRequired('a position', `${prefix}containerId`)
    : undefined;

export const protocolMismatch = (participantId: string, protocolId: string, field: string) =>
  new DomainError(
    'PROTOCOL_MISMATCH',
    `participant ${participantId} is not registered to protocol ${protocolId}`,
    [{ field, message: 'participant belongs to another protocol' }],
  );

export const duplicateScan = (barcode: string, first: number, again: number, field: string) =>
  new DomainError('DUPLICATE_SCAN', `barcode ${barcode} is scanned twice (items ${first} and ${again})`, [
    { field, message: 'scanned twice' },
  ]);

export const derivativeNotAllowed = (type: string, parentType: string, field = 'type') =>
  new DomainError('DERIVATIVE_NOT_ALLOWED', `${type} cannot be derived from ${parentType}`, [
    { field, message: `not derivable from ${parentType}` },
  ]);

export const invalidTransition = (row: SpecimenRow, action: SpecimenAction) =>
  new DomainError('INVALID_TRANSITION', `cannot ${action} specimen ${row.barcode}: it is ${row.status}`, [], {
    currentStatus: row.status,
    action,
  });

export const specimenOnHold = (row: SpecimenRow, action: SpecimenAction) =>
  new DomainError(
    'SPECIMEN_ON_HOLD',
    `specimen ${row.barcode} is on hold (${row.holds.join(', ')}): cannot ${action}`,
    [],
    { holds: row.holds },
  );

export const holdExists = (row: SpecimenRow, reason: string) =>
  new DomainError('HOLD_EXISTS', `specimen ${row.barcode} is already on ${reason} hold`);

export const holdManagedByConsent = (row: SpecimenRow, reason: string) =>
  new DomainError(
    'HOLD_MANAGED_BY_CONSENT',
    `specimen ${row.barcode}: a ${reason} hold follows the donor's consent (withdrawal, re-consent) and is not placed or released by hand`,
    [{ field: 'reason', message: 'follows the donor’s consent' }],
  );

export const holdNotFound = (row: SpecimenRow, reason: string) =>
  new DomainError('HOLD_NOT_FOUND', `specimen ${row.barcode} has no ${reason} hold`);

/**
 * `asked` null: the database's quantity check refused a draw a moment after the check passed,
 * and the tube is not known there.
 */
export const insufficientQuantity = (asked: { row: SpecimenRow; quantity: number } | null) =>
  asked
    ? new DomainError(
        'INSUFFICIENT_QUANTITY',
        `specimen ${asked.row.barcode} has ${asked.row.availableQuantity} ${asked.row.unit} available; ${asked.quantity} ${asked.row.unit} were requested`,
        [],
        { availableQuantity: asked.row.availableQuantity },
      )
    : new DomainError('INSUFFICIENT_QUANTITY', 'not enough quantity is available');

/**
 * Rewrites a race lost at the position or barcode unique index as the error specimens.table.ts
 * registers for it.
 */
export async function placementRace<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const pg = findDatabaseError(err);
    if (
      pg?.code === '23505' &&
      (pg.constraint === 'specimen_position_unique' || pg.constraint === 'specimen_barcode_unique')
    ) {
      throw translatePgError(err) ?? err;
    }
    throw err;
  }
}

/** A reception, processing or freezing time before the specimen was collected. */
export const timeBeforeCollection = (field: string, value: string, collectedAt: string) =>
  new DomainError('TIME_BEFORE_COLLECTION', `${field} ${value} is before the collection (${collectedAt})`, [
    { field, message: `before collectedAt ${collectedAt}` },
  ]);

/** A preanalytical time (`collectedAt`, ...) further ahead of the clock than a day. */
export const timeInFuture = (field: string, value: string, latest: Date) =>
  new DomainError('TIME_IN_FUTURE', `${field} ${value} is more than a day in the future`, [
    { field, message: `after ${latest.toISOString()}` },
  ]);
