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
 * How many requests a process takes from a key's budget in Redis at a time: a hundredth of the
 * budget, at most 100, at least 1 (a small budget is counted request by request, exactly).
 */
export const allowanceChunk = (perKey: number) => Math.max(1, Math.min(100, Math.floor(perKey / 100)));

/** One key's allowance in this process. */
interface Allowance {
  /** requests this process may still make in the window without asking Redis */
  left: number;
  /** the key's count in Redis after this process's last claim (every process's claims) */
  counted: number;
  /** when the window ends (epoch ms) */
  windowEnds: number;
  refreshing: Promise<void> | null;
}

/** INCRBY the key's count by a chunk and start its window if new: [count, ms left in the window]. */
const CLAIM_LUA = `
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {n, ttl}`;

type Verdict = { allowed: true; remaining: number; resetMs: number } | { allowed: false; resetMs: number };

/**
 * The per-key budget, counted in Redis across processes (a fixed window per key), spent from an
 * allowance each process claims in chunks: the hot path asks Redis once per chunk, and the next
 * chunk is claimed in the background when half of one is left, so a request waits for Redis only
 * when its allowance ran out. A claimed request is counted whether or not it is made, so a key is
 * never let through more than its budget; it may be refused up to a chunk per process early.
 */
export function keyBudgets(redis: Redis, s: Pick<RateLimitSettings, 'prefix' | 'perKey' | 'windowMs'>) {
  const chunk = allowanceChunk(s.perKey);
  const allowances = new Map<string, Allowance>();
  const redisKey = (apiKeyId: string) => `${s.prefix}:rate:key:${apiKeyId}`;

  async function claim(apiKeyId: string, a: Allowance): Promise<void> {
    const [n, ttl] = (await redis.eval(CLAIM_LUA, 1, redisKey(apiKeyId), chunk, s.windowMs)) as [
      number,
      number,
    ];
    const granted = Math.max(0, Math.min(chunk, s.perKey - (n - chunk)));
    const now = Date.now();
    // A claim that opened a new window replaces what is left of the old one.
    a.left = n <= chunk || now >= a.windowEnds ? granted : a.left + granted;
    a.counted = n;
    a.windowEnds = now + ttl;
  }

  const spend = (a: Allowance, now: number): Verdict => {
    a.left--;
    return {
      allowed: true,
      remaining: Math.max(0, s.perKey - a.counted + a.left),
      resetMs: a.windowEnds - now,
    };
  };

  /** One claim in flight per key: requests that find the allowance spent wait for it together. */
  const refresh = (apiKeyId: string, a: Allowance): Promise<void> =>
    (a.refreshing ??= claim(apiKeyId, a).finally(() => {
      a.refreshing = null;
    }));

  /**
   * Waits for a claim and spends from it. A request that waited for a claim spends from it even
   * when the window it was counted in ends meanwhile (it was counted there). Requests that find a
   * claim shared by more waiters than it grants wait for the next one; they are refused only when a
   * claim grants nothing: the window's budget is spent.
   */
  async function waitForAllowance(apiKeyId: string, a: Allowance): Promise<Verdict | undefined> {
    for (;;) {
      try {
        await refresh(apiKeyId, a);
      } catch {
        return undefined;
      }
      if (a.left > 0) return spend(a, Date.now());
      if (a.counted - chunk >= s.perKey) return { allowed: false, resetMs: a.windowEnds - Date.now() };
    }
  }

  return {
    /** Spends one request of the key's budget; undefined when Redis could not be asked (let through). */
    take(apiKeyId: string): Verdict | Promise<Verdict | undefined> {
      const now = Date.now();
      let a = allowances.get(apiKeyId);
      if (!a) {
        a = { left: 0, counted: 0, windowEnds: 0, refreshing: null };
        allowances.set(apiKeyId, a);
      }
      if (a.left <= 0 || now >= a.windowEnds) return waitForAllowance(apiKeyId, a);
      if (chunk > 1 && a.left <= chunk / 2) refresh(apiKeyId, a).catch(() => undefined);
      return spend(a, now);
    },
    /** Keys not used for a window are forgotten. */
    sweep(): void {
      const now = Date.now();
      for (const [id, a] of allowances) if (now >= a.windowEnds && !a.refreshing) allowances.delete(id);
    },
  };
}

/**
 * Registers the per-key limit on every route registered after it (requests without an API key,
 * such as health probes and refused ones, are not counted here) and decorates the app with the
 * failed-authentication guard `authenticateRequest` consults.
 */
export async function registerRateLimits(app: FastifyInstance, s: RateLimitSettings): Promise<void> {
  // Its own connection: one that gives up at once when Redis is away (BullMQ's waits forever),
  // so a request is never held by the limiter; such a request is let through.
  const redis = new Redis(s.redisUrl, {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: false,
  });
  redis.on('error', () => undefined);
  app.addHook('onClose', async () => {
    await redis.quit().catch(() => redis.disconnect());
  });
  if (s.perKey > 0) {
    const budgets = keyBudgets(redis, s);
    const sweeper = setInterval(() => budgets.sweep(), s.windowMs);
    sweeper.unref();
    app.addHook('onClose', async () => clearInterval(sweeper));
    const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));
    const apply = (reply: FastifyReply, v: Verdict | undefined) => {
      if (!v) return undefined;
      if (v.allowed) {
        limitHeaders(reply, s.perKey, v.remaining, seconds(v.resetMs));
        return undefined;
      }
      const retryAfter = Math.max(1, seconds(v.resetMs));
      limitHeaders(reply, s.perKey, 0, retryAfter);
      reply.header('retry-after', retryAfter);
      return rateLimited('this API key', s.perKey, retryAfter);
    };
    // After authentication (onRequest) and before the body is read or parsed. Callback style: the
    // usual request spends from memory and makes no promise.
    app.addHook('preParsing', (request, reply, payload, done) => {
      const apiKeyId = request.actor?.apiKeyId;
      if (!apiKeyId) return done(null, payload);
      const v = budgets.take(apiKeyId);
      if (!(v instanceof Promise)) return done(apply(reply, v) ?? null, payload);
      v.then(
        (r) => done(apply(reply, r) ?? null, payload),
        () => done(null, payload),
      );
    });
  }
  // The plugin counts failed authentications only (its per-route limit is off).
  await app.register(fastifyRateLimit, {
    global: false,
    redis,
    nameSpace: `${s.prefix}:rate:`,
    enableDraftSpec: true,
    skipOnError: true,
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
