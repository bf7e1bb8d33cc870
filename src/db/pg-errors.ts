import { DatabaseError } from 'pg';
import {
  alreadyExists,
  concurrentUpdate,
  constraintViolated,
  databaseBusy,
  databaseTimeout,
  databaseUnavailable,
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

/** The error and the errors it wraps (drizzle wraps the driver's in `cause`). */
function* causes(err: unknown): Generator<unknown> {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e; depth++) {
    yield e;
    e = (e as { cause?: unknown }).cause;
  }
}

export function findDatabaseError(err: unknown): DatabaseError | undefined {
  for (const e of causes(err)) if (e instanceof DatabaseError) return e;
  return undefined;
}

/** node-postgres's own errors when a deadline passes (they carry no SQLSTATE). */
const DRIVER_TIMEOUTS = new Set(['timeout exceeded when trying to connect', 'Query read timeout']);

/**
 * node-postgres's own errors for a connection that broke or was never made (pg/lib/client.js,
 * pg-pool), and the socket errors under them.
 */
const DRIVER_DISCONNECTS = new Set([
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Connection terminated due to connection timeout',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
]);
const SOCKET_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of a server that is going away or not there yet: connection exceptions (class 08),
 * admin_shutdown (57P01: a restart, or pg_terminate_backend), crash_shutdown (57P02),
 * cannot_connect_now (57P03: starting up, shutting down, in recovery).
 */
const isServerGone = (code: string) => code.startsWith('08') || /^57P0[123]$/.test(code);

/** The connection to PostgreSQL was lost or could not be made: a request failure, never a crash. */
export function isConnectionLoss(err: unknown): boolean {
  for (const e of causes(err)) {
    if (e instanceof DatabaseError) return !!e.code && isServerGone(e.code);
    if (!(e instanceof Error)) return false;
    if (DRIVER_DISCONNECTS.has(e.message)) return true;
    const code = (e as NodeJS.ErrnoException).code;
    if (code && SOCKET_ERRORS.has(code)) return true;
  }
  return false;
}

/** Maps a PostgreSQL error to a DomainError, or undefined when it is not the client's doing. */
export function translatePgError(err: unknown): DomainError | undefined {
  if (isConnectionLoss(err)) return databaseUnavailable();
  const pgErr = findDatabaseError(err);
  if (!pgErr) {
    for (const e of causes(err))
      if (e instanceof Error && DRIVER_TIMEOUTS.has(e.message)) return databaseBusy();
    return undefined;
  }
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
    case '53300': // too_many_connections: the server's own limit, transient
      return databaseBusy();
    case '57014':
      return databaseTimeout();
    default:
      return undefined;
  }
}
