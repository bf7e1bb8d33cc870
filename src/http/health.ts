import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/client.js';
import type { QueueSet } from '../jobs/queue-set.js';
import { notReady, toProblem } from '../errors.js';

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Redis answers only when its connection is ready. The queue connection waits for Redis instead
 * of failing (BullMQ needs `maxRetriesPerRequest: null`), so a ping sent while it reconnects would
 * hang until the timeout: a load balancer probing every few seconds would pile up waiting probes.
 */
async function pingRedis(queues: QueueSet, ms: number): Promise<void> {
  const { status } = queues.redis;
  if (status !== 'ready') throw new Error(`redis connection is ${status}`);
  await withTimeout(queues.redis.ping(), ms);
}

/**
 * Redis holds queued work between the outbox relay and the workers: it must keep it across a
 * restart (`appendonly yes`) and never evict it under memory pressure (`maxmemory-policy
 * noeviction`). The reconciler repairs a loss, but only after the fact. Managed Redis services may
 * refuse CONFIG: then the settings cannot be checked, which is said once per probe, not failed.
 */
async function redisWarnings(queues: QueueSet, ms: number): Promise<string[]> {
  let settings: Map<string, string>;
  try {
    const replies = await withTimeout(
      Promise.all([queues.redis.config('GET', 'appendonly'), queues.redis.config('GET', 'maxmemory-policy')]),
      ms,
    );
    settings = new Map();
    for (const reply of replies) {
      const [key, value] = reply;
      if (key !== undefined && value !== undefined) settings.set(key, value);
    }
  } catch {
    return [
      'redis refuses CONFIG GET, so its settings are unchecked: persistence (appendonly yes) and maxmemory-policy noeviction are required',
    ];
  }
  const warnings: string[] = [];
  if (settings.get('appendonly') !== 'yes')
    warnings.push(
      'redis runs without appendonly persistence: a restart loses queued jobs until the reconciler puts them back',
    );
  if (settings.get('maxmemory-policy') !== 'noeviction')
    warnings.push(
      `redis maxmemory-policy is ${settings.get('maxmemory-policy') ?? 'unknown'}, not noeviction: it may evict queued jobs`,
    );
  return warnings;
}

/**
 * Liveness says the process runs; readiness checks PostgreSQL and Redis and names what is down,
 * and warns (still 200) about Redis settings that put queued work at risk.
 */
export function healthRoutes(app: FastifyInstance, deps: { database: Database; queues: QueueSet }) {
  app.get('/health/live', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/health/ready', { schema: { hide: true } }, async (_req, reply) => {
    const checks = await Promise.allSettled([
      withTimeout(deps.database.pool.query('select 1'), 2000),
      pingRedis(deps.queues, 2000),
    ]);
    const [pg, redis] = checks;
    const status = {
      postgres: pg?.status === 'fulfilled' ? 'up' : 'down',
      redis: redis?.status === 'fulfilled' ? 'up' : 'down',
    };
    const down = Object.entries(status)
      .filter(([, s]) => s === 'down')
      .map(([name]) => name);
    if (down.length) {
      return reply
        .code(503)
        .type('application/problem+json; charset=utf-8')
        .send(toProblem(notReady(down, status)));
    }
    const warnings = await redisWarnings(deps.queues, 2000);
    return warnings.length
      ? { status: 'ready', checks: status, warnings }
      : { status: 'ready', checks: status };
  });
}
