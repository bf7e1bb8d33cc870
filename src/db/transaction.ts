import { sql } from 'drizzle-orm';
import type { Ctx } from '../context.js';
import type { Db, Tx } from './client.js';

/**
 * The one way services open a transaction: the effect, its audit rows, custody events, outbox
 * rows and the request's stored idempotent response all commit together (DESIGN.md section 1).
 *
 * The request's commit hook (its Idempotency-Key claim and answer, src/http/idempotency.ts) goes
 * with the first transaction the request opens and commits; one that rolls back hands it on, so a
 * retried transaction claims the key and stores the answer again.
 *
 * The request id is set for the transaction first, so the change feed's triggers record which
 * request made each change (migrations/0011_change_feed_capture.sql).
 */
export async function inTransaction<T>(db: Db, ctx: Ctx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const hook = ctx.commitHook;
  // Taken now, so a transaction opened while this one runs does not carry it too.
  ctx.commitHook = undefined;
  try {
    return await db.transaction(async (tx) => {
      // A hook that claims an Idempotency-Key sets the request id in the same statement.
      if (!hook?.setsRequestId)
        await tx.execute(sql`select set_config('biobank.request_id', ${ctx.requestId}, true)`);
      if (hook) await hook.begin(tx, ctx.requestId);
      const result = await fn(tx);
      if (hook) await hook.beforeCommit(tx, result);
      return result;
    });
  } catch (err) {
    if (hook) ctx.commitHook = hook;
    throw err;
  }
}
