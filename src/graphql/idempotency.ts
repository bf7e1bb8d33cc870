import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OperationTypeNode, parse } from 'graphql';
import { TOKEN_PATTERN } from '../auth/api-keys.service.js';
import type { CommitHook, Ctx } from '../context.js';
import type { Db } from '../db/client.js';
import { idempotencyKeyInUse } from '../errors.js';
import {
  findIdempotentAnswer,
  idempotencyCommitHook,
  idempotencyKeyOf,
  IdempotentReplay,
  replaceIdempotentAnswer,
  storeAnswerWithoutEffect,
  type IdempotencyScope,
  type StoredAnswer,
} from '../http/idempotency.js';
import { asDomainError } from '../http/problem.js';
import { chosenOperation } from './guards.js';
import { ctxOf, idempotencyScopeOf } from '../http/request-context.js';

// Idempotency-Key on GraphQL mutations, as on REST POSTs (src/http/idempotency.ts, the same table
// and the same answers): the same key with the same document and variables replays the first
// answer without running it again, with `Idempotent-Replayed: true`; the same key with another
// request is IDEMPOTENCY_KEY_REUSED, and one still running IDEMPOTENCY_KEY_IN_USE. Queries change
// nothing and ignore the header.
//
// The key is claimed by the first statement of the mutation's transaction, as for REST. A GraphQL
// answer is shaped only after that transaction commits, so the transaction records a marker with
// the effect and the answer replaces it just before it is sent. A retry in between waits for the
// answer (up to the same IDEMPOTENCY_WAIT_MS a retry waits for a running attempt) and replays it;
// after a crash in between it gets IN_USE: never a second effect.

const IDEMPOTENCY_CODES = new Set(['IDEMPOTENCY_KEY_IN_USE', 'IDEMPOTENCY_KEY_REUSED']);

/** What the effect's transaction stores until the GraphQL answer replaces it. */
const ANSWER_PENDING: StoredAnswer = { status: 202, body: { graphqlAnswerPending: true } };
const PENDING_JSON = JSON.stringify(ANSWER_PENDING.body);
const isPending = (answer: StoredAnswer) =>
  (answer.body as { graphqlAnswerPending?: unknown } | null)?.graphqlAnswerPending === true;

/**
 * The answer that replaces a committed marker: it comes moments after the commit (or never, when
 * the process died in between), so it is read again, more and more slowly, until `scope.waitMs`.
 */
async function shapedAnswer(db: Db, scope: IdempotencyScope): Promise<StoredAnswer | undefined> {
  const deadline = Date.now() + scope.waitMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 250)) {
    const answer = await findIdempotentAnswer(db, scope);
    if (answer && !isPending(answer)) return answer;
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    await delay(Math.min(pause, left));
  }
}

/**
 * What is stored of an answer for replay: a new API key's token exists only in the first answer
 * (only its hash is kept), so every string shaped as a token is stored as null, under whatever
 * name (an alias) it was asked for, as REST's replay of `POST /v1/api-keys` answers it.
 */
function withoutTokens(value: unknown): unknown {
  if (typeof value === 'string') return TOKEN_PATTERN.test(value) ? null : value;
  if (Array.isArray(value)) return value.map(withoutTokens);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutTokens(v)]));
}

interface GraphqlBody {
  query?: unknown;
  operationName?: unknown;
}

/** Is the operation the body asks to run a mutation? A document that does not parse is not. */
function isMutation(body: unknown): boolean {
  const { query, operationName } = (body ?? {}) as GraphqlBody;
  if (typeof query !== 'string') return false;
  try {
    return (
      chosenOperation(parse(query, { noLocation: true }), operationName)?.operation ===
      OperationTypeNode.MUTATION
    );
  } catch {
    return false;
  }
}

/** The answer a refused request gets before it runs, shaped as GraphQL errors (as a refused key). */
function refuse(reply: FastifyReply, err: unknown) {
  const domain = asDomainError(err);
  if (!domain) throw err;
  if (domain.code === 'IDEMPOTENCY_KEY_IN_USE') reply.header('retry-after', '1');
  return reply.code(domain.status).send({
    data: null,
    errors: [{ message: domain.message, extensions: { code: domain.code, status: domain.status } }],
  });
}

interface Attempt {
  ctx: Ctx;
  hook: CommitHook;
  /** the answer another attempt committed under the key while this one waited for it */
  replay?: StoredAnswer;
}

/** Keeps the answer another attempt committed under the key, met while claiming or recording it. */
async function replayed(attempt: Attempt, step: Promise<void>): Promise<void> {
  try {
    await step;
  } catch (err) {
    if (err instanceof IdempotentReplay) attempt.replay = err.answer;
    throw err;
  }
}

export function graphqlIdempotency(db: Db, waitMs: number) {
  const attempts = new WeakMap<FastifyRequest, Attempt>();

  return {
    /** preHandler: gives a keyed mutation its scope, or answers its replay or refusal. */
    claim: async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.method !== 'POST' || !request.actor || request.headers['idempotency-key'] === undefined)
        return;
      if (!isMutation(request.body)) return;
      try {
        const key = idempotencyKeyOf(request.headers['idempotency-key']);
        if (key === undefined) return;
        const scope = idempotencyScopeOf(request, request.actor, key, waitMs);
        let answer = await findIdempotentAnswer(db, scope);
        if (answer && isPending(answer)) {
          answer = await shapedAnswer(db, scope);
          if (!answer) throw idempotencyKeyInUse(key);
        }
        if (answer) return reply.code(answer.status).header('idempotent-replayed', 'true').send(answer.body);
        request.idempotency = scope;
      } catch (err) {
        return refuse(reply, err);
      }
    },

    /** The resolvers' ctx: with a key, the first transaction claims it and commits the marker. */
    ctxOf: (request: FastifyRequest): Ctx => {
      const ctx = ctxOf(request);
      const scope = request.idempotency;
      if (!scope) return ctx;
      const hook = idempotencyCommitHook(db, scope, () => ({ answer: ANSWER_PENDING, json: PENDING_JSON }));
      const attempt: Attempt = {
        ctx,
        hook: {
          ...hook,
          begun: (tx, row) => replayed(attempt, hook.begun(tx, row)),
          // Another attempt's record met at the commit (the unique key's last word) is replayed too.
          refused: () => replayed(attempt, hook.refused()) as Promise<never>,
        },
      };
      ctx.commitHook = attempt.hook;
      attempts.set(request, attempt);
      return ctx;
    },

    /**
     * onSend: replaces the marker with the answer; stores the answer of a mutation that wrote
     * nothing; answers another attempt's committed answer when this one met it while claiming.
     */
    settle: async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const scope = request.idempotency;
      const attempt = attempts.get(request);
      if (!scope || !attempt) return payload;
      if (attempt.replay) {
        // Met while claiming: the first attempt committed, and its answer is on its way.
        if (isPending(attempt.replay)) attempt.replay = (await shapedAnswer(db, scope)) ?? attempt.replay;
        if (isPending(attempt.replay)) {
          const inUse = idempotencyKeyInUse(scope.key);
          reply.code(inUse.status).header('retry-after', '1');
          return JSON.stringify({
            data: null,
            errors: [{ message: inUse.message, extensions: { code: inUse.code, status: inUse.status } }],
          });
        }
        reply.code(attempt.replay.status).header('idempotent-replayed', 'true');
        return JSON.stringify(attempt.replay.body);
      }
      // inTransaction takes the hook from ctx when its transaction commits.
      const committed = attempt.ctx.commitHook !== attempt.hook;
      let body: { errors?: unknown[] } | null = null;
      try {
        body = typeof payload === 'string' ? (JSON.parse(payload) as { errors?: unknown[] }) : null;
      } catch {
        body = null;
      }
      const failed = reply.statusCode >= 400 || body === null || (body.errors?.length ?? 0) > 0;
      // A key refused while claiming it inside the transaction answers with its HTTP status, as
      // a refusal before the mutation ran does.
      const refusal = (body?.errors?.[0] as { extensions?: { code?: string; status?: number } } | undefined)
        ?.extensions;
      if (!committed && refusal?.status && IDEMPOTENCY_CODES.has(refusal.code ?? '')) {
        reply.code(refusal.status);
        if (refusal.code === 'IDEMPOTENCY_KEY_IN_USE') reply.header('retry-after', '1');
        return payload;
      }
      if (!committed && failed) {
        // A retry the mutation refused because the first attempt's effect changed what it checks
        // (the barcode is taken): its claim's snapshot came just before that attempt committed.
        // It answers what that attempt committed, as a REST retry does.
        const first = await findIdempotentAnswer(db, scope).catch(() => undefined);
        const answer = first && isPending(first) ? await shapedAnswer(db, scope) : first;
        if (answer) {
          reply.code(answer.status).header('idempotent-replayed', 'true');
          return JSON.stringify(answer.body);
        }
      }
      try {
        const answer = { status: reply.statusCode, body: withoutTokens(body) };
        if (committed) await replaceIdempotentAnswer(db, scope, answer);
        else if (!failed) await storeAnswerWithoutEffect(db, scope, answer);
        // Nothing committed and it failed: the key was never claimed, a retry runs afresh.
      } catch (err) {
        request.log.error({ err }, 'could not store a GraphQL answer under its idempotency key');
      }
      return payload;
    },
  };
}
