// The institutions module's errors, one constructor per code (catalogue in src/errors.ts).
import { DomainError } from '../../errors.js';

/** `field`: where the caller named the institution, when it was in a body. */
export const institutionNotFound = (id: string, field?: string) =>
  new DomainError(
    'INSTITUTION_NOT_FOUND',
    `institution ${id} was not found`,
    field ? [{ field, message: 'unknown institution' }] : [],
  );

export const institutionCodeTaken = (code: string) =>
  new DomainError('INSTITUTION_CODE_TAKEN', `an institution with code ${code} already exists`);

export const operatorExists = () =>
  new DomainError('OPERATOR_EXISTS', 'the platform already has an operator institution');
