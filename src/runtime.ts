import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { forkBackground } from './background-process.js';
import type { Container } from './container.js';
import { scheduleMaintenance } from './jobs/maintenance.jobs.js';
import { reconcileOutbox, startReconciler } from './jobs/reconciler.js';
import { startWorkers, type WorkerPool } from './jobs/workers.js';
import { yieldingToParentApi } from './jobs/pacer.js';

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
export async function startBackground(
  c: Container,
  opts: {
    relay?: boolean;
    /** the background child of a `serve`: jobs that yield to requests follow its load reports */
    yieldToParent?: boolean;
  } = {},
): Promise<WorkerPool> {
  const workers = startWorkers({
    db: c.db,
    queues: c.queues,
    registry: c.registry,
    log: c.log.child({ component: 'workers' }),
    pacer: opts.yieldToParent ? yieldingToParentApi() : undefined,
  });
  if (opts.relay !== false) await c.relay.start();
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
 * which), then starts the background role (src/background-process.ts for `child`).
 */
export async function startServer(
  c: Container,
  opts: {
    listen: boolean;
    /** with WORKERS on: the background role in a child process (`serve`), or in this one */
    background?: 'child' | 'in-process';
  },
): Promise<Running> {
  const app = await buildApp(c);
  if (opts.listen) await app.listen({ port: c.config.PORT, host: c.config.HOST });
  let workers: WorkerPool | null = null;
  if (c.config.WORKERS && opts.background === 'child') {
    // The relay (a LISTEN and a cheap pass per notification) stays here; the handlers go.
    await c.relay.start();
    workers = forkBackground({ log: c.log, shutdownTimeoutMs: c.config.SHUTDOWN_TIMEOUT_MS });
  } else if (c.config.WORKERS) workers = await startBackground(c);
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

/** The `worker` role; without the relay when the `serve` that started it relays (its child). */
export async function startWorkerOnly(
  c: Container,
  opts: { relay?: boolean; yieldToParent?: boolean } = {},
): Promise<Running> {
  const workers = await startBackground(c, opts);
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
