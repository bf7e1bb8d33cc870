import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DomainError, ERROR_CATALOGUE, isErrorCode, toProblem, type ErrorCode } from './errors.js';

const SRC = fileURLToPath(new URL('.', import.meta.url));

describe('the error catalogue', () => {
  it('names every code in SCREAMING_SNAKE, answered with the status of its kind', () => {
    const statuses = Object.fromEntries(
      (Object.keys(ERROR_CATALOGUE) as ErrorCode[]).map((code) => [code, new DomainError(code, '').status]),
    );
    for (const [code, status] of Object.entries(statuses)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(600);
    }
    expect(statuses).toMatchObject({
      VALIDATION_FAILED: 400,
      UNAUTHENTICATED: 401,
      FORBIDDEN: 403,
      SPECIMEN_NOT_FOUND: 404,
      POSITION_OCCUPIED: 409,
      VERSION_CONFLICT: 412,
      BATCH_REJECTED: 422,
      IF_MATCH_REQUIRED: 428,
      DATABASE_BUSY: 503,
    });
  });

  it('tells catalogue codes from other strings', () => {
    expect(isErrorCode('BARCODE_TAKEN')).toBe(true);
    expect(isErrorCode('invalid_value')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });

  it('answers a participant or protocol unknown to a specimen registration with 422, the same code elsewhere with 404', () => {
    const reference = new DomainError('PARTICIPANT_NOT_FOUND', 'participant x was not found', [], {}, true);
    const lookup = new DomainError('PARTICIPANT_NOT_FOUND', 'participant x was not found');
    expect(toProblem(reference)).toMatchObject({ status: 422, code: 'PARTICIPANT_NOT_FOUND' });
    expect(toProblem(lookup)).toMatchObject({ status: 404, code: 'PARTICIPANT_NOT_FOUND' });
  });

  it('keeps code, details and kind when a batch item names its field', () => {
    const err = new DomainError('INVALID_TRANSITION', 'cannot store specimen S1: it is destroyed', [], {
      currentStatus: 'destroyed',
    }).atField('scans.2.action');
    expect(err).toMatchObject({
      code: 'INVALID_TRANSITION',
      status: 409,
      details: { currentStatus: 'destroyed' },
      errors: [{ field: 'scans.2.action', message: 'cannot store specimen S1: it is destroyed' }],
    });
  });

  it('is built only by the constructors in src/errors.ts and the modules’ *.errors.ts', () => {
    const builders = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .filter((f) => readFileSync(`${SRC}/${f}`, 'utf8').includes('new DomainError('))
      .filter((f) => f !== 'errors.ts' && !f.endsWith('.errors.ts'));
    expect(builders).toEqual([]);
  });
});
