// The sharing module's errors, one constructor per code (catalogue in src/errors.ts). Specimens
// are named by barcode to the provider; the requester never receives a provider's barcodes.
import { DomainError } from '../../errors.js';

/** `ref` is the id the caller sent, `field` where it was sent. */
export const agreementNotFound = (ref: string, field = 'id') =>
  new DomainError('AGREEMENT_NOT_FOUND', `sharing agreement ${ref} was not found`, [
    { field, message: 'unknown agreement' },
  ]);

export const agreementExists = (mtaReference: string) =>
  new DomainError(
    'AGREEMENT_EXISTS',
    `an agreement under MTA ${mtaReference} already exists between these institutions`,
    [{ field: 'mtaReference', message: 'taken' }],
  );

/** The agreement does not cover `day` (YYYY-MM-DD): not yet in force, or expired. */
export const agreementNotInForce = (id: string, day: string, validFrom: string, validUntil: string | null) =>
  new DomainError(
    'AGREEMENT_NOT_IN_FORCE',
    `sharing agreement ${id} is valid from ${validFrom} ${validUntil ? `until ${validUntil}` : 'on'}, not on ${day}`,
    [{ field: 'agreementId', message: day < validFrom ? 'not yet in force' : 'expired' }],
    { validFrom, validUntil },
  );

export const useNotInAgreement = (use: string, allowed: readonly string[]) =>
  new DomainError(
    'USE_NOT_IN_AGREEMENT',
    `use ${use} is outside the agreement, which allows ${allowed.join(', ')}`,
    [{ field: 'use', message: `one of ${allowed.join(', ')}` }],
    { allowedUses: allowed },
  );

/** A provider naming itself as the requester. */
export const agreementWithSelf = () =>
  new DomainError('AGREEMENT_WITH_SELF', 'an institution cannot share with itself', [
    { field: 'requesterInstitutionId', message: 'the provider itself' },
  ]);

export const sharingRequestNotFound = (ref: string, field = 'id') =>
  new DomainError('SHARING_REQUEST_NOT_FOUND', `sharing request ${ref} was not found`, [
    { field, message: 'unknown request' },
  ]);

/** `reason` comes from the request lifecycle table (`cannot approve a request that is rejected`). */
export const invalidRequestTransition = (id: string, state: string, action: string, reason: string) =>
  new DomainError('INVALID_REQUEST_TRANSITION', `sharing request ${id}: ${reason}`, [], {
    state,
    action,
  });

/**
 * Specimens another request holds (or that left stock) when an approval tried to reserve them.
 * `barcodes` empty: the database refused a moment after the check passed and names no barcode.
 */
export const specimensTaken = (barcodes: string[]) =>
  new DomainError(
    'SPECIMENS_TAKEN',
    barcodes.length
      ? `specimens ${barcodes.join(', ')} are no longer available: nothing was reserved`
      : 'a specimen of this request was reserved by another request a moment ago: nothing was reserved',
    barcodes.map((b) => ({ field: 'items', message: `${b} is taken` })),
    { specimens: barcodes },
  );

/** A specimen a proposal edit names that does not fit the request; `reason` says why. */
export const itemNotEligible = (barcode: string, reason: string, field: string) =>
  new DomainError('ITEM_NOT_ELIGIBLE', `specimen ${barcode} cannot be proposed: ${reason}`, [
    { field, message: reason },
  ]);

export const sharingItemNotFound = (ref: string, field = 'itemId') =>
  new DomainError('SHARING_ITEM_NOT_FOUND', `item ${ref} is not part of this request`, [
    { field, message: 'not an item of this request' },
  ]);

/** An approval whose proposal holds fewer or more items than the request asks. */
export const proposalIncomplete = (have: number, want: number) =>
  new DomainError(
    'PROPOSAL_INCOMPLETE',
    `the proposal holds ${have} specimens; the request asks for ${want}`,
    [{ field: 'items', message: `${have} of ${want}` }],
    { proposed: have, requested: want },
  );

export const shipmentExists = () => new DomainError('SHIPMENT_EXISTS', 'the request already has a shipment');

// Shipments and receipt. The provider names tubes by barcode; the receiver by sample code or by
// the label it scans on the tube it holds.

export const shipmentNotFound = (requestId: string) =>
  new DomainError('SHIPMENT_NOT_FOUND', `sharing request ${requestId} has no shipment`, [
    { field: 'id', message: 'no shipment yet' },
  ]);

/** A tube scanned out, or an item confirmed on receipt, that this shipment does not hold. */
export const notInShipment = (ref: string, field: string) =>
  new DomainError('NOT_IN_SHIPMENT', `${ref} is not part of this shipment`, [
    { field, message: 'not in this shipment' },
  ]);

/** An item of the request that is not (or no longer) reserved for it: `state` says what it is. */
export const itemNotReserved = (ref: string, state: string, field: string) =>
  new DomainError(
    'ITEM_NOT_RESERVED',
    `${ref} is ${state} in this request, not reserved: it cannot be shipped`,
    [{ field, message: state }],
    { itemState: state },
  );

export const itemAlreadyShipped = (ref: string, field: string) =>
  new DomainError('ITEM_ALREADY_SHIPPED', `${ref} was already scanned out into this shipment`, [
    { field, message: 'already scanned out' },
  ]);

/** The reservation's deadline passed: its tubes go back to stock (the expiry job), none leaves. */
export const reservationExpired = (deadline: Date) =>
  new DomainError(
    'RESERVATION_EXPIRED',
    `the reservation ran out at ${deadline.toISOString()}: its tubes go back to stock and the request ends cancelled`,
  );

export const shipmentEmpty = () =>
  new DomainError('SHIPMENT_EMPTY', 'no tube was scanned out into this shipment: nothing to dispatch', [
    { field: 'items', message: 'scan tubes out first' },
  ]);

/** Reserved items not scanned out; dispatching with `releaseUnscanned` sends the others and releases these. */
export const shipmentIncomplete = (sampleCodes: string[]) =>
  new DomainError(
    'SHIPMENT_INCOMPLETE',
    `items ${sampleCodes.join(', ')} are reserved but not scanned out: scan them, or dispatch with releaseUnscanned`,
    [{ field: 'releaseUnscanned', message: `${sampleCodes.length} items not scanned out` }],
    { unscanned: sampleCodes },
  );

/** `outcome` is what was recorded for the item already. */
export const itemAlreadyReceived = (sampleCode: string, outcome: string, field: string) =>
  new DomainError('ITEM_ALREADY_RECEIVED', `item ${sampleCode} was already confirmed as ${outcome}`, [
    { field, message: outcome },
  ]);

/** The tube's label is a barcode the receiving institution already uses: it must be relabelled. */
export const relabelRequired = (barcode: string, field: string) =>
  new DomainError(
    'RELABEL_REQUIRED',
    `barcode ${barcode} is already used at your institution: give the tube a new label in ${field}`,
    [{ field, message: 'give a new label' }],
    { barcode },
  );

/** A receipt dated before its shipment left: the custody chain would run backwards. */
export const receivedBeforeDispatch = (receivedAt: Date, dispatchedAt: Date) =>
  new DomainError(
    'RECEIVED_BEFORE_DISPATCH',
    `receivedAt ${receivedAt.toISOString()} is before the shipment was dispatched (${dispatchedAt.toISOString()})`,
    [{ field: 'receivedAt', message: `before ${dispatchedAt.toISOString()}` }],
  );
