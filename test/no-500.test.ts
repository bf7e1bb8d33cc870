import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// A 500 is a bug: every REST operation of the OpenAPI document answers malformed or hostile input
// with a 4xx (or a 2xx where the input happens to be acceptable), for every role.

let t: TestApp;
let keys: Awaited<ReturnType<typeof makeInstitution>>['keys'];

beforeAll(async () => {
  // Each key sends a few thousand requests: the limiter would answer most of them with 429
  // before any handler saw the input this file is about.
  t = await createTestApp({ env: { RATE_LIMIT_PER_KEY: '0' } });
  keys = (await makeInstitution(t, { operator: true })).keys;
});
afterAll(() => t.close());

const PARAM_VALUES = ['00000000-0000-7000-8000-000000000000', 'not-a-uuid', '%00', 'x'.repeat(300)];
const BODIES: unknown[] = [
  undefined,
  {},
  [],
  'text',
  42,
  null,
  { quantity: -1, containerId: 'nope', position: 'ZZ99', barcode: '', occurredAt: '2024-13-45T99:00:00Z' },
  { specimens: [{}], scans: [{}], readings: [{}], aliquots: [{}], derivatives: [{}], barcodes: [''] },
  { __proto__: { polluted: true }, constructor: { prototype: { x: 1 } } },
];

describe('no request answers 5xx', () => {
  it('answers malformed input to every REST operation with a status below 500', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    const failures: string[] = [];
    let calls = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        for (const value of PARAM_VALUES) {
          const url =
            path.replace(/\{[^}]+\}/g, encodeURIComponent(value)) +
            '?limit=abc&cursor=%%%&count=-5&version=9.9';
          for (const body of method === 'get' ? [undefined] : BODIES) {
            for (const role of ['admin', 'technician', 'partner'] as const) {
              const res = await t.app.inject({
                method: method.toUpperCase() as 'GET',
                url,
                headers: { ...bearer(keys[role]), 'if-match': 'W/"1"', 'idempotency-key': `k-${calls}` },
                ...(body === undefined
                  ? {}
                  : {
                      payload: JSON.stringify(body),
                      headers: {
                        ...bearer(keys[role]),
                        'content-type': 'application/json',
                        'if-match': 'W/"1"',
                      },
                    }),
              });
              calls++;
              if (res.statusCode >= 500)
                failures.push(
                  `${method.toUpperCase()} ${url} ${JSON.stringify(body)} as ${role}: ${res.statusCode} ${res.body.slice(0, 200)}`,
                );
            }
          }
        }
      }
    }
    expect(calls).toBeGreaterThan(1000);
    expect(failures).toEqual([]);
  }, 120_000);
});
