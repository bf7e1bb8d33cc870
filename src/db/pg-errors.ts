import { DatabaseError } from 'pg';
import {
  alreadyExists,
  concurrentUpdate,
  constraintViolated,
  databaseBusy,
  databaseTimeout,
  recordLocked,
  referenceNotFound,
  type DomainError,
} from '../errors.js';

// Constraint violations become domain errors in product words (STYLE.md rule 10). Services check
// first; this is the database's last word when two requests race past the check.

/** Builds the module's error from the violating key's values (`{ barcode: 'X' }`). */
type Describe = (values: Record<string, string>) => DomainError;
const uniqueConstraints = new Map<string, Describe>();
const checkConstraints = new Map<string, () => DomainError>();

/** Registers the module's error (its constructor) for a unique index or constraint. */
export function describeUnique(constraint: string, describe: Describe): void {
  uniqueConstraints.set(constraint, describe);
}

/** Registers the module's error (its constructor) for a CHECK constraint. */
export function describeCheck(constraint: string, describe: () => DomainError): void {
  checkConstraints.set(constraint, describe);
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

/** node-postgres's own errors when a deadline passes (they carry no SQLSTATE). */
const DRIVER_TIMEOUTS = new Set(['timeout exceeded when trying to connect', 'Query read timeout']);

/** Maps a PostgreSQL error to a DomainError, or undefined when it is not the client's doing. */
export function translatePgError(err: unknown): DomainError | undefined {
  const pgErr = findDatabaseError(err);
  if (!pgErr) return err instanceof Error && DRIVER_TIMEOUTS.has(err.message) ? databaseBusy() : undefined;
  switch (pgErr.code) {
    case '23505': {
      const known = pgErr.constraint ? uniqueConstraints.get(pgErr.constraint) : undefined;
      return known ? known(keyValues(pgErr.detail)) : alreadyExists();
    }
    case '23514': {
      const known = pgErr.constraint ? checkConstraints.get(pgErr.constraint) : undefined;
      return known ? known() : constraintViolated();
    }
    case '23503':
      return referenceNotFound();
    case '40001':
    case '40P01':
      return concurrentUpdate();
    case '55P03':
      return recordLocked();
    case '57014':
      return databaseTimeout();
    default:
      return undefined;
  }
}
