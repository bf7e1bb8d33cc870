import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import { rateLimited } from '../errors.js';

// Rate limits (issue 13, finding 5), counted in Redis so they hold across API processes: one
// budget per API key for every request it makes (a rack scan or a batch is one request), and one
// per client address for failed authentications. Their keys live under the deployment's
// QUEUE_PREFIX, so deployments sharing a Redis do not share budgets.

export interface RateLimitSettings {
  redisUrl: string;
  prefix: string;
  /** requests per key per window; 0 turns the per-key limit off */
  perKey: number;
  windowMs: number;
  failedAuth: number;
}

/** What authentication asks before looking a token up, and tells after a failure. */
export interface FailedAuthGuard {
  /** Throws RATE_LIMITED when the client's failures already spent the budget. */
  assertNotBlocked(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** Counts one failure; throws RATE_LIMITED when it was one too many. */
  recordFailure(request: FastifyRequest, reply: FastifyReply): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    failedAuth: FailedAuthGuard | null;
  }
}

/** RFC draft `RateLimit-*` headers and Retry-After, as the plugin sends them on its own refusals. */
function limitHeaders(reply: FastifyReply, limit: number, remaining: number, resetSeconds: number): void {
  reply.header('ratelimit-limit', limit);
  reply.header('ratelimit-remaining', remaining);
  reply.header('ratelimit-reset', resetSeconds);
}

/**
 * Registers the per-key limit on every route registered after it (requests without an API key,
 * such as health probes and refused ones, are not counted here) and decorates the app with the
 * failed-authentication guard `authenticateRequest` consults.
 */
export async function registerRateLimits(app: FastifyInstance, s: RateLimitSettings): Promise<void> {
  // Its own connection: one that gives up at once when Redis is away (BullMQ's waits forever),
  // so a request is never held by the limiter; such a request is let through (skipOnError).
  const redis = new Redis(s.redisUrl, {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: false,
  });
  redis.on('error', () => undefined);
  app.addHook('onClose', async () => {
    await redis.quit().catch(() => redis.disconnect());
  });
  await app.register(fastifyRateLimit, {
    global: true,
    // After authentication (onRequest) and before the body is read or parsed.
    hook: 'preParsing',
    max: s.perKey,
    timeWindow: s.windowMs,
    redis,
    nameSpace: `${s.prefix}:rate:`,
    enableDraftSpec: true,
    skipOnError: true,
    keyGenerator: (request) => `key:${request.actor?.apiKeyId ?? ''}`,
    allowList: (request) => s.perKey === 0 || !request.actor,
    errorResponseBuilder: (_request, ctx) =>
      rateLimited('this API key', ctx.max, Math.max(1, Math.ceil(ctx.ttl / 1000))),
  });
  const failures = app.createRateLimit({
    max: s.failedAuth,
    timeWindow: s.windowMs,
    keyGenerator: (request) => `auth:${request.ip}`,
    // Not the per-key limit's: requests without an actor are exactly the ones counted here.
    allowList: [],
  });
  const refuse = (reply: FastifyReply, ttlSeconds: number) => {
    const retryAfter = Math.max(1, ttlSeconds);
    limitHeaders(reply, s.failedAuth, 0, retryAfter);
    return rateLimited('failed authentications from this address', s.failedAuth, retryAfter);
  };
  const guard: FailedAuthGuard = {
    async assertNotBlocked(request, reply) {
      const state = await failures(request, { increment: false }).catch(() => null);
      if (state && !state.isAllowed && state.remaining === 0) throw refuse(reply, state.ttlInSeconds);
    },
    async recordFailure(request, reply) {
      const state = await failures(request).catch(() => null);
      if (state && !state.isAllowed && state.isExceeded) throw refuse(reply, state.ttlInSeconds);
    },
  };
  app.decorate('failedAuth', guard);
}
