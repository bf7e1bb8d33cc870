import { createHash } from 'node:crypto';
import { and, eq, lt, sql } from 'drizzle-orm';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db, DbOrTx } from '../db/client.js';
import { idempotencyKeyInUse, idempotencyKeyReused, invalidIdempotencyKey } from '../errors.js';
import { etag } from './etag.js';
import { idempotencyKeys } from './idempotency.table.js';

/** Kept this long, then purged by the maintenance queue. */
export const IDEMPOTENCY_TTL_HOURS = 24;
/** A first request that has not finished after this long is taken to have died. */
const IN_FLIGHT_LOCK_SECONDS = 120;

export interface IdempotencyScope {
  apiKeyId: string;
  key: string;
  /** the response was stored or the key released: the onResponse backstop has nothing to do */
  settled: boolean;
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

function requestHash(request: FastifyRequest): string {
  const path = request.url.split('?')[0] ?? request.url;
  return createHash('sha256')
    .update(
      `${request.method} ${path}\n${request.url.slice(path.length)}\n${JSON.stringify(request.body ?? null)}`,
    )
    .digest('hex');
}

/**
 * Begins an idempotent POST: returns the scope to complete, or answers a replay (same body),
 * 422 (same key, other body) or 409 (same key still in flight) by throwing or sending.
 */
export async function beginIdempotentRequest(
  db: Db,
  request: FastifyRequest,
  reply: FastifyReply,
  apiKeyId: string,
): Promise<IdempotencyScope | 'replayed' | undefined> {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined || !KEY_PATTERN.test(key)) {
    throw invalidIdempotencyKey();
  }
  const hash = requestHash(request);
  const path = (request.url.split('?')[0] ?? request.url).slice(0, 2048);
  const claimed = await db
    .insert(idempotencyKeys)
    .values({
      apiKeyId,
      key,
      requestHash: hash,
      method: request.method,
      path,
      lockedUntil: sql`now() + make_interval(secs => ${IN_FLIGHT_LOCK_SECONDS})`,
      expiresAt: sql`now() + make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})`,
    })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key });
  if (claimed.length > 0) return { apiKeyId, key, settled: false };

  const where = and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key));
  // An expired record not yet purged, or a first request that died mid-flight, is taken over.
  const [takenOver] = await db
    .update(idempotencyKeys)
    .set({
      requestHash: hash,
      method: request.method,
      path,
      state: 'in_flight',
      responseStatus: null,
      responseBody: null,
      lockedUntil: sql`now() + make_interval(secs => ${IN_FLIGHT_LOCK_SECONDS})`,
      expiresAt: sql`now() + make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})`,
    })
    .where(
      and(
        where,
        sql`(${idempotencyKeys.expiresAt} < now() or (${idempotencyKeys.state} = 'in_flight' and ${idempotencyKeys.lockedUntil} < now() and ${idempotencyKeys.requestHash} = ${hash}))`,
      ),
    )
    .returning({ key: idempotencyKeys.key });
  if (takenOver) return { apiKeyId, key, settled: false };

  const [existing] = await db.select().from(idempotencyKeys).where(where);
  if (!existing) throw idempotencyKeyInUse(key);
  if (existing.requestHash !== hash) throw idempotencyKeyReused(key);
  if (existing.state === 'in_flight') throw idempotencyKeyInUse(key);
  // A replayed versioned resource carries its ETag, as the first answer did.
  const version = (existing.responseBody as { version?: unknown } | null)?.version;
  if (typeof version === 'number') reply.header('etag', etag(version));
  await reply
    .code(existing.responseStatus ?? 200)
    .header('idempotent-replayed', 'true')
    .send(existing.responseBody);
  return 'replayed';
}

/**
 * Stores the response. Called inside the effect's transaction, so both commit together; called
 * again on the pool only when the service's final answer differs from what was stored there.
 */
export async function completeIdempotentRequest(
  db: DbOrTx,
  scope: IdempotencyScope,
  status: number,
  body: unknown,
): Promise<void> {
  await db
    .update(idempotencyKeys)
    .set({ state: 'completed', responseStatus: status, responseBody: body ?? null })
    .where(and(eq(idempotencyKeys.apiKeyId, scope.apiKeyId), eq(idempotencyKeys.key, scope.key)));
  scope.settled = true;
}

/**
 * Marks the key's effect as committed, inside the effect's transaction, for an answer that is
 * shaped only after the transaction (a GraphQL response): the key stays in flight until that
 * answer is stored, and is never taken over, so a retry meanwhile gets IDEMPOTENCY_KEY_IN_USE and
 * never a second effect, even when the process dies before storing the answer.
 */
export async function holdIdempotentRequest(tx: DbOrTx, scope: IdempotencyScope): Promise<void> {
  await tx
    .update(idempotencyKeys)
    .set({ lockedUntil: sql`${idempotencyKeys.expiresAt}` })
    .where(
      and(
        eq(idempotencyKeys.apiKeyId, scope.apiKeyId),
        eq(idempotencyKeys.key, scope.key),
        eq(idempotencyKeys.state, 'in_flight'),
      ),
    );
}

/**
 * Releases the key of a request that failed, so a retry runs it again. Only an `in_flight` record
 * is deleted: when the failure came after the response was committed, the record stays, and when
 * the commit itself failed, the stored response rolled back with it and the key is released.
 */
export async function abandonIdempotentRequest(db: Db, scope: IdempotencyScope): Promise<void> {
  scope.settled = true;
  await db
    .delete(idempotencyKeys)
    .where(
      and(
        eq(idempotencyKeys.apiKeyId, scope.apiKeyId),
        eq(idempotencyKeys.key, scope.key),
        eq(idempotencyKeys.state, 'in_flight'),
      ),
    );
}

/** Deletes records past their 24 hours. Returns how many. */
export async function purgeExpiredIdempotencyKeys(db: Db): Promise<number> {
  const deleted = await db
    .delete(idempotencyKeys)
    .where(lt(idempotencyKeys.expiresAt, sql`now()`))
    .returning({ key: idempotencyKeys.key });
  return deleted.length;
}
