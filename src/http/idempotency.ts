import { createHash } from 'node:crypto';
import { and, eq, lt, sql } from 'drizzle-orm';
import type { CommitHook, Ctx } from '../context.js';
import type { Db, DbOrTx, Tx } from '../db/client.js';
import { findDatabaseError } from '../db/pg-errors.js';
import { DomainError, idempotencyKeyInUse, idempotencyKeyReused, invalidIdempotencyKey } from '../errors.js';
import { idempotencyKeys } from './idempotency.table.js';

// Idempotency-Key, one mechanism for every write (README "Idempotency and concurrency"):
//
// - The key is claimed by the first statement of the request's transaction (an INSERT of its
//   record, in the statement that sets the request id) and its answer written by the last one, so
//   the effect and the complete answer commit together or not at all: a crash at any point leaves
//   either both or neither. A keyed write costs one round trip more than an unkeyed one.
// - The lease is a transaction-level advisory lock on the key, taken (without waiting) in that
//   same statement, before the record is touched. A second attempt that finds it held waits for
//   it (bounded by `lock_timeout`), then replays what the first committed, or runs when the first
//   rolled back. An attempt whose process died loses its session, PostgreSQL rolls its
//   transaction back and the key is free at once (`client_connection_check_interval`,
//   src/db/client.ts, catches a session busy in a statement).
// - Nothing is read ahead of a REST request: a replay is found by the claim, or, when the service
//   refuses the retry before its transaction (the first attempt's effect changed what it checks),
//   by one read after the refusal.
// - A request that opens no transaction writes nothing: its answer is stored after it ran.

/** Kept this long, then purged by the maintenance queue. */
export const IDEMPOTENCY_TTL_HOURS = 24;

export interface IdempotencyScope {
  apiKeyId: string;
  key: string;
  /** SHA-256 over method, path, query and body */
  requestHash: string;
  method: string;
  path: string;
  /** how long a second attempt waits for the first one before 409 IDEMPOTENCY_KEY_IN_USE */
  waitMs: number;
}

/** The answer committed for a key. */
export interface StoredAnswer {
  status: number;
  body: unknown;
}

/**
 * Thrown inside the request's transaction when the key already holds a committed answer for the
 * same request: the transaction rolls back (nothing ran twice) and the adapter replays `answer`.
 */
export class IdempotentReplay extends Error {
  override name = 'IdempotentReplay';
  constructor(readonly answer: StoredAnswer) {
    super('the request was already answered under its Idempotency-Key');
  }
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** Validates an Idempotency-Key header value. Throws INVALID_IDEMPOTENCY_KEY. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined || !KEY_PATTERN.test(key)) throw invalidIdempotencyKey();
  return key;
}

/** What makes two requests the same request: method, path, query and body. */
export function requestHashOf(method: string, url: string, body: unknown): string {
  const path = url.split('?')[0] ?? url;
  return createHash('sha256')
    .update(`${method} ${path}\n${url.slice(path.length)}\n${JSON.stringify(body ?? null)}`)
    .digest('hex');
}

const recordOf = (scope: IdempotencyScope) =>
  and(eq(idempotencyKeys.apiKeyId, scope.apiKeyId), eq(idempotencyKeys.key, scope.key));

/** A live committed answer for the key (none when absent or expired). Throws IDEMPOTENCY_KEY_REUSED. */
async function committedAnswer(db: DbOrTx, scope: IdempotencyScope): Promise<StoredAnswer | undefined> {
  const [row] = await db
    .select({
      requestHash: idempotencyKeys.requestHash,
      status: idempotencyKeys.responseStatus,
      body: idempotencyKeys.responseBody,
      live: sql<boolean>`${idempotencyKeys.expiresAt} >= now()`,
    })
    .from(idempotencyKeys)
    .where(recordOf(scope));
  // A record without a status was left by the earlier, two-step version of this mechanism.
  if (!row || !row.live || row.status === null) return undefined;
  if (row.requestHash !== scope.requestHash) throw idempotencyKeyReused(scope.key);
  return { status: row.status, body: row.body };
}

/**
 * Before the request runs: the committed answer to replay, if there is one. Costs one indexed
 * read, and saves a replay from running the service at all (GraphQL asks it: its answer is
 * shaped after the commit). Throws IDEMPOTENCY_KEY_REUSED.
 */
export function findIdempotentAnswer(db: Db, scope: IdempotencyScope): Promise<StoredAnswer | undefined> {
  return committedAnswer(db, scope);
}

/** The transaction-level advisory lock every attempt under a key takes first: the lease. */
const leaseOf = (scope: IdempotencyScope) =>
  sql`hashtextextended('idempotency_key' || chr(10) || ${scope.apiKeyId} || chr(10) || ${scope.key}, 0)`;

/**
 * One statement: takes the key's lease if nobody holds it (never waiting), and then inserts the
 * key's record, or takes over an expired one; with `requestId`, it also sets the transaction's
 * request id (src/db/transaction.ts), so an uncontended claim costs no round trip of its own.
 */
async function tryClaim(
  tx: Tx,
  scope: IdempotencyScope,
  requestId: string | undefined,
): Promise<{ held: boolean; claimed: boolean }> {
  const setRequestId =
    requestId === undefined ? sql`` : sql`, set_config('biobank.request_id', ${requestId}, true)`;
  const { rows } = await tx.execute<{ held: boolean; claimed: boolean }>(sql`
    with attempt as materialized (select pg_try_advisory_xact_lock(${leaseOf(scope)}) as held ${setRequestId}),
    claim as (
      insert into idempotency_key (api_key_id, key, request_hash, method, path, expires_at)
      select ${scope.apiKeyId}::uuid, ${scope.key}::varchar, ${scope.requestHash}::varchar,
             ${scope.method}::varchar, ${scope.path}::varchar,
             now() + make_interval(hours => ${IDEMPOTENCY_TTL_HOURS}::int)
        from attempt where held
      on conflict (api_key_id, key) do update
        set request_hash = excluded.request_hash, method = excluded.method, path = excluded.path,
            response_status = null, response_body = null, created_at = now(),
            expires_at = excluded.expires_at
        -- An expired record not yet purged starts over.
        where idempotency_key.expires_at < now() or idempotency_key.response_status is null
      returning 1
    )
    select (select held from attempt) as held, exists (select 1 from claim) as claimed`);
  const row = rows[0];
  return { held: row?.held === true, claimed: row?.claimed === true };
}

/**
 * The first statement of the request's transaction: claims the key, waiting at most
 * `scope.waitMs` for an attempt that holds it. Throws IdempotentReplay when that attempt
 * committed, IDEMPOTENCY_KEY_REUSED for another request under the key, IDEMPOTENCY_KEY_IN_USE
 * (with Retry-After) when the wait ran out. With `requestId` it also sets the transaction's
 * request id in its first statement.
 *
 * The lease is a transaction-level advisory lock every attempt takes before it touches the
 * record: when nobody holds it (the usual case) the claim is one statement. When another attempt
 * holds it, this one waits for it under `lock_timeout`, then claims as before.
 */
export async function claimIdempotencyKey(
  tx: Tx,
  scope: IdempotencyScope,
  requestId?: string,
): Promise<void> {
  let attempt = await tryClaim(tx, scope, requestId);
  if (!attempt.held) {
    // lock_timeout bounds this wait only: it is put back before the request's own work.
    const [previous] = (
      await tx.execute<{ lock_timeout: string }>(
        sql`select current_setting('lock_timeout') as lock_timeout, set_config('lock_timeout', ${`${scope.waitMs}ms`}, true)`,
      )
    ).rows;
    try {
      await tx.execute(sql`select pg_advisory_xact_lock(${leaseOf(scope)})`);
    } catch (err) {
      if (findDatabaseError(err)?.code === '55P03') throw idempotencyKeyInUse(scope.key);
      throw err;
    }
    await tx.execute(sql`select set_config('lock_timeout', ${previous?.lock_timeout ?? '0'}, true)`);
    attempt = await tryClaim(tx, scope, undefined);
  }
  if (attempt.claimed) return;
  // The conflict was with a committed, live, answered record, which a new statement sees (READ
  // COMMITTED); only a purge between the two statements could take it away.
  const answer = await committedAnswer(tx, scope);
  if (!answer) throw idempotencyKeyInUse(scope.key);
  throw new IdempotentReplay(answer);
}

/** The last statement of the request's transaction: the complete answer, with the effect. */
export async function storeIdempotentAnswer(
  tx: DbOrTx,
  scope: IdempotencyScope,
  answer: StoredAnswer,
  /** the body as JSON, when the caller has it already (serialized once) */
  json: string = JSON.stringify(answer.body ?? null),
): Promise<void> {
  await tx.execute(
    sql`update idempotency_key set response_status = ${answer.status}::int, response_body = ${json}::jsonb
         where api_key_id = ${scope.apiKeyId}::uuid and key = ${scope.key}::varchar`,
  );
}

/**
 * The answer of a request that wrote nothing (it opened no transaction): stored on its own,
 * unless another attempt stored one first. Returns whether this one was stored.
 */
export async function storeAnswerWithoutEffect(
  db: Db,
  scope: IdempotencyScope,
  answer: StoredAnswer,
): Promise<boolean> {
  const stored = await db
    .insert(idempotencyKeys)
    .values({
      apiKeyId: scope.apiKeyId,
      key: scope.key,
      requestHash: scope.requestHash,
      method: scope.method,
      path: scope.path,
      responseStatus: answer.status,
      responseBody: answer.body ?? null,
      expiresAt: sql`now() + make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})`,
    })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key });
  return stored.length > 0;
}

/** Refusals of the key itself: asking for a committed answer again would change nothing. */
const KEY_REFUSALS = new Set(['IDEMPOTENCY_KEY_IN_USE', 'IDEMPOTENCY_KEY_REUSED']);

/**
 * Runs one request under its key. `answerOf` shapes the answer from what the request's
 * transaction returned; the first attempt answers `sent` (what the caller gets), and what is
 * stored and replayed is `forReplay(sent)` (a created key's token is never stored).
 * Returns the answer and whether it is a replay.
 */
export async function runIdempotent<R, B>(
  db: Db,
  ctx: Ctx,
  scope: IdempotencyScope,
  opts: {
    status: number;
    toBody: (result: R) => B;
    forReplay?: (body: B) => unknown;
  },
  run: (ctx: Ctx) => Promise<R>,
): Promise<{ status: number; body: unknown; replayed: boolean }> {
  const stored = (body: B): unknown => (opts.forReplay ? opts.forReplay(body) : body);
  let committedJson: string | undefined;
  const hook: CommitHook = {
    // The claim is the transaction's first statement and sets its request id too: a keyed write
    // costs one round trip more than an unkeyed one (the answer's UPDATE), not several.
    setsRequestId: true,
    begin: (tx, requestId) => claimIdempotencyKey(tx, scope, requestId),
    async beforeCommit(tx, result) {
      // The transaction's result is the service's answer (a write service returns what its
      // transaction returned); one that cannot be shaped fails here, before anything commits.
      const body = stored(opts.toBody(result as R));
      committedJson = JSON.stringify(body ?? null);
      await storeIdempotentAnswer(tx, scope, { status: opts.status, body }, committedJson);
    },
  };
  ctx.commitHook = hook;
  let body: B;
  try {
    body = opts.toBody(await run(ctx));
  } catch (err) {
    if (err instanceof IdempotentReplay) return { ...err.answer, replayed: true };
    // No read ahead of the request: a replay is found by the claim. A retry the service refused
    // before its transaction claimed the key (the first attempt's effect changed what it checks:
    // the barcode is taken now) answers what the first attempt committed, if it did.
    if (err instanceof DomainError && !KEY_REFUSALS.has(err.code) && ctx.commitHook === hook) {
      const answer = await committedAnswer(db, scope);
      if (answer) return { ...answer, replayed: true };
    }
    throw err;
  }
  const answer = { status: opts.status, body: stored(body) };
  if (ctx.commitHook === hook) {
    // No transaction committed: the request wrote nothing, so there is no effect to pair with.
    ctx.commitHook = undefined;
    if (!(await storeAnswerWithoutEffect(db, scope, answer))) {
      // Another attempt answered first (or the key holds another request): its answer stands.
      const first = await committedAnswer(db, scope);
      if (first) return { ...first, replayed: true };
    }
  } else if (committedJson !== JSON.stringify(answer.body ?? null)) {
    // A service that answers something other than its transaction's result breaks replays.
    ctx.log.error(
      { idempotencyKey: scope.key },
      'the answer sent differs from the one stored with the effect; a replay will answer the stored one',
    );
  }
  return { status: opts.status, body, replayed: false };
}

/** Deletes records past their 24 hours. Returns how many. */
export async function purgeExpiredIdempotencyKeys(db: Db): Promise<number> {
  const deleted = await db
    .delete(idempotencyKeys)
    .where(lt(idempotencyKeys.expiresAt, sql`now()`))
    .returning({ key: idempotencyKeys.key });
  return deleted.length;
}
