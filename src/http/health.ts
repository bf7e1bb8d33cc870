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

/** Liveness says the process runs; readiness checks PostgreSQL and Redis and names what is down. */
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
    return { status: 'ready', checks: status };
  });
}
