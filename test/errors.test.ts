import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, json, makeInstitution, type TestApp } from './helpers/test-app.js';

// The error model (STYLE.md rules 11-12): every refusal is RFC 9457 problem+json with a stable
// code and the request id, says nothing about the implementation, and changes nothing.

let t: TestApp;
let operator: Awaited<ReturnType<typeof makeInstitution>>;
beforeAll(async () => {
  // A small body limit, so an oversize body is cheap to send.
  t = await createTestApp({ env: { BODY_LIMIT_BYTES: '2048' } });
  operator = await makeInstitution(t, { operator: true, roles: ['admin'] });
});
afterAll(() => t.close());

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  errors?: { field: string; message: string; code?: string }[];
}

/** Row counts of every table a bad request could have touched. */
async function snapshot(): Promise<Record<string, number>> {
  const tables = ['institution', 'api_key', 'audit_log', 'outbox', 'idempotency_key'];
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const { rows } = await t.sql.query<{ n: number }>(`select count(*)::int as n from ${table}`);
    counts[table] = rows[0]!.n;
  }
  const versions = await t.sql.query<{ v: string }>(
    "select string_agg(id::text || ':' || version || ':' || name, ',' order by id) as v from institution",
  );
  counts[`institutions@${versions.rows[0]?.v ?? ''}`] = 1;
  return counts;
}

/** Asserts the problem shape and that the body leaks no stack trace or SQL. */
function expectProblem(res: LightMyRequestResponse, status: number, code: string): Problem {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = json<Problem>(res);
  expect(body).toMatchObject({ status, code });
  expect(body.type).toMatch(/^https:\/\/biobank\.dev\/problems\/[a-z-]+$/);
  expect(typeof body.title).toBe('string');
  expect(body.title.length).toBeGreaterThan(0);
  expect(typeof body.detail).toBe('string');
  expect(body.requestId).toBe(res.headers['x-request-id']);
  expectNoInternals(res.body);
  return body;
}

function expectNoInternals(text: string) {
  expect(text).not.toMatch(/\n\s+at /); // stack frames
  expect(text).not.toMatch(/\.(ts|js):\d+/); // source positions
  expect(text).not.toMatch(/node_modules/);
  expect(text).not.toMatch(/\b(select|insert into|update|delete from)\b.*\b(from|set|values|where)\b/i);
  expect(text).not.toMatch(/duplicate key value|violates|constraint|relation "/i);
  expect(text).not.toMatch(/FST_ERR|ZodError/);
}

const headers = () => ({ ...bearer(operator.keys.admin), 'content-type': 'application/json' });

describe('bad requests answer problem+json and change nothing', () => {
  it('answers malformed JSON with 400 MALFORMED_JSON', async () => {
    const before = await snapshot();
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/institutions',
      headers: headers(),
      payload: '{"code": "BAD1", "name": ',
    });
    const body = expectProblem(res, 400, 'MALFORMED_JSON');
    expect(body.title).toBe('Bad request');
    expect(await snapshot()).toEqual(before);
  });

  it('answers wrong field types with 400 VALIDATION_FAILED naming each field', async () => {
    const before = await snapshot();
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/institutions',
      headers: headers(),
      payload: JSON.stringify({ code: 42, name: 'Wrong types', kind: 'castle' }),
    });
    const body = expectProblem(res, 400, 'VALIDATION_FAILED');
    const fields = (body.errors ?? []).map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['body.code', 'body.kind']));
    for (const e of body.errors ?? []) expect(e.message.length).toBeGreaterThan(0);
    expect(body.detail).toMatch(/^body\.(code|kind): /);
    expect(await snapshot()).toEqual(before);
  });

  it('answers a POST sent with no body at all with 400 VALIDATION_FAILED saying a body is required', async () => {
    const before = await snapshot();
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/institutions',
      headers: bearer(operator.keys.admin),
    });
    const body = expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(body.errors).toEqual([
      expect.objectContaining({
        field: 'body',
        message: 'a JSON body is required (send {} when there is nothing to give)',
      }),
    ]);
    expect(await snapshot()).toEqual(before);
  });

  it('answers a bad path parameter with 400 VALIDATION_FAILED naming params.id', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/institutions/not-a-uuid', headers: headers() });
    const body = expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(body.errors?.[0]?.field).toBe('params.id');
  });

  it('answers a body over BODY_LIMIT_BYTES with 413 PAYLOAD_TOO_LARGE', async () => {
    const before = await snapshot();
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/institutions',
      headers: headers(),
      payload: JSON.stringify({ code: 'BIG1', name: 'x'.repeat(4000), kind: 'biobank' }),
    });
    expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
    expect(await snapshot()).toEqual(before);
  });

  it.each(['application/xml', 'text/plain', 'application/x-www-form-urlencoded'])(
    'answers a %s body with 415 UNSUPPORTED_MEDIA_TYPE',
    async (contentType) => {
      const before = await snapshot();
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/institutions',
        headers: { ...bearer(operator.keys.admin), 'content-type': contentType },
        payload: 'code=MEDIA1&name=Media&kind=biobank',
      });
      expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(await snapshot()).toEqual(before);
    },
  );

  it('answers an unknown route with 404 ROUTE_NOT_FOUND, with or without a key', async () => {
    const anonymous = await t.app.inject({ method: 'GET', url: '/v1/freezers?x=1' });
    const body = expectProblem(anonymous, 404, 'ROUTE_NOT_FOUND');
    expect(body.detail).toBe('no route GET /v1/freezers');
    const keyed = await t.app.inject({
      method: 'DELETE',
      url: '/v1/institutions',
      headers: bearer(operator.keys.admin),
    });
    expectProblem(keyed, 404, 'ROUTE_NOT_FOUND');
  });

  it('answers a duplicate institution code with 409 INSTITUTION_CODE_TAKEN quoting the code', async () => {
    const first = await t.app.inject({
      method: 'POST',
      url: '/v1/institutions',
      headers: headers(),
      payload: JSON.stringify({ code: 'DUP-1', name: 'First', kind: 'hospital' }),
    });
    expect(first.statusCode).toBe(201);
    const before = await snapshot();
    const second = await t.app.inject({
      method: 'POST',
      url: '/v1/institutions',
      headers: headers(),
      payload: JSON.stringify({ code: 'DUP-1', name: 'Second', kind: 'partner' }),
    });
    const body = expectProblem(second, 409, 'INSTITUTION_CODE_TAKEN');
    expect(body.detail).toContain('DUP-1');
    expect(await snapshot()).toEqual(before);
    const { rows } = await t.sql.query('select name from institution where code = $1', ['DUP-1']);
    expect(rows).toEqual([{ name: 'First' }]);
  });

  it('keeps the 409 when two creations race past the service check (the unique index decides)', async () => {
    const results = await Promise.all(
      [1, 2, 3].map((n) =>
        t.app.inject({
          method: 'POST',
          url: '/v1/institutions',
          headers: headers(),
          payload: JSON.stringify({ code: 'RACE-1', name: `Racer ${n}`, kind: 'hospital' }),
        }),
      ),
    );
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 409, 409]);
    for (const res of results.filter((r) => r.statusCode === 409)) {
      expect(expectProblem(res, 409, 'INSTITUTION_CODE_TAKEN').detail).toContain('RACE-1');
    }
    const { rows } = await t.sql.query('select count(*)::int as n from institution where code = $1', [
      'RACE-1',
    ]);
    expect(rows[0]).toEqual({ n: 1 });
  });
});

describe('If-Match on updates', () => {
  async function freshInstitution() {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/institutions',
      headers: headers(),
      payload: JSON.stringify({
        code: `IFM-${Math.random().toString(36).slice(2, 8).toUpperCase()}`,
        name: 'Before',
        kind: 'biobank',
      }),
    });
    expect(created.statusCode).toBe(201);
    return json<{ id: string; code: string; version: number }>(created);
  }

  it('answers a PATCH without If-Match with 428 and changes nothing', async () => {
    const inst = await makeInstitution(t, { roles: ['admin'] });
    const before = await snapshot();
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/v1/institutions/${inst.institution.id}`,
      headers: { ...bearer(inst.keys.admin), 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'No precondition' }),
    });
    expectProblem(res, 428, 'IF_MATCH_REQUIRED');
    expect(await snapshot()).toEqual(before);
  });

  it('answers a stale If-Match with 412 VERSION_CONFLICT and keeps the newer write', async () => {
    const inst = await makeInstitution(t, { roles: ['admin'] });
    const url = `/v1/institutions/${inst.institution.id}`;
    const h = { ...bearer(inst.keys.admin), 'content-type': 'application/json' };
    const first = await t.app.inject({
      method: 'PATCH',
      url,
      headers: { ...h, 'if-match': 'W/"1"' },
      payload: JSON.stringify({ name: 'First writer' }),
    });
    expect(first.statusCode).toBe(200);
    const before = await snapshot();
    const stale = await t.app.inject({
      method: 'PATCH',
      url,
      headers: { ...h, 'if-match': 'W/"1"' },
      payload: JSON.stringify({ name: 'Second writer' }),
    });
    const body = expectProblem(stale, 412, 'VERSION_CONFLICT');
    expect(body).toMatchObject({ currentVersion: 2 });
    expect(await snapshot()).toEqual(before);
    const { rows } = await t.sql.query('select name, version from institution where id = $1', [
      inst.institution.id,
    ]);
    expect(rows).toEqual([{ name: 'First writer', version: 2 }]);
  });

  it('answers an If-Match this service never issued with 412', async () => {
    const inst = await makeInstitution(t, { roles: ['admin'] });
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/v1/institutions/${inst.institution.id}`,
      headers: { ...bearer(inst.keys.admin), 'content-type': 'application/json', 'if-match': '"abc"' },
      payload: JSON.stringify({ name: 'Whatever' }),
    });
    expectProblem(res, 412, 'VERSION_MISMATCH');
  });

  it('applies a PATCH with the current ETag, answers 200 with the next ETag and audits it', async () => {
    const inst = await makeInstitution(t, { roles: ['admin'] });
    const url = `/v1/institutions/${inst.institution.id}`;
    const read = await t.app.inject({ method: 'GET', url, headers: bearer(inst.keys.admin) });
    expect(read.headers.etag).toBe('W/"1"');
    const res = await t.app.inject({
      method: 'PATCH',
      url,
      headers: {
        ...bearer(inst.keys.admin),
        'content-type': 'application/json',
        'if-match': String(read.headers.etag),
      },
      payload: JSON.stringify({ name: 'Renamed' }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers.etag).toBe('W/"2"');
    expect(json(res)).toMatchObject({ name: 'Renamed', version: 2 });
    const { rows } = await t.sql.query(
      "select action, before->>'name' as before, after->>'name' as after from audit_log where entity_id = $1 and action = 'updateInstitution'",
      [inst.institution.id],
    );
    expect(rows).toEqual([{ action: 'updateInstitution', before: inst.institution.name, after: 'Renamed' }]);
  });

  it('lets the operator create an institution that then answers GET with ETag W/"1"', async () => {
    const inst = await freshInstitution();
    expect(inst.version).toBe(1);
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/institutions/${inst.id}`,
      headers: bearer(operator.keys.admin),
    });
    expect(res.headers.etag).toBe('W/"1"');
  });
});
