import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/client.js';
import type { QueueSet } from '../jobs/queue-set.js';

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

/** Liveness says the process runs; readiness checks PostgreSQL and Redis and names what is down. */
export function healthRoutes(app: FastifyInstance, deps: { database: Database; queues: QueueSet }) {
  app.get('/health/live', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/health/ready', { schema: { hide: true } }, async (_req, reply) => {
    const checks = await Promise.allSettled([
      withTimeout(deps.database.pool.query('select 1'), 2000),
      withTimeout(deps.queues.redis.ping(), 2000),
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
        .send({
          type: 'https://biobank.dev/problems/not-ready',
          title: 'Service unavailable',
          status: 503,
          code: 'NOT_READY',
          detail: `down: ${down.join(', ')}`,
          checks: status,
        });
    }
    return { status: 'ready', checks: status };
  });
}
