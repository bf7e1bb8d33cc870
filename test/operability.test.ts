import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../src/config.js';
import { createContainer } from '../src/container.js';
import { QUEUE_NAMES } from '../src/jobs/queues.js';
import { createLogger } from '../src/logger.js';
import { startServer } from '../src/runtime.js';
import {
  bearer,
  createTestApp,
  createTestDatabase,
  dropTestDatabase,
  json,
  makeInstitution,
  type TestApp,
} from './helpers/test-app.js';
import { databaseUrl } from './helpers/urls.js';

// What an operator relies on: probes, metrics, the queue board, and logs that trace a request
// and its actor without ever holding a token.

let t: TestApp;
let bank: Awaited<ReturnType<typeof makeInstitution>>;
let operator: Awaited<ReturnType<typeof makeInstitution>>;
const SCRAPER = 'scraper-token-of-the-tests';
const scrape = { authorization: `Bearer ${SCRAPER}` };
beforeAll(async () => {
  t = await createTestApp({ env: { METRICS_TOKEN: SCRAPER } });
  bank = await makeInstitution(t, { roles: ['admin', 'manager', 'technician'] });
  operator = await makeInstitution(t, { operator: true, roles: ['admin'] });
});
afterAll(() => t.close());

describe('health', () => {
  it('answers /health/live with 200 without a key', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health/live' });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ status: 'ok' });
  });

  it('answers /health/ready with 200 when PostgreSQL and Redis are up', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    // Warnings about the Redis settings depend on the server's configuration: see reliability-startup.
    expect(json(res)).toMatchObject({ status: 'ready', checks: { postgres: 'up', redis: 'up' } });
  });

  it('answers /health/ready with a 503 problem naming redis, at once, when Redis is unreachable', async () => {
    const dbName = await createTestDatabase();
    const config: Config = {
      ...parseConfig({
        DATABASE_URL: databaseUrl(dbName),
        // Nothing listens there.
        REDIS_URL: 'redis://127.0.0.1:6390',
        QUEUE_PREFIX: `bbtest-down-${dbName.slice(-8)}`,
        WORKERS: '0',
        LOG_LEVEL: 'warn',
        METRICS_TOKEN: SCRAPER,
      }),
      BIOBANK_SECRET: 'test-secret-of-at-least-thirty-two-characters',
    };
    const sink = new Writable({ write: (_chunk, _enc, done) => done() });
    const c = createContainer(config, createLogger('warn', sink));
    // BullMQ prints unheard connection errors to the console; they are expected here.
    for (const queue of c.queues.all()) queue.on('error', () => undefined);
    const running = await startServer(c, { listen: false });
    try {
      const started = Date.now();
      const res = await running.app!.inject({ method: 'GET', url: '/health/ready' });
      expect(Date.now() - started).toBeLessThan(1000);
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(json(res)).toMatchObject({
        status: 503,
        code: 'NOT_READY',
        detail: 'down: redis',
        checks: { postgres: 'up', redis: 'down' },
      });

      // Liveness does not depend on Redis, and the metrics scrape does not hang on it.
      const live = await running.app!.inject({ method: 'GET', url: '/health/live' });
      expect(live.statusCode).toBe(200);
      const scrapeStarted = Date.now();
      const metrics = await running.app!.inject({ method: 'GET', url: '/metrics', headers: scrape });
      expect(metrics.statusCode).toBe(200);
      expect(Date.now() - scrapeStarted).toBeLessThan(2000);
      expect(metrics.body).toContain('biobank_db_pool_connections');
    } finally {
      const stopping = Date.now();
      await running.stop();
      expect(Date.now() - stopping).toBeLessThan(5000);
      await dropTestDatabase(dbName);
    }
  });
});

describe('metrics', () => {
  it('exposes request latency by route, queue depths, outbox lag and pool usage', async () => {
    const { institution, keys } = bank;
    const hit = await t.app.inject({
      method: 'GET',
      url: `/v1/institutions/${institution.id}`,
      headers: bearer(keys.admin),
    });
    expect(hit.statusCode).toBe(200);
    const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: scrape });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    // The route template, not the concrete URL: one series per route, whatever the ids.
    expect(text).toMatch(
      /http_request_duration_seconds_count\{[^}]*route="\/v1\/institutions\/:id"[^}]*status_code="200"[^}]*\} [1-9]/,
    );
    expect(text).not.toContain(institution.id);
    expect(text).toMatch(/^biobank_queue_jobs\{queue="webhooks",state="waiting"\} \d+$/m);
    expect(text).toMatch(/^biobank_queue_jobs\{queue="maintenance",state="failed"\} \d+$/m);
    expect(text).toMatch(/^biobank_outbox_lag_seconds \d+(\.\d+)?$/m);
    expect(text).toMatch(/^biobank_db_pool_connections\{state="total"\} [1-9]\d*$/m);
    expect(text).toMatch(/^biobank_db_pool_connections\{state="idle"\} \d+$/m);
  });

  it('reports the age of the oldest outbox row not yet relayed', async () => {
    await t.sql.query(
      `insert into outbox (id, queue, job_name, payload, created_at)
       values (gen_random_uuid(), 'maintenance', 'test.lag', '{}'::jsonb, now() - interval '90 seconds')`,
    );
    try {
      const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: scrape });
      const lag = Number(/^biobank_outbox_lag_seconds (\S+)$/m.exec(res.body)?.[1]);
      expect(lag).toBeGreaterThanOrEqual(90);
      expect(lag).toBeLessThan(150);
    } finally {
      await t.sql.query("delete from outbox where job_name = 'test.lag'");
    }
  });
});

describe('queue board', () => {
  it('answers /admin/queues with 401 without a key', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/admin/queues' });
    expect(res.statusCode).toBe(401);
    expect(res.body).not.toMatch(/\n\s+at /);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('answers /admin/queues with 403 for a manager', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/admin/queues',
      headers: bearer(bank.keys.manager),
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ status: 403, code: 'FORBIDDEN' });
  });

  it("answers /admin/queues and its API with 200 for the operator's admins", async () => {
    const page = await t.app.inject({
      method: 'GET',
      url: '/admin/queues',
      headers: bearer(operator.keys.admin),
    });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const api = await t.app.inject({
      method: 'GET',
      url: '/admin/queues/api/queues',
      headers: bearer(operator.keys.admin),
    });
    expect(api.statusCode).toBe(200);
    const names = json<{ queues: { name: string }[] }>(api).queues.map((q) => q.name);
    expect(names.sort()).toEqual([...QUEUE_NAMES].sort());
    const refused = await t.app.inject({
      method: 'GET',
      url: '/admin/queues/api/queues',
      headers: bearer(bank.keys.technician),
    });
    expect(refused.statusCode).toBe(403);
  });
});

describe('request ids and logs', () => {
  it('echoes an incoming X-Request-Id and uses it in the log lines and the audit row', async () => {
    const requestId = 'lis-sync-2024-000123';
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/v1/institutions/${bank.institution.id}`,
      headers: { ...bearer(bank.keys.admin), 'x-request-id': requestId, 'if-match': 'W/"1"' },
      payload: { name: 'Traced rename' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBe(requestId);
    const lines = t.logs.filter((l) => l.reqId === requestId);
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['incoming request', 'request completed']),
    );
    const audit = await t.sql.query('select action from audit_log where request_id = $1', [requestId]);
    expect(audit.rows).toEqual([{ action: 'updateInstitution' }]);
  });

  it('replaces an unusable X-Request-Id with a generated one', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'has spaces and {braces}' },
    });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs the actor on the lines of an authenticated request', async () => {
    const requestId = 'actor-trace-1';
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/api-keys',
      headers: { ...bearer(bank.keys.admin), 'x-request-id': requestId },
    });
    expect(res.statusCode).toBe(200);
    const completed = t.logs.find((l) => l.reqId === requestId && l.msg === 'request completed');
    expect(completed?.actor).toBe(`admin@${bank.institution.code}`);
    expect(completed?.apiKeyId).toEqual(expect.any(String));

    const refusedId = 'actor-trace-2';
    await t.app.inject({
      method: 'GET',
      url: '/v1/api-keys',
      headers: { ...bearer(bank.keys.technician), 'x-request-id': refusedId },
    });
    const refusal = t.logs.find((l) => l.reqId === refusedId && l.code === 'FORBIDDEN');
    expect(refusal).toMatchObject({ actor: `technician@${bank.institution.code}` });
  });

  it('never writes a bearer token to any log line', async () => {
    const unknown = `bbk_qqqqqqqqqq_${'B'.repeat(43)}`;
    const calls = [
      { method: 'GET' as const, url: '/v1/institutions', headers: bearer(bank.keys.admin) },
      { method: 'GET' as const, url: '/v1/api-keys', headers: bearer(bank.keys.technician) },
      { method: 'GET' as const, url: '/v1/institutions', headers: bearer(unknown) },
      {
        method: 'GET' as const,
        url: '/v1/institutions',
        headers: { authorization: 'Bearer garbage-token-xyz' },
      },
      { method: 'GET' as const, url: '/admin/queues', headers: bearer(bank.keys.manager) },
      {
        method: 'POST' as const,
        url: '/graphql',
        headers: bearer(bank.keys.admin),
        payload: { query: '{ viewer { role } }' },
      },
      {
        method: 'POST' as const,
        url: '/v1/api-keys',
        headers: bearer(bank.keys.admin),
        payload: { name: 'log check', role: 'partner' },
      },
    ];
    const issued: string[] = [];
    for (const call of calls) {
      const res = await t.app.inject(call);
      if (res.statusCode === 201) issued.push(json<{ token: string }>(res).token);
    }
    expect(issued).toHaveLength(1);
    const text = t.logs.map((l) => JSON.stringify(l)).join('\n');
    expect(t.logs.length).toBeGreaterThan(10);
    for (const token of [...Object.values(bank.keys), unknown, 'garbage-token-xyz', ...issued]) {
      expect(text).not.toContain(token);
      // Nor the secret part alone.
      expect(text).not.toContain(token.slice(-43));
    }
    expect(text).not.toMatch(/bbk_[a-z0-9]{10}_[A-Za-z0-9_-]{43}/);
  });
});
