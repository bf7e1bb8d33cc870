import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GqlResult } from './helpers/graphql.js';
import { expectProblem, fieldsOf, makeLab, uid, type Lab, type SpecimenBody } from './helpers/inventory.js';
import { bearer, createTestApp, type TestApp } from './helpers/test-app.js';

// Issue 13, finding 6: input PostgreSQL cannot store is a 400 naming the field, never a 500. A NUL
// or a lone surrogate anywhere in a path, query or body (GraphQL variables and literals too),
// timestamps outside the years 1900 to 9999, and preanalytical times more than a day ahead.

let t: TestApp;
let lab: Lab;
let tube: SpecimenBody;
beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  tube = await lab.register({ type: 'plasma', quantity: 2 });
});
afterAll(() => t.close());

const specimen = (extra: Record<string, unknown>) => ({
  barcode: uid('S'),
  type: 'serum',
  quantity: 1,
  ...extra,
});

/** A refused request: 400 with the code, naming exactly `field`, and no row written. */
async function refused(send: () => ReturnType<Lab['post']>, field: string, code = 'VALIDATION_FAILED') {
  const before = await lab.counts();
  const problem = expectProblem(await send(), 400, code);
  expect(fieldsOf(problem)).toEqual([field]);
  expect(await lab.counts()).toEqual(before);
  return problem;
}

describe('text PostgreSQL cannot store', () => {
  it('refuses a NUL in a text field, naming it', async () => {
    const p = await refused(
      () => lab.post('/v1/specimens', specimen({ anatomicSite: 'arm\u0000' })),
      'body.anatomicSite',
    );
    expect(p.errors![0]!.message).toMatch(/NUL character/);
  });

  it('refuses a lone surrogate in a text field and in JSON stored as jsonb', async () => {
    const p = await refused(
      () => lab.post('/v1/specimens', specimen({ anatomicSite: 'a\ud800b' })),
      'body.anatomicSite',
    );
    expect(p.errors![0]!.message).toMatch(/lone UTF-16 surrogate/);
    await refused(
      () => lab.post('/v1/specimens', specimen({ externalIds: [{ system: 'LIS', value: 'x\udc00' }] })),
      'body.externalIds.0.value',
    );
    await refused(
      () => lab.post(`/v1/specimens/${tube.id}/receive`, { note: 'ok \ud83d\ude00 then \ud83d' }),
      'body.note',
    );
  });

  it('keeps well-formed text outside the Basic Multilingual Plane', async () => {
    const ok = await lab.post('/v1/specimens', specimen({ anatomicSite: 'left arm \ud83d\udc89' }));
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json<{ anatomicSite: string }>().anatomicSite).toBe('left arm 💉');
  });

  it('refuses a NUL in an object key, a query parameter and a path parameter', async () => {
    await refused(() => lab.post('/v1/specimens', specimen({ quality: { 'r\u0000in': 1 } })), 'body.quality');
    await refused(() => lab.get('/v1/specimens?status=%00'), 'querystring.status');
    await refused(() => lab.get('/v1/specimens/by-barcode/A%00B'), 'params.barcode');
  });

  it('refuses a NUL in free-text query and path parameters no schema pattern guards', async () => {
    await refused(() => lab.get('/v1/audit?entityType=%00', { role: 'admin' }), 'querystring.entityType');
    await refused(() => lab.get('/v1/audit?entityId=a%00b', { role: 'admin' }), 'querystring.entityId');
    const upsert = () =>
      t.app.inject({
        method: 'PUT',
        url: '/v1/specimens/by-external-id/LIS/A%00B',
        headers: bearer(lab.keys.integration),
        payload: specimen({}),
      });
    await refused(upsert, 'params.value');
  });

  it('refuses input nested deeper than 64 levels', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100; i++) deep = { a: deep };
    const p = await refused(
      () => lab.post('/v1/specimens', specimen({ quality: deep })),
      expect.any(String) as never,
    );
    expect(p.errors![0]!.message).toMatch(/deeper than 64/);
  });
});

describe('timestamps', () => {
  it('refuses a year before 1900, a time past 9999 in UTC and a date of year 0000 with 400 naming the field', async () => {
    await refused(
      () => lab.post('/v1/specimens', specimen({ collectedAt: '0000-06-01T00:00:00Z' })),
      'body.collectedAt',
    );
    await refused(
      () => lab.post('/v1/specimens', specimen({ receivedAt: '9999-12-31T23:00:00-05:00' })),
      'body.receivedAt',
    );
    // A year before 1900 is a typo ("0024" for "2024"); one before 0100 would not read back as written.
    for (const collectedAt of ['0001-06-01T00:00:00Z', '0024-03-04T05:06:07Z', '1899-12-31T23:59:59Z']) {
      await refused(() => lab.post('/v1/specimens', specimen({ collectedAt })), 'body.collectedAt');
    }
    const pending = await lab.register();
    await refused(
      () => lab.post(`/v1/specimens/${pending.id}/receive`, { occurredAt: '0001-01-01T00:00:00Z' }),
      'body.occurredAt',
    );
    await refused(
      () => lab.get('/v1/specimens?collectedFrom=0000-01-01T00:00:00Z'),
      'querystring.collectedFrom',
    );
    for (const signedOn of ['0000-01-01', '0024-05-06'])
      await refused(
        () =>
          lab.post('/v1/consents', {
            participantId: '01900000-0000-7000-8000-00000000abcd',
            documentVersion: 'v1',
            signedOn,
            obtainedBy: 'nurse',
            responses: {},
          }),
        'body.signedOn',
      );
  });

  it('refuses a collection time more than a day ahead (TIME_IN_FUTURE), and accepts one hours ahead', async () => {
    const inTwoDays = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const p = await refused(
      () => lab.post('/v1/specimens', specimen({ collectedAt: inTwoDays })),
      'collectedAt',
      'TIME_IN_FUTURE',
    );
    expect(p.detail).toContain(inTwoDays);
    const batch = await lab.post('/v1/specimens/batch', {
      specimens: [specimen({}), specimen({ frozenAt: inTwoDays })],
    });
    const rejected = expectProblem(batch, 422, 'BATCH_REJECTED');
    expect(rejected.errors).toEqual([
      expect.objectContaining({ field: 'specimens.1.frozenAt', code: 'TIME_IN_FUTURE' }),
    ]);
    const soon = await lab.post(
      '/v1/specimens',
      specimen({ collectedAt: new Date(Date.now() + 6 * 3_600_000).toISOString() }),
    );
    expect(soon.statusCode, soon.body).toBe(201);
  });

  it('refuses a reception, processing or freezing time before the collection, on registration, PATCH and upsert', async () => {
    const collectedAt = '2026-03-02T08:00:00Z';
    const p = await refused(
      () => lab.post('/v1/specimens', specimen({ collectedAt, receivedAt: '2020-01-01T00:00:00Z' })),
      'receivedAt',
      'TIME_BEFORE_COLLECTION',
    );
    expect(p.detail).toContain('before the collection');
    // Their order among themselves is free: centrifuged at the ward, received after.
    const ok = await lab.post(
      '/v1/specimens',
      specimen({ collectedAt, processedAt: '2026-03-02T08:30:00Z', receivedAt: '2026-03-02T10:00:00Z' }),
    );
    expect(ok.statusCode, ok.body).toBe(201);
    const tube = ok.json<SpecimenBody>();
    const before = await lab.counts();
    const patched = await lab.call(
      'PATCH',
      `/v1/specimens/${tube.id}`,
      { frozenAt: '2026-03-01T00:00:00Z' },
      { headers: { 'if-match': `W/"${tube.version}"` } },
    );
    expect(fieldsOf(expectProblem(patched, 400, 'TIME_BEFORE_COLLECTION'))).toEqual(['frozenAt']);
    const moved = await lab.call(
      'PATCH',
      `/v1/specimens/${tube.id}`,
      { collectedAt: '2026-03-02T09:00:00Z' },
      { headers: { 'if-match': `W/"${tube.version}"` } },
    );
    expect(fieldsOf(expectProblem(moved, 400, 'TIME_BEFORE_COLLECTION'))).toEqual(['processedAt']);
    const upsert = await t.app.inject({
      method: 'PUT',
      url: `/v1/specimens/by-external-id/LIS/${uid('T')}`,
      headers: bearer(lab.keys.integration),
      payload: specimen({ collectedAt, frozenAt: '2026-01-01T00:00:00Z' }),
    });
    expectProblem(upsert, 400, 'TIME_BEFORE_COLLECTION');
    expect(await lab.counts()).toEqual(before);
  });

  it('refuses a custody action dated more than a day ahead, changing nothing, and accepts one hours ahead', async () => {
    const pending = await lab.register();
    const inTwoDays = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const received = await lab.post(`/v1/specimens/${pending.id}/receive`, { occurredAt: inTwoDays });
    expect(fieldsOf(expectProblem(received, 400, 'TIME_IN_FUTURE'))).toEqual(['occurredAt']);
    const s = await lab.action(pending.id, 'receive');
    for (const [path, body] of [
      ['check-out', { occurredAt: inTwoDays }],
      ['consume', { quantity: 0.5, occurredAt: inTwoDays }],
    ] as const) {
      const res = await lab.post(`/v1/specimens/${s.id}/${path}`, body);
      expect(fieldsOf(expectProblem(res, 400, 'TIME_IN_FUTURE')), path).toEqual(['occurredAt']);
    }
    const after = (await lab.get(`/v1/specimens/${s.id}`)).json<{ version: number }>();
    expect(after.version).toBe(s.version);
    const soon = await lab.post(`/v1/specimens/${s.id}/consume`, {
      quantity: 0.5,
      occurredAt: new Date(Date.now() + 6 * 3_600_000).toISOString(),
    });
    expect(soon.statusCode, soon.body).toBe(200);
  });

  it('names the scan of a tray dated more than a day ahead', async () => {
    const [a, b] = [await lab.register(), await lab.register()];
    const res = await lab.post('/v1/scans', {
      scans: [
        { action: 'receive', barcode: a.barcode },
        {
          action: 'receive',
          barcode: b.barcode,
          occurredAt: new Date(Date.now() + 2 * 86_400_000).toISOString(),
        },
      ],
    });
    const problem = expectProblem(res, 422, 'BATCH_REJECTED');
    expect(problem.errors).toEqual([
      expect.objectContaining({ field: 'scans.1.occurredAt', code: 'TIME_IN_FUTURE' }),
    ]);
    const after = (await lab.get(`/v1/specimens/${a.id}`)).json<{ version: number }>();
    expect(after.version).toBe(a.version);
  });

  it('refuses an edit moving a preanalytical time more than a day ahead', async () => {
    const res = await lab.call(
      'PATCH',
      `/v1/specimens/${tube.id}`,
      { processedAt: new Date(Date.now() + 3 * 86_400_000).toISOString() },
      { headers: { 'if-match': `W/"${tube.version}"` } },
    );
    expect(fieldsOf(expectProblem(res, 400, 'TIME_IN_FUTURE'))).toEqual(['processedAt']);
  });
});

describe('GraphQL', () => {
  async function gql(query: string, variables?: Record<string, unknown>) {
    const res = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(lab.keys.manager),
      payload: { query, ...(variables ? { variables } : {}) },
    });
    expect(res.statusCode).toBe(200);
    return res.json<GqlResult>();
  }
  const register = 'mutation ($input: RegisterSpecimenInput!) { registerSpecimen(input: $input) { id } }';

  it('refuses a NUL or lone surrogate in variables, naming the variable', async () => {
    const before = await lab.counts();
    for (const anatomicSite of ['a\u0000', 'a\udfff']) {
      const body = await gql(register, { input: specimen({ anatomicSite }) });
      expect(body.errors![0]!.extensions.code).toBe('VALIDATION_FAILED');
      expect(body.errors![0]!.extensions.errors).toEqual([
        expect.objectContaining({ field: 'variables.input.anatomicSite' }),
      ]);
    }
    expect(await lab.counts()).toEqual(before);
  });

  it('refuses a NUL written as an escape in a string literal', async () => {
    const body = await gql(
      `mutation { registerSpecimen(input: { barcode: "${uid('G')}", type: serum, quantity: 1, anatomicSite: "a\\u0000" }) { id } }`,
    );
    expect(body.errors![0]!.extensions.code).toBe('VALIDATION_FAILED');
    expect(body.errors![0]!.message).toMatch(/^query: a string literal contains a NUL/);
  });

  it('refuses a DateTime outside the years 1900 to 9999', async () => {
    for (const collectedAt of ['0000-01-01T00:00:00Z', '0024-03-04T05:06:07Z']) {
      const body = await gql(register, { input: specimen({ collectedAt }) });
      expect(body.errors![0]!.extensions.code).toBe('VALIDATION_FAILED');
      expect(body.errors![0]!.message).toMatch(/years 1900 to 9999/);
    }
  });
});

describe('bodies that are not UTF-8', () => {
  const latin1 = (json: string) => Buffer.from(json, 'latin1');

  it('refuses a Latin-1 body over REST, FHIR and GraphQL instead of storing replacement characters', async () => {
    const before = await lab.counts();
    const rest = await t.app.inject({
      method: 'POST',
      url: '/v1/specimens',
      headers: { ...bearer(lab.keys.manager), 'content-type': 'application/json; charset=iso-8859-1' },
      payload: latin1(JSON.stringify(specimen({ anatomicSite: 'Müller arm' }))),
    });
    expect(rest.statusCode, rest.body).toBe(400);
    expect(expectProblem(rest, 400, 'MALFORMED_JSON').detail).toMatch(/UTF-8/);
    const fhirPut = await t.app.inject({
      method: 'PUT',
      url: `/fhir/R4/Specimen?identifier=${encodeURIComponent('urn:oid:1.2.3|LAT-1')}`,
      headers: { ...bearer(lab.keys.manager), 'content-type': 'application/fhir+json' },
      payload: latin1('{"resourceType":"Specimen","collection":{"bodySite":{"text":"Müller"}}}'),
    });
    expect(fhirPut.statusCode, fhirPut.body).toBe(400);
    expect(fhirPut.json()).toMatchObject({ resourceType: 'OperationOutcome' });
    expect(JSON.stringify(fhirPut.json())).toContain('MALFORMED_JSON');
    const gql = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { ...bearer(lab.keys.manager), 'content-type': 'application/json' },
      payload: latin1('{"query":"{ __typename }","variables":{"x":"Müller"}}'),
    });
    expect(gql.json<GqlResult>().errors![0]!.extensions.code).toBe('MALFORMED_JSON');
    expect(await lab.counts()).toEqual(before);
    // The same text in UTF-8 is stored as sent.
    const utf8 = await lab.post('/v1/specimens', specimen({ anatomicSite: 'Müller arm' }));
    expect(utf8.json<{ anatomicSite: string }>().anatomicSite).toBe('Müller arm');
  });

  it('names a __proto__ member as what is refused, not as invalid JSON', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/specimens',
      headers: { ...bearer(lab.keys.manager), 'content-type': 'application/json' },
      payload: '{"barcode":"X","__proto__":{"admin":true}}',
    });
    expect(expectProblem(res, 400, 'MALFORMED_JSON').detail).toMatch(/__proto__/);
  });
});
