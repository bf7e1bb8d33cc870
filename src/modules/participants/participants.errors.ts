// The participants module's errors, one constructor per code (catalogue in src/errors.ts).
import { DomainError, type FieldProblem } from '../../errors.js';

/**
 * `field` names the input that carried the id; `as: 'reference'` is a specimen registration
 * naming the participant, answered 422 instead of 404 (see AS_REFERENCE in src/errors.ts).
 */
export function participantNotFound(id: string, field?: string, as: 'lookup' | 'reference' = 'lookup') {
  const errors: FieldProblem[] = field ? [{ field, message: 'unknown participant' }] : [];
  const message = `participant ${id} was not found`;
  return as === 'reference'
    ? new DomainError('PARTICIPANT_NOT_FOUND', message, errors, {}, true)
    : new DomainError('PARTICIPANT_NOT_FOUND', message, errors);
}

/** As participantNotFound, for a collection protocol. */
export function protocolNotFound(id: string, field?: string, as: 'lookup' | 'reference' = 'lookup') {
  const errors: FieldProblem[] = field ? [{ field, message: 'unknown protocol' }] : [];
  const message = `protocol ${id} was not found`;
  return as === 'reference'
    ? new DomainError('PROTOCOL_NOT_FOUND', message, errors, {}, true)
    : new DomainError('PROTOCOL_NOT_FOUND', message, errors);
}

export const protocolCodeTaken = (code: string, existing = code) =>
  new DomainError(
    'PROTOCOL_CODE_TAKEN',
    existing === code
      ? `a protocol with code ${code} already exists`
      : `protocol ${existing} already exists: ${code} differs from it only in case (use ${existing})`,
  );

/**
 * `protocolParticipantId` null: a hospital identifier matched (`identifier`, the MRN unless
 * named), and a hospital identifier is never quoted back.
 */
export const participantExists = (protocolParticipantId: string | null, identifier = 'MRN') =>
  new DomainError(
    'PARTICIPANT_EXISTS',
    `participant ${protocolParticipantId ?? `with this ${identifier}`} is already registered to this protocol`,
  );
