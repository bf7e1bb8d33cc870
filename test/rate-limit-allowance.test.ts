import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { keyBudgets } from '../src/http/rate-limit.js';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// The per-key budget is spent from an allowance each process claims from Redis in chunks
// (src/http/rate-limit.ts): most requests cost no Redis call, and no key gets more than its budget,
// however its requests are spread over processes.

const BUDGET = 300; // a chunk of 3
let t: TestApp;
let redis: Redis;
beforeAll(async () => {
  t = await createTestApp({ env: { RATE_LIMIT_PER_KEY: String(BUDGET) } });
  redis = new Redis(t.config.REDIS_URL);
});
afterAll(async () => {
  redis.disconnect();
  await t.close();
});

async function apiKeyIdOf(token: string): Promise<string> {
  const res = await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(token) });
  expect(res.statusCode).toBe(200);
  return res
    .json<{ items: { id: string; prefix: string }[] }>()
    .items.find((k) => token.startsWith(`bbk_${k.prefix}_`))!.id;
}

describe('per-key rate limit spent from a claimed allowance', () => {
  it('counts a chunk in Redis for the first request and none for the next ones of the chunk', async () => {
    const { keys } = await makeInstitution(t, { roles: ['admin'] });
    const id = await apiKeyIdOf(keys.admin); // the first request: one chunk claimed
    const counter = `${t.config.QUEUE_PREFIX}:rate:key:${id}`;
    expect(await redis.get(counter)).toBe('3');
    const second = await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(keys.admin) });
    expect(second.statusCode).toBe(200);
    expect(second.headers['ratelimit-limit']).toBe(String(BUDGET));
    expect(second.headers['ratelimit-remaining']).toBe(String(BUDGET - 2));
    expect(Number(await redis.get(counter))).toBeLessThanOrEqual(6);
  });

  it('lets no key through more than its budget across two processes, then answers 429 RATE_LIMITED', async () => {
    const { keys } = await makeInstitution(t, { roles: ['technician'] });
    const second = await buildApp(t.c);
    try {
      let served = 0;
      let refused = 0;
      for (let i = 0; i < BUDGET + 10; i++) {
        const app = i % 2 ? second : t.app;
        const res = await app.inject({
          method: 'GET',
          url: '/v1/specimens?limit=1',
          headers: bearer(keys.technician),
        });
        if (res.statusCode === 200) served++;
        else {
          expect(res.statusCode).toBe(429);
          expect(res.json()).toMatchObject({ code: 'RATE_LIMITED', limit: BUDGET });
          expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
          expect(res.headers['ratelimit-remaining']).toBe('0');
          refused++;
        }
      }
      // Each process may be refused up to a chunk early, never let through more.
      expect(served).toBeLessThanOrEqual(BUDGET);
      expect(served).toBeGreaterThanOrEqual(BUDGET - 2 * 3);
      expect(refused).toBe(BUDGET + 10 - served);
    } finally {
      await second.close();
    }
  });

  it('serves a burst of waiters larger than a chunk grants while the budget lasts, and refuses the rest', async () => {
    const prefix = `${t.config.QUEUE_PREFIX}:burst:${Date.now()}`;
    const budgets = keyBudgets(redis, { prefix, perKey: 300, windowMs: 60_000 }); // a chunk of 3
    // 40 requests arrive before any claim answers: each claim grants 3, so most wait for later ones.
    const first = await Promise.all(Array.from({ length: 40 }, async () => budgets.take('key-a')));
    expect(first.every((v) => v?.allowed === true)).toBe(true);
    // The rest of the window's budget, and 20 more: exactly 300 served in all, then refusals.
    const rest = await Promise.all(Array.from({ length: 280 }, async () => budgets.take('key-a')));
    expect(rest.filter((v) => v?.allowed === true)).toHaveLength(260);
    const refused = rest.filter((v) => v?.allowed === false);
    expect(refused).toHaveLength(20);
    expect(Number(await redis.get(`${prefix}:rate:key:key-a`))).toBeGreaterThanOrEqual(300);
  });
});
