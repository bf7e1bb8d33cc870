import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { Container } from './container.js';
import { scheduleMaintenance } from './jobs/maintenance.jobs.js';
import { reconcileOutbox, startReconciler } from './jobs/reconciler.js';
import { startWorkers, type WorkerPool } from './jobs/workers.js';

export interface Running {
  app: FastifyInstance | null;
  workers: WorkerPool | null;
  /** Graceful: stop accepting, finish in-flight requests and jobs, then close queues, Redis, database. */
  stop(): Promise<void>;
}

/**
 * Starts the outbox relay, every queue's worker and the reconciler (the `worker` role). Nothing
 * here waits for Redis or PostgreSQL: each part connects, and reconnects, by itself.
 */
export async function startBackground(c: Container): Promise<WorkerPool> {
  const workers = startWorkers({
    db: c.db,
    queues: c.queues,
    registry: c.registry,
    log: c.log.child({ component: 'workers' }),
  });
  await c.relay.start();
  // Each pass schedules the recurring jobs again too: Redis losing its data loses them as well.
  const reconciler = startReconciler({
    queues: c.queues,
    log: c.log.child({ component: 'outbox-reconciler' }),
    everyMs: c.config.OUTBOX_RECONCILE_MS,
    pass: async () => {
      await scheduleMaintenance(c.queues, c.recurring);
      return reconcileOutbox({ db: c.db, queues: c.queues });
    },
  });
  return {
    async close() {
      reconciler.stop();
      await workers.close();
    },
  };
}

/**
 * Listens first, so /health/live answers while PostgreSQL or Redis is still down (readiness names
 * which), then starts the background role.
 */
export async function startServer(c: Container, opts: { listen: boolean }): Promise<Running> {
  const app = await buildApp(c);
  if (opts.listen) await app.listen({ port: c.config.PORT, host: c.config.HOST });
  const workers = c.config.WORKERS ? await startBackground(c) : null;
  return {
    app,
    workers,
    async stop() {
      await app.close(); // stops accepting and waits for in-flight requests
      await c.relay.stop();
      await workers?.close(); // waits for jobs in progress
      await c.close(); // queues, Redis, database
    },
  };
}

export async function startWorkerOnly(c: Container): Promise<Running> {
  const workers = await startBackground(c);
  return {
    app: null,
    workers,
    async stop() {
      await c.relay.stop();
      await workers.close();
      await c.close();
    },
  };
}
