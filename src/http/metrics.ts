import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import fastifyMetricsModule from 'fastify-metrics';
import client from 'prom-client';
import type { Database } from '../db/client.js';
import type { QueueSet } from '../jobs/queue-set.js';
import type { OutboxRelay } from '../jobs/relay.js';
import { routeNotFound, toProblem, unauthenticated } from '../errors.js';
import { sendProblem } from './problem.js';
import { bearerToken } from './request-context.js';

// fastify-metrics is CommonJS with `exports.default`: under NodeNext the plugin is one level down.
const fastifyMetrics = fastifyMetricsModule.default;

function gauge(
  registry: client.Registry,
  name: string,
  help: string,
  labelNames: string[],
  collect: (g: client.Gauge) => Promise<void> | void,
) {
  return new client.Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      await collect(this);
    },
  });
}

/**
 * Prometheus /metrics: request latency by route, queue depths, outbox lag, pool usage.
 *
 * Each app has a registry of its own rather than prom-client's global one: with the global one, a
 * second app built in the same process (a test, a CLI command) took over the gauges, and when it
 * closed, the first app's scrape failed reading the second's closed pool.
 */
export async function registerMetrics(
  app: FastifyInstance,
  deps: { database: Database; queues: QueueSet; relay: OutboxRelay; config: { METRICS_TOKEN?: string } },
) {
  const guard = metricsGuard(deps.config.METRICS_TOKEN);
  const registry = new client.Registry();
  // First, so the scrape route registered by the plugin is timed as well.
  routeLatency(app, registry);
  await app.register(fastifyMetrics, {
    // fastify-metrics reads `register` from the client it is given; the rest is prom-client's.
    promClient: { ...client, register: registry },
    // Route options rather than a path, to keep the scrape endpoint out of the OpenAPI document.
    endpoint: {
      url: '/metrics',
      method: 'GET',
      logLevel: 'fatal',
      exposeHeadRoute: false,
      schema: { hide: true },
      onRequest: guard,
      handler: () => undefined, // replaced by the plugin's own handler
    },
    defaultMetrics: { enabled: true, register: registry },
    // Request latency is observed by routeLatency below, not by the plugin's per-request timers.
    routeMetrics: { enabled: false },
  });
  gauge(registry, 'biobank_queue_jobs', 'BullMQ jobs by queue and state', ['queue', 'state'], async (g) => {
    // While Redis is away the queue connection waits instead of failing, so asking would hang the
    // scrape: the series are dropped until it is back (absent rather than stale numbers).
    g.reset();
    if (deps.queues.redis.status !== 'ready') return;
    for (const queue of deps.queues.all()) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
      for (const [state, n] of Object.entries(counts)) g.set({ queue: queue.name, state }, n);
    }
  });
  gauge(
    registry,
    'biobank_outbox_lag_seconds',
    'age of the oldest outbox row not yet moved to its queue',
    [],
    async (g) => {
      g.set(await deps.relay.lagSeconds());
    },
  );
  gauge(registry, 'biobank_db_pool_connections', 'PostgreSQL pool connections by state', ['state'], (g) => {
    const { pool } = deps.database;
    g.set({ state: 'total' }, pool.totalCount);
    g.set({ state: 'idle' }, pool.idleCount);
    g.set({ state: 'waiting' }, pool.waitingCount);
  });
}

/** Methods whose requests are not timed: probes of a route rather than calls of it. */
const UNTIMED_METHODS = new Set(['HEAD', 'OPTIONS', 'TRACE', 'CONNECT']);

/**
 * `http_request_duration_seconds` by method, route template and status, for every route registered
 * after this (not the unmatched 404s, which would be a series per scanned URL). Each route gets an
 * onResponse hook of its own that reads Fastify's own timing (`reply.elapsedTime`, from routing to
 * the last byte): no hook at all on other routes, and no timer or label object made per request.
 */
function routeLatency(app: FastifyInstance, registry: client.Registry): void {
  const histogram = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'request duration in seconds',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.addHook('onRoute', (route) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter(
      (m) => !UNTIMED_METHODS.has(m),
    );
    if (methods.length === 0) return;
    const routeLabel = route.config?.statsId ?? route.url;
    // One labelled series per method and status the route answers, found again without hashing.
    const series = new Map<string, client.Histogram.Internal<'method' | 'route' | 'status_code'>>();
    const observe: onResponseHookHandler = (request, reply, done) => {
      if (!UNTIMED_METHODS.has(request.method)) {
        const key = `${request.method} ${reply.statusCode}`;
        let s = series.get(key);
        if (!s) {
          s = histogram.labels(request.method, routeLabel, String(reply.statusCode));
          series.set(key, s);
        }
        s.observe(reply.elapsedTime / 1000);
      }
      done();
    };
    const existing = route.onResponse === undefined ? [] : [route.onResponse].flat();
    route.onResponse = [...existing, observe];
  });
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * /metrics names routes, queues and pool sizes: it answers only a scraper holding METRICS_TOKEN
 * (`Authorization: Bearer ...`), and is absent (404) when no token is configured.
 */
function metricsGuard(token: string | undefined) {
  const expected = token === undefined ? null : digest(token);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!expected) return sendProblem(reply, toProblem(routeNotFound('GET', '/metrics'), request.id));
    const sent = bearerToken(request);
    // Compared as digests: equal lengths, and no timing hint of how much of the token matched.
    if (sent === undefined || !timingSafeEqual(digest(sent), expected)) {
      reply.header('www-authenticate', 'Bearer');
      return sendProblem(reply, toProblem(unauthenticated(), request.id));
    }
  };
}
