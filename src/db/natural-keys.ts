import { sql } from 'drizzle-orm';
import type { Tx } from './client.js';
import { findDatabaseError } from './pg-errors.js';

// Upserts by a natural key (an LIS id, a protocol code): find the record, then update or create
// it. Two requests for the same new key must not both create, and the loser must not fail.

/**
 * Serialises the transactions working on one natural key until they end: the second waits, then
 * finds what the first created. `parts` name the key (kind, institution, value...); a hash
 * collision between two keys only makes them wait for each other.
 */
export async function lockNaturalKey(tx: Tx, ...parts: string[]): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${parts.join('\n')}, 0))`);
}

/**
 * Runs `fn` once more when it lost a race at one of the named unique indexes to a writer that
 * does not take the key's lock (a plain registration): the second run finds the winner's row and
 * updates it, or refuses with the module's own error.
 */
export async function retryAfterUniqueRace<T>(
  constraints: readonly string[],
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const pg = findDatabaseError(err);
    if (pg?.code === '23505' && pg.constraint && constraints.includes(pg.constraint)) return fn();
    throw err;
  }
}
