// API key errors, one constructor per code (catalogue in src/errors.ts).
import { DomainError } from '../errors.js';

export const apiKeyNotFound = (id: string) =>
  new DomainError('API_KEY_NOT_FOUND', `API key ${id} was not found`);

export const apiKeyRevoked = (id: string) =>
  new DomainError('API_KEY_REVOKED', `API key ${id} is already revoked`);

/** A system actor acting for every institution must say which one the key is for. */
export const institutionRequired = () =>
  new DomainError('INSTITUTION_REQUIRED', 'name the institution the key belongs to');

/**
 * An operator admin minting a key for another institution without saying why: that key reads the
 * institution's donors, so it is a break-glass action with a reason on record.
 */
export const breakGlassRequired = (institutionCode: string) =>
  new DomainError(
    'BREAK_GLASS_REQUIRED',
    `a key for institution ${institutionCode} is a break-glass action: send breakGlassReason`,
    [{ field: 'breakGlassReason', message: 'required for another institution' }],
  );
