import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, makeLab, uid, type Lab } from './helpers/inventory.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { putAs } from './helpers/upsert.js';

// `If-Match: *` (RFC 9110 13.1.1) matches whatever version is current and fails only where nothing
// exists yet: a script that means "overwrite what is there" need not read the ETag first.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

const any = { headers: { 'if-match': '*' } };

describe('If-Match: *', () => {
  it('updates a specimen at whatever version it is, and moves the version', async () => {
    const s = await lab.register();
    await lab.action(s.id, 'receive');
    const res = await lab.call('PATCH', `/v1/specimens/${s.id}`, { anatomicSite: 'C42.0' }, any);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ version: number }>().version).toBe(s.version + 2);
    expect(res.headers.etag).toBe(`W/"${s.version + 2}"`);
    // A number still has to be the current one.
    const stale = await lab.call(
      'PATCH',
      `/v1/specimens/${s.id}`,
      { anatomicSite: 'C42.1' },
      { headers: { 'if-match': `W/"${s.version}"` } },
    );
    expectProblem(stale, 412, 'VERSION_CONFLICT');
  });

  it('updates containers, protocols and participants', async () => {
    const freezer = await lab.container({ kind: 'freezer', temperatureC: -80 });
    const c = await lab.call('PATCH', `/v1/containers/${freezer.id}`, { name: 'Freezer A' }, any);
    expect(c.statusCode, c.body).toBe(200);
    const protocol = (
      await lab.post('/v1/protocols', { code: uid('IM'), title: 'Star cohort', ethicsApprovalRef: 'EC-9' })
    ).json<{ id: string }>();
    const p = await lab.call('PATCH', `/v1/protocols/${protocol.id}`, { title: 'Renamed cohort' }, any);
    expect(p.statusCode, p.body).toBe(200);
    const participant = (
      await lab.post('/v1/participants', {
        protocolId: protocol.id,
        protocolParticipantId: uid('P'),
        sex: 'female',
      })
    ).json<{ id: string }>();
    const q = await lab.call('PATCH', `/v1/participants/${participant.id}`, { birthYear: 1970 }, any);
    expect(q.statusCode, q.body).toBe(200);
    expect(q.json<{ version: number }>().version).toBe(2);
  });

  it('upsert: matches an existing specimen, refuses 412 NO_CURRENT_VERSION where none exists', async () => {
    const put = putAs(t, lab.keys.integration);
    const url = `/v1/specimens/by-external-id/LIS/${uid('ACC')}`;
    const body = { barcode: uid('S'), type: 'serum', quantity: 2 };
    const missing = await put(url, body, { 'if-match': '*' });
    expectProblem(missing, 412, 'NO_CURRENT_VERSION');
    const { rows } = await t.sql.query('select 1 from specimen where barcode = $1', [body.barcode]);
    expect(rows).toHaveLength(0);
    expect((await put(url, body)).statusCode).toBe(201);
    const updated = await put(url, { ...body, anatomicSite: 'radial artery' }, { 'if-match': '*' });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.headers.etag).toBe('W/"2"');
  });

  it('an If-Match that is neither * nor an ETag we issued is still 412 VERSION_MISMATCH', async () => {
    const s = await lab.register();
    const res = await lab.call(
      'PATCH',
      `/v1/specimens/${s.id}`,
      { anatomicSite: 'C42.0' },
      { headers: { 'if-match': '**' } },
    );
    expectProblem(res, 412, 'VERSION_MISMATCH');
  });
});
