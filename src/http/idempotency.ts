import { createHash } from 'node:crypto';
import { and, eq, lt, sql } from 'drizzle-orm';
import type { CommitHook, Ctx } from '../context.js';
import type { Db, DbOrTx, Tx } from '../db/client.js';
import { findDatabaseError } from '../db/pg-errors.js';
import { preparedStatementName } from '../db/prepared.js';
import { DomainError, idempotencyKeyInUse, idempotencyKeyReused, invalidIdempotencyKey } from '../errors.js';
import { idempotencyKeys } from './idempotency.table.js';

// Idempotency-Key, one mechanism for every write (README "Idempotency and concurrency"):
//
// - The key is claimed by the statement sent with the request transaction's BEGIN, the one that
//   sets the request id: it takes the key's lease and reads the key's record, writing nothing. A
//   committed answer there is replayed (the transaction rolls back, nothing runs twice).
// - The record is written once, complete, by the statement sent with that transaction's COMMIT
//   (`idempotency_record`, migration 0026), so the effect and its answer commit together or not
//   at all, and a keyed write costs no round trip more than an unkeyed one (src/db/transaction.ts,
//   src/db/pipeline.ts: values stay parameters).
// - The lease is a transaction-level advisory lock on the key, taken without waiting in the claim.
//   A second attempt that finds it held waits for it (bounded by `lock_timeout`), then replays
//   what the first committed, or runs when the first rolled back. An attempt whose process died
//   loses its session, PostgreSQL rolls its transaction back and the key is free at once
//   (`client_connection_check_interval`, src/db/client.ts, catches a session busy in a statement).
// - The primary key on (API key, key) has the last word: an attempt whose claim read no record but
//   whose record meets one at COMMIT (the first committed between the claim's snapshot and its
//   lease) rolls its effect back and replays that record's answer.
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

/** A record as read: its request, its answer, and whether it is still within its 24 hours. */
type RecordRead = {
  requestHash: string | null;
  status: number | null;
  body: unknown;
  live: boolean | null;
};

/** The answer a record holds for the scope: none when absent or expired. Throws IDEMPOTENCY_KEY_REUSED. */
function liveAnswerOf(scope: IdempotencyScope, row: RecordRead | undefined): StoredAnswer | undefined {
  // A record without a status was left by the earlier, two-step version of this mechanism.
  if (!row || row.requestHash === null || !row.live || row.status === null) return undefined;
  if (row.requestHash !== scope.requestHash) throw idempotencyKeyReused(scope.key);
  return { status: row.status, body: row.body };
}

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
  return liveAnswerOf(scope, row);
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

/** The key's record, read in the statement `before` leads (one row even when there is none). */
const readRecord = (scope: IdempotencyScope, before: ReturnType<typeof sql>) => sql`
  with attempt as materialized (${before})
  select attempt.*, k.request_hash as "requestHash", k.response_status as status,
         k.response_body as body, k.expires_at >= now() as live
    from attempt
    left join idempotency_key k on k.api_key_id = ${scope.apiKeyId}::uuid and k.key = ${scope.key}::varchar`;

/** The claim: the key's lease, taken without waiting, the request id, and the key's record. */
const CLAIM = `
  with attempt as materialized (
    select pg_try_advisory_xact_lock(hashtextextended('idempotency_key' || chr(10) || $1 || chr(10) || $2, 0)) as held,
           set_config('biobank.request_id', $3, true))
  select attempt.held, k.request_hash, k.response_status, k.response_body, k.expires_at >= now() as live
    from attempt
    left join idempotency_key k on k.api_key_id = $4::uuid and k.key = $5::varchar`;

const RECORD = `select idempotency_record($1::uuid, $2::varchar, $3::varchar, $4::varchar, $5::varchar,
                                        $6::int, $7::json, $8::int)`;

const RECORD_NAME = preparedStatementName('biobank', RECORD);

/** The claim's row, read as text. */
function claimedRecord(row: readonly (string | null)[] | undefined): RecordRead & { held: boolean } {
  const [held, requestHash, status, body, live] = row ?? [];
  return {
    held: held === 't',
    requestHash: requestHash ?? null,
    status: status == null ? null : Number(status),
    body: body == null ? null : (JSON.parse(body) as unknown),
    live: live == null ? null : live === 't',
  };
}

/**
 * The Idempotency-Key's part in the request's transaction (src/db/transaction.ts).
 *
 * With BEGIN, the claim: the key's lease, taken without waiting, the request id, and the key's
 * record (one index probe): a committed answer there is replayed at once, and the service does
 * not run. When another attempt holds the lease, the claim waits at most `scope.waitMs` for it and
 * reads the record again: throws IdempotentReplay when that attempt committed an answer,
 * IDEMPOTENCY_KEY_REUSED for another request under the key, IDEMPOTENCY_KEY_IN_USE (with
 * Retry-After) when the wait ran out.
 *
 * With COMMIT, the record, complete with its answer (`idempotency_record`, migration 0026). When
 * the key holds a committed answer (another attempt committed since the claim read it), the
 * record is refused, the COMMIT skipped and the effect rolled back; the answer is then read and
 * thrown as IdempotentReplay (or IDEMPOTENCY_KEY_REUSED).
 */
export function idempotencyCommitHook(
  db: Db,
  scope: IdempotencyScope,
  /** the answer to record for what the transaction returned, and its JSON */
  answerOf: (result: unknown) => { answer: StoredAnswer; json: string },
): CommitHook {
  return {
    beginStatement: (requestId) => ({
      // Not prepared: a generic plan made while the table was small scans it once it has grown.
      text: CLAIM,
      values: [scope.apiKeyId, scope.key, requestId, scope.apiKeyId, scope.key],
    }),
    async begun(tx, row) {
      const claimed = claimedRecord(row);
      if (!claimed.held) return waitForLease(tx, scope);
      const answer = liveAnswerOf(scope, claimed);
      if (answer) throw new IdempotentReplay(answer);
    },
    commitStatement(result) {
      const { answer, json } = answerOf(result);
      return {
        // Prepared: its plan is the function call, whose own INSERT plan PL/pgSQL keeps.
        text: RECORD,
        name: RECORD_NAME,
        values: [
          scope.apiKeyId,
          scope.key,
          scope.requestHash,
          scope.method,
          scope.path,
          String(answer.status),
          json,
          String(IDEMPOTENCY_TTL_HOURS),
        ],
      };
    },
    async refused() {
      // A new transaction sees the record that refused this one: it committed.
      const first = await committedAnswer(db, scope);
      if (!first) throw idempotencyKeyInUse(scope.key);
      throw new IdempotentReplay(first);
    },
  };
}

/** The claim's slow path: another attempt holds the lease. Waits for it, then reads its record. */
async function waitForLease(tx: Tx, scope: IdempotencyScope): Promise<void> {
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
  // A new statement: it sees what the attempt that held the lease committed (READ COMMITTED).
  const [record] = (
    await tx.execute<RecordRead>(
      readRecord(scope, sql`select set_config('lock_timeout', ${previous?.lock_timeout ?? '0'}, true)`),
    )
  ).rows;
  const answer = liveAnswerOf(scope, record);
  if (answer) throw new IdempotentReplay(answer);
}

/** Replaces the answer an attempt's transaction recorded under the key (GraphQL, after its commit). */
export async function replaceIdempotentAnswer(
  db: DbOrTx,
  scope: IdempotencyScope,
  answer: StoredAnswer,
): Promise<void> {
  await db.execute(
    sql`update idempotency_key set response_status = ${answer.status}::int,
                                   response_body = ${JSON.stringify(answer.body ?? null)}::json
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
  let committed: { result: unknown; body: B; json: string } | undefined;
  // The transaction's result is the service's answer (a write service returns what its
  // transaction returned); one that cannot be shaped fails here, before anything commits.
  const hook = idempotencyCommitHook(db, scope, (result) => {
    const body = opts.toBody(result as R);
    const storedBody = stored(body);
    committed = { result, body, json: JSON.stringify(storedBody ?? null) };
    return { answer: { status: opts.status, body: storedBody }, json: committed.json };
  });
  ctx.commitHook = hook;
  let body: B;
  let shapedAgain = true;
  try {
    const result = await run(ctx);
    // The usual write returns its transaction's result itself: its body is shaped already.
    shapedAgain = committed?.result !== result;
    body = shapedAgain ? opts.toBody(result) : committed!.body;
  } catch (err) {
    if (err instanceof IdempotentReplay) return { ...err.answer, replayed: true };
    // No read ahead of the request. A retry the service refused, before or inside its transaction
    // (the first attempt's effect changed what it checks: the barcode is taken now, the unique
    // index says so), answers what the first attempt committed, if it did.
    const refusedKey = err instanceof DomainError && KEY_REFUSALS.has(err.code);
    if (!refusedKey && ctx.commitHook === hook) {
      // A look-up that fails (the pool is exhausted, the database gone) answers its own 503: the
      // refusal may be of a retry whose first attempt committed, and must not read as final.
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
  } else if (shapedAgain && committed?.json !== JSON.stringify(answer.body ?? null)) {
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
