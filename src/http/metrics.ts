import type { FastifyInstance } from 'fastify';
import fastifyMetricsModule from 'fastify-metrics';
import client from 'prom-client';
import type { Database } from '../db/client.js';
import type { QueueSet } from '../jobs/queue-set.js';
import type { OutboxRelay } from '../jobs/relay.js';

// fastify-metrics is CommonJS with `exports.default`: under NodeNext the plugin is one level down.
const fastifyMetrics = fastifyMetricsModule.default;

function gauge(
  name: string,
  help: string,
  labelNames: string[],
  collect: (g: client.Gauge) => Promise<void> | void,
) {
  // One process may build several apps (tests): the newest app's dependencies feed the gauge.
  client.register.removeSingleMetric(name);
  return new client.Gauge({
    name,
    help,
    labelNames,
    async collect() {
      await collect(this);
    },
  });
}

/** Prometheus /metrics: request latency by route, queue depths, outbox lag, pool usage. */
export async function registerMetrics(
  app: FastifyInstance,
  deps: { database: Database; queues: QueueSet; relay: OutboxRelay },
) {
  await app.register(fastifyMetrics, {
    endpoint: '/metrics',
    clearRegisterOnInit: true,
    defaultMetrics: { enabled: true },
    routeMetrics: {
      enabled: { histogram: true, summary: false },
      registeredRoutesOnly: true,
      groupStatusCodes: false,
      overrides: {
        histogram: {
          name: 'http_request_duration_seconds',
          buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        },
      },
    },
  });
  gauge('biobank_queue_jobs', 'BullMQ jobs by queue and state', ['queue', 'state'], async (g) => {
    for (const queue of deps.queues.all()) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
      for (const [state, n] of Object.entries(counts)) g.set({ queue: queue.name, state }, n);
    }
  });
  gauge(
    'biobank_outbox_lag_seconds',
    'age of the oldest outbox row not yet moved to its queue',
    [],
    async (g) => {
      g.set(await deps.relay.lagSeconds());
    },
  );
  gauge('biobank_db_pool_connections', 'PostgreSQL pool connections by state', ['state'], (g) => {
    const { pool } = deps.database;
    g.set({ state: 'total' }, pool.totalCount);
    g.set({ state: 'idle' }, pool.idleCount);
    g.set({ state: 'waiting' }, pool.waitingCount);
  });
}
