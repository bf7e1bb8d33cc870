import { DatabaseError } from 'pg';
import { describe, expect, it } from 'vitest';
import { isConnectionLoss, translatePgError } from './pg-errors.js';

function pgError(code: string): DatabaseError {
  const err = new DatabaseError('server said no', 0, 'error');
  err.code = code;
  return err;
}

/** drizzle wraps the driver's error as `cause` */
const wrapped = (cause: unknown) => Object.assign(new Error('Failed query: select 1'), { cause });

describe('connection loss', () => {
  it.each([
    ['a terminated session (57P01)', pgError('57P01')],
    ['a server starting up (57P03)', pgError('57P03')],
    ['a connection failure (08006)', pgError('08006')],
    ['a dead socket, wrapped by drizzle', wrapped(new Error('Connection terminated unexpectedly'))],
    ['an unqueryable client', new Error('Client has encountered a connection error and is not queryable')],
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    ],
  ])('is %s, answered 503 DATABASE_UNAVAILABLE', (_what, err) => {
    expect(isConnectionLoss(err)).toBe(true);
    expect(translatePgError(err)).toMatchObject({
      code: 'DATABASE_UNAVAILABLE',
      status: 503,
      details: { retryAfter: 2 },
    });
  });

  it.each([
    ['a unique violation', pgError('23505')],
    ['a lock timeout', pgError('55P03')],
    ['a plain bug', new TypeError('x is undefined')],
  ])('is not %s', (_what, err) => {
    expect(isConnectionLoss(err)).toBe(false);
    expect(translatePgError(err)?.code).not.toBe('DATABASE_UNAVAILABLE');
  });

  it('answers the pool deadline, even wrapped, 503 DATABASE_BUSY with Retry-After', () => {
    expect(translatePgError(wrapped(new Error('timeout exceeded when trying to connect')))).toMatchObject({
      code: 'DATABASE_BUSY',
      details: { retryAfter: 1 },
    });
  });
});
