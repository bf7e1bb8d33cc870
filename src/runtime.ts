import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { Container } from './container.js';
import { scheduleMaintenance } from './jobs/maintenance.jobs.js';
import { startWorkers, type WorkerPool } from './jobs/workers.js';

export interface Running {
  app: FastifyInstance | null;
  workers: WorkerPool | null;
  /** Graceful: stop accepting, finish in-flight requests and jobs, then close queues, Redis, database. */
  stop(): Promise<void>;
}

/** Starts the outbox relay and every queue's worker (the `worker` role). */
export async function startBackground(c: Container): Promise<WorkerPool> {
  const workers = startWorkers({
    queues: c.queues,
    registry: c.registry,
    log: c.log.child({ component: 'workers' }),
  });
  await c.relay.start();
  await scheduleMaintenance(c.queues, c.recurring);
  return workers;
}

export async function startServer(c: Container, opts: { listen: boolean }): Promise<Running> {
  const app = await buildApp(c);
  const workers = c.config.WORKERS ? await startBackground(c) : null;
  if (opts.listen) await app.listen({ port: c.config.PORT, host: c.config.HOST });
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
