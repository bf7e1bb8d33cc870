import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, makeLab, type Lab } from './helpers/inventory.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// GET /v1/specimens/{id}/custody is a keyset page by seq: an LIS follows `nextCursor` through a
// long chain and gets every event once, in order.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

interface CustodyPage {
  items: { seq: number; type: string }[];
  nextCursor: string | null;
}

describe('custody chain pages', () => {
  it('pages through a long chain with cursor and limit, every event once and in order', async () => {
    const tube = await lab.register();
    await lab.action(tube.id, 'receive');
    for (let i = 0; i < 10; i++) {
      await lab.action(tube.id, 'place-hold', { reason: 'QUARANTINE' });
      await lab.action(tube.id, 'release-hold', { reason: 'QUARANTINE' });
    }
    const whole = await lab.get(`/v1/specimens/${tube.id}/custody`, { role: 'technician' });
    expect(whole.statusCode, whole.body).toBe(200);
    const all = whole.json<CustodyPage>();
    expect(all.items.length).toBeGreaterThanOrEqual(22);
    expect(all.nextCursor).toBeNull();

    const seen: number[] = [];
    let pages = 0;
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=5&cursor=${encodeURIComponent(cursor)}` : '?limit=5';
      const res = await lab.get(`/v1/specimens/${tube.id}/custody${query}`, { role: 'technician' });
      expect(res.statusCode, res.body).toBe(200);
      const page = res.json<CustodyPage>();
      expect(page.items.length).toBeLessThanOrEqual(5);
      seen.push(...page.items.map((e) => e.seq));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(all.items.map((e) => e.seq));
    expect(pages).toBe(Math.ceil(all.items.length / 5));
  });

  it('answers 400 INVALID_CURSOR for a cursor it did not issue', async () => {
    const tube = await lab.register();
    expectProblem(
      await lab.get(`/v1/specimens/${tube.id}/custody?cursor=not-a-cursor`, { role: 'technician' }),
      400,
      'INVALID_CURSOR',
    );
  });

  it('documents cursor and limit in the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, { get: { parameters: { name: string; in: string }[] } }>;
    }>();
    const params = doc.paths['/v1/specimens/{id}/custody']!.get.parameters.filter((p) => p.in === 'query');
    expect(params.map((p) => p.name).sort()).toEqual(['cursor', 'limit']);
  });
});
