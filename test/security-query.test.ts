import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, makeLab, uid, type Lab } from './helpers/inventory.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// Issue 13, finding 9: query strings are as strict as bodies. An unknown parameter (a typo, a
// filter that does not exist) answers 400 naming it, instead of the whole unfiltered list.

let t: TestApp;
let lab: Lab;
beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  await lab.register();
});
afterAll(() => t.close());

const unknown = (field: string) => ({ field, message: 'unknown query parameter', code: 'unrecognized_keys' });

describe('unknown query parameters', () => {
  it('refuses a typo and a filter that does not exist, naming each', async () => {
    const typo = expectProblem(await lab.get('/v1/participants?participantID=P-1'), 400, 'VALIDATION_FAILED');
    expect(typo.errors).toEqual([unknown('querystring.participantID')]);
    const both = expectProblem(
      await lab.get('/v1/specimens?updatedSince=2024-01-01T00:00:00Z&limit=5&colour=red'),
      400,
      'VALIDATION_FAILED',
    );
    expect(both.errors).toEqual([unknown('querystring.updatedSince'), unknown('querystring.colour')]);
    expect(both.detail).toBe('querystring.updatedSince: unknown query parameter');
  });

  it('still answers the parameters a route declares', async () => {
    const res = await lab.get('/v1/specimens?limit=1');
    expect(res.statusCode, res.body).toBe(200);
  });

  it('refuses any parameter on a route that declares none, and changes nothing on a POST', async () => {
    const before = await lab.counts();
    const res = await lab.post('/v1/specimens?dryRun=true', {
      barcode: uid('S'),
      type: 'serum',
      quantity: 1,
    });
    expect(expectProblem(res, 400, 'VALIDATION_FAILED').errors).toEqual([unknown('querystring.dryRun')]);
    expect(await lab.counts()).toEqual(before);
  });

  it('holds for every GET operation of the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    const lenient: string[] = [];
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!('get' in ops)) continue;
      // Ids as a well-formed uuid; an import kind as a real one (its path parameter is an enum).
      const url =
        path.replace('{kind}', 'specimens').replace(/\{[^}]+\}/g, '01900000-0000-7000-8000-00000000abcd') +
        '?notAParameter=1';
      const res = await lab.get(url, { role: 'admin' });
      checked++;
      const fields =
        res.statusCode === 400 ? (res.json<{ errors?: { field: string }[] }>().errors ?? []) : [];
      if (!fields.some((f) => f.field === 'querystring.notAParameter')) {
        lenient.push(`GET ${path}: ${res.statusCode}`);
      }
    }
    expect(checked).toBeGreaterThan(15);
    expect(lenient).toEqual([]);
  });
});
