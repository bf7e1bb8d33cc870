import pg from 'pg';
import { NodePgSession, NodePgTransaction } from 'drizzle-orm/node-postgres';
import type { PgDialect } from 'drizzle-orm/pg-core';
import type { CommitHook, Ctx } from '../context.js';
import { pipelined, type PipelinedStatement } from './pipeline.js';
import type { Db, Tx } from './client.js';

/**
 * The one way services open a transaction: the effect, its audit rows, custody events, outbox
 * rows and the request's stored idempotent response all commit together (DESIGN.md section 1).
 *
 * The request id is set for the transaction first, so the change feed's triggers record which
 * request made each change (migrations/0011_change_feed_capture.sql).
 *
 * The request's commit hook (its Idempotency-Key claim and answer, src/http/idempotency.ts) goes
 * with the first transaction the request opens and commits; one that rolls back hands it on, so a
 * retried transaction claims the key and stores the answer again.
 *
 * Round trips: BEGIN goes with the statement that sets the request id (the hook's claim, when
 * there is one), and COMMIT with the hook's record, each pair in one round trip (src/db/pipeline.ts,
 * values as parameters). A keyed write thus costs its transaction no round trip more than an
 * unkeyed one.
 */
export async function inTransaction<T>(db: Db, ctx: Ctx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const hook = ctx.commitHook;
  // Taken now, so a transaction opened while this one runs does not carry it too.
  ctx.commitHook = undefined;
  try {
    return await transaction(db, ctx.requestId, hook, fn);
  } catch (err) {
    if (hook) ctx.commitHook = hook;
    throw err;
  }
}

/** SQLSTATE a commit hook's statement raises to refuse the commit (its transaction rolls back). */
export const COMMIT_REFUSED = 'BB409';

interface Driver {
  pool: pg.Pool;
  dialect: PgDialect;
  schema: unknown;
  options: unknown;
}

/** What drizzle's own `transaction` reads off the database handle, to open a session the same way. */
function driverOf(db: Db): Driver {
  const session = db._.session as unknown as Omit<Driver, 'pool'> & { client: unknown };
  if (!(session.client instanceof pg.Pool))
    throw new TypeError('inTransaction needs a database on a pg.Pool');
  return { pool: session.client, dialect: session.dialect, schema: session.schema, options: session.options };
}

const setRequestId = (requestId: string): PipelinedStatement => ({
  text: "select set_config('biobank.request_id', $1, true)",
  values: [requestId],
});

async function transaction<T>(
  db: Db,
  requestId: string,
  hook: CommitHook | undefined,
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  const { pool, dialect, schema, options } = driverOf(db);
  const client = await pool.connect();
  let broken: Error | undefined;
  let refusedBy: CommitHook | undefined;
  try {
    const session = new NodePgSession(client, dialect, schema as never, options as never);
    const tx = new NodePgTransaction(dialect, session, schema as never) as unknown as Tx;
    try {
      const first = hook ? hook.beginStatement(requestId) : setRequestId(requestId);
      const [, begun] = await pipelined(client, [{ text: 'begin' }, first]);
      if (hook) await hook.begun(tx, begun?.[0]);
      const result = await fn(tx);
      // A statement that raises skips the rest of its round trip: a refused record skips COMMIT.
      await pipelined(
        client,
        hook ? [hook.commitStatement(result), { text: 'commit' }] : [{ text: 'commit' }],
      );
      return result;
    } catch (err) {
      // After a failed COMMIT there is no transaction left, and this only warns. A connection that
      // cannot roll back is not given to the next request: the pool closes it.
      await client.query('rollback').catch((rollbackErr: Error) => (broken = rollbackErr));
      if (!hook || (err as { code?: unknown }).code !== COMMIT_REFUSED) throw err;
      refusedBy = hook;
    }
  } finally {
    client.release(broken);
  }
  // Read after the connection went back: the hook reads with a connection of its own.
  return refusedBy.refused();
}
