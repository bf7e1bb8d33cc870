import type { Ctx } from '../context.js';
import type { Db, Tx } from './client.js';

/**
 * The one way services open a transaction: the effect, its audit rows, custody events, outbox
 * rows and the request's stored idempotent response all commit together (DESIGN.md section 1).
 */
export async function inTransaction<T>(db: Db, ctx: Ctx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    const result = await fn(tx);
    const hook = ctx.commitHook;
    if (hook) {
      // Only the first (outermost) transaction of a request carries the response.
      ctx.commitHook = undefined;
      await hook.beforeCommit(tx, result);
    }
    return result;
  });
}
