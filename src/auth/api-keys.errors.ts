// API key errors, one constructor per code (catalogue in src/errors.ts).
import { DomainError } from '../errors.js';

export const apiKeyNotFound = (id: string) =>
  new DomainError('API_KEY_NOT_FOUND', `API key ${id} was not found`);

export const apiKeyRevoked = (id: string) =>
  new DomainError('API_KEY_REVOKED', `API key ${id} is already revoked`);

/** A system actor acting for every institution must say which one the key is for. */
export const institutionRequired = () =>
  new DomainError('INSTITUTION_REQUIRED', 'name the institution the key belongs to');
