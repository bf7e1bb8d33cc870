import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { REQUEST_ACTOR, type ActorBindings } from '../logger.js';
import type { Ctx } from '../context.js';
import type { ApiKeyActor } from '../auth/roles.js';
import type { ApiKeyService } from '../auth/api-keys.service.js';
import type { Db } from '../db/client.js';
import { DomainError, unauthenticated } from '../errors.js';
import type { FailedAuthGuard } from './rate-limit.js';
import { etag } from './etag.js';
import {
  idempotencyKeyOf,
  requestHashOf,
  runIdempotent,
  type IdempotencyScope,
  type StoredAnswer,
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

/**
 * onRequest hook: every /v1 call carries a valid API key (401 otherwise). When the app counts
 * failed authentications (src/http/rate-limit.ts), a client address that spent its budget gets
 * 429 before its token is looked up, and each failure is counted.
 */
export function authenticateRequest(apiKeys: ApiKeyService) {
  return async (request: FastifyRequest, reply?: FastifyReply) => {
    const guard = (request.server as { failedAuth?: FailedAuthGuard | null }).failedAuth ?? null;
    let actor: ApiKeyActor;
    if (!guard || !reply) {
      actor = await apiKeys.authenticate(bearerToken(request));
    } else {
      try {
        actor = await apiKeys.authenticate(bearerToken(request), {
          beforeLookup: () => guard.assertNotBlocked(request, reply),
        });
      } catch (err) {
        if (err instanceof DomainError && err.code === 'UNAUTHENTICATED') {
          await guard.recordFailure(request, reply);
        }
        throw err;
      }
    }
    actAs(request, actor);
  };
}

/**
 * The same as `authenticateRequest`, as a callback-style onRequest hook: a key verified within the
 * cache's lifetime is taken from memory, with no promise made (every scan goes this way); any
 * other token takes `authenticateRequest`'s path.
 */
export function authenticateHook(apiKeys: ApiKeyService): onRequestHookHandler {
  const authenticate = authenticateRequest(apiKeys);
  return (request, reply, done) => {
    const known = apiKeys.knownActor(bearerToken(request));
    if (!known) {
      authenticate(request, reply).then(() => done(), done);
      return;
    }
    actAs(request, known);
    done();
  };
}

function actAs(request: FastifyRequest, actor: ApiKeyActor): void {
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
}

/** Answers a replay as the first answer went out, marked `Idempotent-Replayed: true`. */
function replay(reply: FastifyReply, answer: StoredAnswer): FastifyReply {
  // A replayed versioned resource carries its ETag, as the first answer did.
  const version = (answer.body as { version?: unknown } | null)?.version;
  if (typeof version === 'number') reply.header('etag', etag(version));
  return reply.code(answer.status).header('idempotent-replayed', 'true');
}

/**
 * preHandler hook for POSTs, after the body is validated: an Idempotency-Key gives the request
 * its scope (src/http/idempotency.ts). Nothing is read here: the claim in the request's
 * transaction finds a committed answer and replays it. `waitMs`: how long a second attempt waits
 * for the first.
 */
export function idempotencyHook(waitMs: number) {
  return (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
    if (request.method === 'POST' && request.actor) {
      const key = idempotencyKeyOf(request.headers['idempotency-key']);
      if (key !== undefined) request.idempotency = idempotencyScopeOf(request, request.actor, key, waitMs);
    }
    done();
  };
}

/** The scope a key covers: the API key, and the request it was first sent with (REST and GraphQL). */
export function idempotencyScopeOf(
  request: FastifyRequest,
  actor: ApiKeyActor,
  key: string,
  waitMs: number,
): IdempotencyScope {
  return {
    apiKeyId: actor.apiKeyId,
    key,
    requestHash: requestHashOf(request.method, request.url, request.body),
    method: request.method,
    path: (request.url.split('?')[0] ?? request.url).slice(0, 2048),
    waitMs,
  };
}

export function ctxOf(request: FastifyRequest): Ctx {
  if (!request.actor) throw unauthenticated();
  return { actor: request.actor, requestId: request.id, log: request.log };
}

/**
 * Runs one service call for a route and shapes its answer. With an Idempotency-Key, the key is
 * claimed and the answer stored inside the service's transaction, so the effect and its complete
 * answer commit together (src/http/idempotency.ts); a replay answers what was stored.
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
  const answer = await runIdempotent(db, ctx, scope, { status, toBody, forReplay: opts.forReplay }, run);
  // A replay's body is the stored JSON of a body the route's schema serialized once.
  if (answer.replayed) replay(reply, answer);
  else reply.code(status);
  return answer.body as B;
}
