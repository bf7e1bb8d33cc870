import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphqlRequests } from './helpers/graphql.js';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// Protocols carry the disease area their collection serves (issue 10, point 2): set at creation
// (default other), changed under If-Match, shown by REST and GraphQL alike.

let t: TestApp;
let lab: Awaited<ReturnType<typeof makeInstitution>>;
let seq = 0;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeInstitution(t);
});
afterAll(() => t.close());

const create = (body: Record<string, unknown>) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/protocols',
    headers: bearer(lab.keys.manager),
    payload: { code: `DA-${++seq}`, title: 'Study', ethicsApprovalRef: 'EC-1', ...body },
  });

describe('protocol disease area', () => {
  it('defaults to other and keeps the area given', async () => {
    expect((await create({})).json()).toMatchObject({ diseaseArea: 'other' });
    expect((await create({ diseaseArea: 'neurological' })).json()).toMatchObject({
      diseaseArea: 'neurological',
    });
  });

  it('refuses an unknown area with 400 naming the field', async () => {
    const res = await create({ diseaseArea: 'cardiology' });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ errors: { field: string }[] }>().errors[0]!.field).toBe('body.diseaseArea');
  });

  it('changes the area under If-Match and refuses a stale version', async () => {
    const p = (await create({})).json<{ id: string }>();
    const patch = (ifMatch: string, body: Record<string, unknown>) =>
      t.app.inject({
        method: 'PATCH',
        url: `/v1/protocols/${p.id}`,
        headers: { ...bearer(lab.keys.manager), 'if-match': ifMatch },
        payload: body,
      });
    const res = await patch('W/"1"', { diseaseArea: 'tumour' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ diseaseArea: 'tumour', version: 2 });
    expect(res.headers.etag).toBe('W/"2"');
    expect((await patch('W/"1"', { diseaseArea: 'sensory' })).statusCode).toBe(412);
    expect((await patch('W/"2"', { code: 'NEW' })).statusCode).toBe(400);
    const technician = await t.app.inject({
      method: 'PATCH',
      url: `/v1/protocols/${p.id}`,
      headers: { ...bearer(lab.keys.technician), 'if-match': 'W/"2"' },
      payload: { diseaseArea: 'sensory' },
    });
    expect(technician.statusCode).toBe(403);
  });

  it('shows and updates the area over GraphQL', async () => {
    const { ok } = graphqlRequests(
      () => t,
      () => lab.keys.manager,
    );
    const created = await ok<{ createProtocol: { id: string; diseaseArea: string } }>(
      `mutation { createProtocol(input: { code: "DA-G", title: "T", ethicsApprovalRef: "E", diseaseArea: respiratory }) { id diseaseArea } }`,
    );
    expect(created.createProtocol.diseaseArea).toBe('respiratory');
    const updated = await ok<{ updateProtocol: { diseaseArea: string; version: number } }>(
      `mutation($id: ID!) { updateProtocol(id: $id, expectedVersion: 1, input: { diseaseArea: pan_vascular }) { diseaseArea version } }`,
      { id: created.createProtocol.id },
    );
    expect(updated.updateProtocol).toEqual({ diseaseArea: 'pan_vascular', version: 2 });
  });

  it('upserts by code with the area: other when created without one, kept when the body has none', async () => {
    const put = (code: string, body: Record<string, unknown>) =>
      t.app.inject({
        method: 'PUT',
        url: `/v1/protocols/by-code/${code}`,
        headers: bearer(lab.keys.manager),
        payload: { title: 'Study', ethicsApprovalRef: 'EC-1', ...body },
      });
    const created = await put('DA-UP-1', { diseaseArea: 'sensory' });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ diseaseArea: 'sensory', version: 1 });
    // a LIS that knows nothing of areas leaves the one a manager set
    const kept = await put('DA-UP-1', { title: 'Study, renamed' });
    expect(kept.json()).toMatchObject({ diseaseArea: 'sensory', title: 'Study, renamed', version: 2 });
    const moved = await put('DA-UP-1', { title: 'Study, renamed', diseaseArea: 'respiratory' });
    expect(moved.json()).toMatchObject({ diseaseArea: 'respiratory', version: 3 });
    expect((await put('DA-UP-2', {})).json()).toMatchObject({ diseaseArea: 'other' });
    const bad = await put('DA-UP-3', { diseaseArea: 'cardiology' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ errors: { field: string }[] }>().errors[0]!.field).toBe('body.diseaseArea');
    expect((await put('DA-UP-3', {})).statusCode).toBe(201);
  });

  it('upserts the area over GraphQL', async () => {
    const { ok } = graphqlRequests(
      () => t,
      () => lab.keys.manager,
    );
    const upsert = (input: string) =>
      ok<{ upsertProtocol: { created: boolean; protocol: { diseaseArea: string; version: number } } }>(
        `mutation { upsertProtocol(code: "DA-UPG", input: { ${input} }) { created protocol { diseaseArea version } } }`,
      );
    expect(
      (await upsert('title: "T", ethicsApprovalRef: "E", diseaseArea: neurological')).upsertProtocol,
    ).toEqual({ created: true, protocol: { diseaseArea: 'neurological', version: 1 } });
    expect((await upsert('title: "T", ethicsApprovalRef: "E", diseaseArea: tumour')).upsertProtocol).toEqual({
      created: false,
      protocol: { diseaseArea: 'tumour', version: 2 },
    });
  });
});
