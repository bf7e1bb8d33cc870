import { DatabaseError } from 'pg';
import { DomainError, conflict } from '../errors.js';

// Constraint violations become domain errors in product words (STYLE.md rule 10). Services check
// first; this is the database's last word when two requests race past the check.

type Describe = (values: Record<string, string>) => string;
const uniqueConstraints = new Map<string, { code: string; describe: Describe }>();
const checkConstraints = new Map<string, { code: string; describe: Describe }>();

/** Registers the product wording for a unique index or constraint. */
export function describeUnique(constraint: string, code: string, describe: Describe): void {
  uniqueConstraints.set(constraint, { code, describe });
}

/** Registers the product wording for a CHECK constraint. */
export function describeCheck(constraint: string, code: string, describe: Describe): void {
  checkConstraints.set(constraint, { code, describe });
}

/** Parses `Key (a, b)=(x, y) already exists.` into { a: x, b: y }. */
function keyValues(detail: string | undefined): Record<string, string> {
  const m = detail && /Key \((.+)\)=\((.*)\)/.exec(detail);
  if (!m?.[1] || m[2] === undefined) return {};
  const keys = m[1].split(',').map((k) => k.trim().replaceAll('"', ''));
  const values = m[2].split(',').map((v) => v.trim());
  return Object.fromEntries(keys.map((k, i) => [k, values[i] ?? '']));
}

export function findDatabaseError(err: unknown): DatabaseError | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e; depth++) {
    if (e instanceof DatabaseError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** No connection, or no answer, in time: the caller may retry shortly (503). */
export const databaseBusy = () =>
  new DomainError('unavailable', 'DATABASE_BUSY', 'the database is too busy to answer now; retry shortly');

/** node-postgres's own errors when a deadline passes (they carry no SQLSTATE). */
const DRIVER_TIMEOUTS = new Set(['timeout exceeded when trying to connect', 'Query read timeout']);

/** Maps a PostgreSQL error to a DomainError, or undefined when it is not the client's doing. */
export function translatePgError(err: unknown): DomainError | undefined {
  const pgErr = findDatabaseError(err);
  if (!pgErr) return err instanceof Error && DRIVER_TIMEOUTS.has(err.message) ? databaseBusy() : undefined;
  switch (pgErr.code) {
    case '23505': {
      const known = pgErr.constraint ? uniqueConstraints.get(pgErr.constraint) : undefined;
      if (known) return conflict(known.code, known.describe(keyValues(pgErr.detail)));
      return conflict('ALREADY_EXISTS', 'a record with the same identifying values already exists');
    }
    case '23514': {
      const known = pgErr.constraint ? checkConstraints.get(pgErr.constraint) : undefined;
      if (known) return conflict(known.code, known.describe({}));
      return new DomainError('unprocessable', 'CONSTRAINT_VIOLATED', 'the change breaks a data rule');
    }
    case '23503':
      return new DomainError('unprocessable', 'REFERENCE_NOT_FOUND', 'a referenced record does not exist');
    case '40001':
    case '40P01':
      return conflict('CONCURRENT_UPDATE', 'a concurrent change interfered; retry the request');
    case '55P03':
      return conflict('LOCKED', 'the record is being changed by another request; retry the request');
    case '57014':
      return new DomainError('unavailable', 'TIMEOUT', 'the database took too long to answer');
    default:
      return undefined;
  }
}
