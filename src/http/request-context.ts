import type { FastifyReply, FastifyRequest } from 'fastify';
import { REQUEST_ACTOR, type ActorBindings } from '../logger.js';
import type { Ctx } from '../context.js';
import type { ApiKeyActor } from '../auth/roles.js';
import type { ApiKeyService } from '../auth/api-keys.service.js';
import type { Db } from '../db/client.js';
import { unauthenticated } from '../errors.js';
import {
  abandonIdempotentRequest,
  beginIdempotentRequest,
  completeIdempotentRequest,
  type IdempotencyScope,
} from './idempotency.js';

declare module 'fastify' {
  interface FastifyRequest {
    actor: ApiKeyActor | null;
    idempotency: IdempotencyScope | null;
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** onRequest hook: every /v1 call carries a valid API key (401 otherwise). */
export function authenticateRequest(apiKeys: ApiKeyService) {
  return async (request: FastifyRequest) => {
    const actor = await apiKeys.authenticate(bearerToken(request));
    request.actor = actor;
    const bindings: ActorBindings = {
      actor: `${actor.role}@${actor.institutionCode}`,
      apiKeyId: actor.apiKeyId,
    };
    // Fastify's per-request logger carries the actor for the logger's mixin (logger.ts): nothing is
    // serialized until a line is written. A shared logger is never marked: it gets a child.
    if (request.log !== request.server.log)
      (request.log as { [REQUEST_ACTOR]?: ActorBindings })[REQUEST_ACTOR] = bindings;
    else request.log = request.log.child(bindings);
  };
}

/** preHandler hook: Idempotency-Key handling for POSTs, after the body is validated. */
export function idempotencyHook(db: Db) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method !== 'POST' || !request.actor) return;
    const scope = await beginIdempotentRequest(db, request, reply, request.actor.apiKeyId);
    if (scope === 'replayed') return reply;
    request.idempotency = scope ?? null;
  };
}

/**
 * onResponse hook, a backstop: a request that failed outside `execute` (which releases its key
 * before answering) releases its Idempotency-Key here, so a retry runs it again.
 */
export function releaseIdempotencyOnFailure(db: Db) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const scope = request.idempotency;
    if (scope && !scope.settled && reply.statusCode >= 400) {
      await abandonIdempotentRequest(db, scope).catch((err: unknown) =>
        request.log.error({ err }, 'could not release an idempotency key'),
      );
    }
  };
}

export function ctxOf(request: FastifyRequest): Ctx {
  if (!request.actor) throw unauthenticated();
  return { actor: request.actor, requestId: request.id, log: request.log };
}

/**
 * Runs one service call for a route and shapes its answer. With an Idempotency-Key, the response
 * is stored inside the service's transaction, so the effect and its stored answer commit together
 * (or right after, for calls that write nothing). A failure releases the key before it is answered.
 */
export async function execute<R, B>(
  db: Db,
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  run: (ctx: Ctx) => Promise<R>,
  toBody: (result: R) => B,
  opts: {
    /** what a replay answers, when the first answer holds a secret that must not be stored */
    forReplay?: (body: B) => unknown;
  } = {},
): Promise<B> {
  const ctx = ctxOf(request);
  const scope = request.idempotency;
  if (!scope) {
    // The common path (every GET): no closure made per request.
    const body = toBody(await run(ctx));
    reply.code(status);
    return body;
  }
  const stored = (b: B | null): unknown => (b !== null && opts.forReplay ? opts.forReplay(b) : b);
  // JSON of the body stored with the effect; undefined while nothing was stored.
  let storedJson: string | undefined;
  ctx.commitHook = {
    async beforeCommit(tx, result) {
      // The transaction's result is the service's answer for most services. One that returns more
      // than its transaction produced (a token made before it, a row read after it) cannot be
      // shaped here: the key is still completed with the effect, and its body stored just below.
      let body: B | null;
      try {
        body = toBody(result as R);
      } catch {
        body = null;
      }
      await completeIdempotentRequest(tx, scope, status, stored(body));
      storedJson = JSON.stringify(stored(body));
    },
  };
  let body: B;
  try {
    body = toBody(await run(ctx));
  } catch (err) {
    await abandonIdempotentRequest(db, scope).catch((releaseErr: unknown) =>
      request.log.error({ err: releaseErr }, 'could not release an idempotency key'),
    );
    throw err;
  }
  // A hook still on ctx never committed (no transaction ran, or the last one carrying it rolled back).
  const committedJson = ctx.commitHook ? undefined : storedJson;
  if (committedJson !== JSON.stringify(stored(body)))
    await completeIdempotentRequest(db, scope, status, stored(body));
  reply.code(status);
  return body;
}
