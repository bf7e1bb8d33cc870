// The consent module's errors, one constructor per code (catalogue in src/errors.ts).
import { DomainError } from '../../errors.js';

export const consentNotFound = (id: string) =>
  new DomainError('CONSENT_NOT_FOUND', `consent ${id} was not found`);

export const cascadeNotFound = (id: string) =>
  new DomainError('CASCADE_NOT_FOUND', `consent cascade ${id} was not found`);

export const consentExists = () =>
  new DomainError('CONSENT_EXISTS', 'the participant already has a current consent for this protocol');

/** `today` is the UTC day the service judges dates on. */
export const signedDateInFuture = (signedOn: string, today: string) =>
  new DomainError('SIGNED_DATE_IN_FUTURE', `signedOn ${signedOn} is after today (${today})`, [
    { field: 'signedOn', message: 'in the future' },
  ]);

/** `extra` are the tiers answered that the protocol does not ask; `asked` the ones it does. */
export const tierNotInProtocol = (extra: string[], asked: string[]) =>
  new DomainError(
    'TIER_NOT_IN_PROTOCOL',
    `the protocol does not ask for ${extra.join(', ')}; it asks ${asked.join(', ') || 'no tiers'}`,
    extra.map((t) => ({ field: `responses.${t}`, message: 'not a tier of this protocol' })),
  );

/** A version signed before the current one would replace a newer decision of the donor's. */
export const consentSignedBeforeCurrent = (signedOn: string, current: { id: string; signedOn: string }) =>
  new DomainError(
    'CONSENT_SIGNED_BEFORE_CURRENT',
    `signedOn ${signedOn} is before the donor's current consent ${current.id} (signed on ${current.signedOn}); ` +
      'record versions in the order they were signed',
    [{ field: 'signedOn', message: `before ${current.signedOn}, the current consent's` }],
  );

export const consentSuperseded = (id: string) =>
  new DomainError(
    'CONSENT_SUPERSEDED',
    `consent ${id} was superseded by a newer version; withdraw the current one`,
  );

export const consentAlreadyWithdrawn = (id: string, withdrawnAt: Date | null) =>
  new DomainError(
    'CONSENT_ALREADY_WITHDRAWN',
    `consent ${id} was already withdrawn on ${withdrawnAt?.toISOString() ?? ''}`,
  );

export const unknownUse = (use: string, uses: readonly string[]) =>
  new DomainError('UNKNOWN_USE', `use ${use} is not one of ${uses.join(', ')}`, [
    { field: 'use', message: `one of ${uses.join(', ')}` },
  ]);

/** `reason` is the consent's answer in words; `tier` the tier that decided it, if one did. */
export const consentNotGranted = (barcode: string, use: string, reason: string, tier: string | null) =>
  new DomainError(
    'CONSENT_NOT_GRANTED',
    `specimen ${barcode} may not be used for ${use}: ${reason}`,
    [{ field: 'use', message: reason }],
    { tier, use },
  );

/** A destruction scan of a tube that is not waiting on the destruction list (an item of BATCH_REJECTED). */
export const notOnDestructionList = (barcode: string, field: string) =>
  new DomainError('NOT_ON_DESTRUCTION_LIST', `specimen ${barcode} is not on the destruction list`, [
    { field, message: 'not on the destruction list' },
  ]);
