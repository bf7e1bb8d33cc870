import { sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';

// SQL the standards read models and repos share, and the transaction settings of the checks.

/** A timestamptz as epoch milliseconds (drizzle hands timestamptz over as text in raw queries). */
export const epochMs = (column: SQL) => sql`(extract(epoch from ${column}) * 1000)::float8`;

/**
 * JIT compilation off for the rest of the transaction. The planner's estimates for the lateral
 * lineage walk are high enough to switch it on, which cost more than the query itself on a
 * 2,000-specimen chunk (75 of 125 ms measured).
 */
export async function withoutJit(tx: Tx): Promise<void> {
  await tx.execute(sql`set local jit = off`);
}

/**
 * As withoutJit, and a prepared statement runs its generic plan from its first execution (one
 * round trip for both settings). For the per-specimen check's facts statement, whose plan is a
 * probe per id however many ids it gets: PostgreSQL would otherwise plan it for the ids of each of
 * its first five executions, and of every one where a few ids make a custom plan look cheaper;
 * planning it cost more than running it for a rack's 96 tubes (5 of 8 ms).
 */
export async function withoutJitForcingGenericPlans(tx: Tx): Promise<void> {
  await tx.execute(
    sql`select set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)`,
  );
}

/**
 * The transaction commits without waiting for the WAL flush. Only for a batch run's chunk, which
 * commits with its cursor: a commit lost in a crash is lost whole and the resumed run redoes it.
 */
export async function withoutCommitFlush(tx: Tx): Promise<void> {
  await tx.execute(sql`set local synchronous_commit = off`);
}
