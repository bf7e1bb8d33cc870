import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// Issue 13, findings 3, 5 and 11 on the real app: the queue board belongs to the operator's admins
// and is read-only; rate limits per API key and per address for failed authentication, counted in
// Redis; security headers, no caching of API answers, and /metrics behind its token.

const METRICS_TOKEN = 'metrics-token-for-the-scraper';
let t: TestApp;
let operator: Awaited<ReturnType<typeof makeInstitution>>;
let bank: Awaited<ReturnType<typeof makeInstitution>>;
beforeAll(async () => {
  t = await createTestApp({
    env: { RATE_LIMIT_PER_KEY: '40', RATE_LIMIT_FAILED_AUTH: '5', METRICS_TOKEN },
  });
  operator = await makeInstitution(t, { operator: true, roles: ['admin', 'manager'] });
  bank = await makeInstitution(t);
});
afterAll(() => t.close());

describe('queue board (finding 3)', () => {
  it('refuses the admins of any other institution with 403 FORBIDDEN', async () => {
    for (const url of ['/admin/queues', '/admin/queues/api/queues']) {
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(bank.keys.admin) });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ code: 'FORBIDDEN' });
    }
    const manager = await t.app.inject({
      method: 'GET',
      url: '/admin/queues/api/queues',
      headers: bearer(operator.keys.manager),
    });
    expect(manager.statusCode).toBe(403);
  });

  it("shows the operator's admins every queue, read-only: pausing a queue is refused", async () => {
    const list = await t.app.inject({
      method: 'GET',
      url: '/admin/queues/api/queues',
      headers: bearer(operator.keys.admin),
    });
    expect(list.statusCode).toBe(200);
    const queues = list.json<{ queues: { name: string; readOnlyMode: boolean }[] }>().queues;
    expect(queues.length).toBeGreaterThan(0);
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
    const name = queues[0]!.name;
    const pause = await t.app.inject({
      method: 'PUT',
      url: `/admin/queues/api/queues/${encodeURIComponent(name)}/pause`,
      headers: bearer(operator.keys.admin),
    });
    expect(pause.statusCode).toBeGreaterThanOrEqual(400);
    const queue = t.c.queues.all().find((q) => q.name === name)!;
    expect(await queue.isPaused()).toBe(false);
  });
});

describe('security headers (finding 11)', () => {
  it('answers API data with no-store, nosniff, no referrer, no framing and a CSP that allows nothing', async () => {
    const v1 = await t.app.inject({
      method: 'GET',
      url: '/v1/institutions',
      headers: bearer(bank.keys.admin),
    });
    const gql = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(bank.keys.admin),
      payload: { query: '{ viewer { role } }' },
    });
    const fhir = await t.app.inject({
      method: 'GET',
      url: '/fhir/R4/metadata',
      headers: bearer(bank.keys.admin),
    });
    for (const res of [v1, gql, fhir]) {
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    }
    // Refusals too: a 401 carries no donor data, but nothing on these paths is cached.
    const refused = await t.app.inject({ method: 'GET', url: '/v1/specimens' });
    expect(refused.headers['cache-control']).toBe('no-store');
  });

  it("sends helmet's API profile on answers and pages alike: HSTS, same-origin, no framing", async () => {
    const answer = await t.app.inject({
      method: 'GET',
      url: '/v1/specimens/by-barcode/NO-SUCH-TUBE',
      headers: bearer(bank.keys.admin),
    });
    const page = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(answer.statusCode).toBe(404);
    expect(page.statusCode).toBe(200);
    for (const res of [answer, page]) {
      expect(res.headers).toMatchObject({
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-resource-policy': 'same-origin',
        'origin-agent-cluster': '?1',
        'referrer-policy': 'no-referrer',
        'strict-transport-security': 'max-age=31536000; includeSubDomains',
        'x-content-type-options': 'nosniff',
        'x-dns-prefetch-control': 'off',
        'x-download-options': 'noopen',
        'x-frame-options': 'DENY',
        'x-permitted-cross-domain-policies': 'none',
        'x-xss-protection': '0',
      });
    }
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(page.headers['cache-control']).not.toBe('no-store');
  });

  it('keeps the docs and GraphiQL pages working: no CSP of the API on them', async () => {
    for (const url of ['/docs/', '/graphiql']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      // Not the API's deny-all policy: the docs have none, GraphiQL its page's own (scripts and
      // styles from this origin only).
      const policy = String(res.headers['content-security-policy'] ?? '');
      expect(policy).not.toBe("default-src 'none'; frame-ancestors 'none'");
      if (url === '/graphiql') expect(policy).toContain("script-src 'self'");
      else expect(policy).not.toContain("default-src 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('answers /metrics only with METRICS_TOKEN', async () => {
    const none = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(none.statusCode).toBe(401);
    expect(none.headers['content-type']).toMatch(/^application\/problem\+json/);
    const wrong = await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer('not-the-token') });
    expect(wrong.statusCode).toBe(401);
    const key = await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer(bank.keys.admin) });
    expect(key.statusCode).toBe(401);
    const ok = await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer(METRICS_TOKEN) });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('biobank_db_pool_connections');
  });

  it('has no /metrics at all when no token is configured', async () => {
    const other = await createTestApp();
    try {
      const res = await other.app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
    } finally {
      await other.close();
    }
  });
});

describe('rate limits (finding 5)', () => {
  it('counts every request of a key, across two app instances sharing Redis, then answers 429 problem+json', async () => {
    const { keys } = await makeInstitution(t, { roles: ['technician'] });
    // A second application over the same container: another process as far as Redis can tell.
    const second = await buildApp(t.c);
    try {
      const remaining: number[] = [];
      for (let i = 0; i < 40; i++) {
        const app = i % 2 ? second : t.app;
        const res = await app.inject({
          method: 'GET',
          url: '/v1/specimens?limit=1',
          headers: bearer(keys.technician),
        });
        expect(res.statusCode).toBe(200);
        expect(res.headers['ratelimit-limit']).toBe('40');
        remaining.push(Number(res.headers['ratelimit-remaining']));
      }
      expect(remaining[0]).toBe(39);
      expect(remaining.at(-1)).toBe(0);
      const refused = await second.inject({
        method: 'GET',
        url: '/v1/specimens',
        headers: bearer(keys.technician),
      });
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused.headers['ratelimit-remaining']).toBe('0');
      expect(refused.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED', limit: 40 });
      // GraphQL is the same budget, answered as a coded GraphQL error with the HTTP status.
      const gql = await t.app.inject({
        method: 'POST',
        url: '/graphql',
        headers: bearer(keys.technician),
        payload: { query: '{ viewer { role } }' },
      });
      expect(gql.statusCode).toBe(429);
      expect(gql.headers['retry-after']).toBeDefined();
      // Another key of the same institution has its own budget.
      const other = await t.app.inject({
        method: 'GET',
        url: '/v1/specimens?limit=1',
        headers: bearer(bank.keys.technician),
      });
      expect(other.statusCode).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('counts a rack scan (a batch) as one request', async () => {
    const { keys } = await makeInstitution(t, { roles: ['technician'] });
    const first = await t.app.inject({
      method: 'GET',
      url: '/v1/specimens?limit=1',
      headers: bearer(keys.technician),
    });
    const scan = await t.app.inject({
      method: 'POST',
      url: '/v1/scans',
      headers: bearer(keys.technician),
      payload: { scans: Array.from({ length: 96 }, (_, i) => ({ action: 'check_in', barcode: `NOPE${i}` })) },
    });
    expect(scan.statusCode).toBe(422);
    expect(Number(first.headers['ratelimit-remaining']) - Number(scan.headers['ratelimit-remaining'])).toBe(
      1,
    );
  });

  it('refuses a client address after failed authentications, without a database query per unknown token', async () => {
    const ip = '203.0.113.7';
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const token = `bbk_${'abcdefghij'}_${String(i).padStart(43, 'x')}`;
      const res = await t.app.inject({
        method: 'GET',
        url: '/v1/specimens',
        remoteAddress: ip,
        headers: bearer(token),
      });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) {
        expect(res.json()).toMatchObject({ code: 'RATE_LIMITED', limit: 5 });
        expect(res.headers['retry-after']).toBeDefined();
        expect(res.headers['ratelimit-limit']).toBe('5');
      }
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    // Any token not verified already is refused from that address until the window passes, before
    // it is looked up; another address is not.
    const blocked = await t.app.inject({
      method: 'GET',
      url: '/v1/specimens?limit=1',
      remoteAddress: ip,
      headers: bearer(`bbk_abcdefghij_${'y'.repeat(43)}`),
    });
    expect(blocked.statusCode).toBe(429);
    const elsewhere = await t.app.inject({
      method: 'GET',
      url: '/v1/specimens?limit=1',
      remoteAddress: '203.0.113.8',
      headers: bearer(bank.keys.manager),
    });
    expect(elsewhere.statusCode).toBe(200);
  });

  it('looks an unknown token up once: the same unknown token again costs no query', async () => {
    const token = `bbk_zzzzzzzzzz_${'q'.repeat(43)}`;
    const queries: string[] = [];
    const pool = t.c.database.pool;
    const original = pool.query.bind(pool);
    (pool as { query: unknown }).query = (...args: Parameters<typeof original>) => {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text: string }).text;
      queries.push(text);
      return original(...args);
    };
    try {
      for (let i = 0; i < 3; i++) {
        const res = await t.app.inject({
          method: 'GET',
          url: '/v1/specimens',
          remoteAddress: '198.51.100.9',
          headers: bearer(token),
        });
        expect(res.statusCode).toBe(401);
      }
    } finally {
      (pool as { query: unknown }).query = original;
    }
    expect(queries.filter((q) => q.includes('"api_key"'))).toHaveLength(1);
  });

  it('counts failures by the address X-Forwarded-For gives when TRUST_PROXY names the proxy', async () => {
    const proxied = await createTestApp({
      env: { RATE_LIMIT_FAILED_AUTH: '2', TRUST_PROXY: '127.0.0.1' },
    });
    try {
      const attempt = (client: string, i: number) =>
        proxied.app.inject({
          method: 'GET',
          url: '/v1/specimens',
          remoteAddress: '127.0.0.1',
          headers: { ...bearer(`bbk_pppppppppp_${String(i).padStart(43, 'p')}`), 'x-forwarded-for': client },
        });
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await attempt('198.51.100.20', i)).statusCode);
      expect(statuses).toEqual([401, 401, 429]);
      // Another client behind the same proxy keeps its own budget.
      expect((await attempt('198.51.100.21', 9)).statusCode).toBe(401);
    } finally {
      await proxied.close();
    }
  });
});
