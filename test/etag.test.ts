import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLab, uid, type Lab } from './helpers/inventory.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// An integration script PATCHes what it just created or changed: every answer whose body is one
// versioned resource carries that resource's ETag, so no second read is needed for If-Match.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

function expectEtagOfBody(res: LightMyRequestResponse, status: number) {
  expect(res.statusCode, res.body).toBe(status);
  const { version } = res.json<{ version: number }>();
  expect(typeof version).toBe('number');
  expect(res.headers.etag).toBe(`W/"${version}"`);
  return res.json<{ id: string; version: number; barcode: string }>();
}

describe('ETag on every answer that is one versioned resource', () => {
  it('protocols, participants and consents: create and read', async () => {
    const protocol = expectEtagOfBody(
      await lab.post('/v1/protocols', {
        code: uid('ET'),
        title: 'ETag cohort',
        ethicsApprovalRef: 'EC-1',
        consentTiers: ['GENETIC_RESEARCH'],
      }),
      201,
    );
    expectEtagOfBody(await lab.get(`/v1/protocols/${protocol.id}`), 200);
    const participant = expectEtagOfBody(
      await lab.post('/v1/participants', {
        protocolId: protocol.id,
        protocolParticipantId: uid('P'),
        sex: 'female',
      }),
      201,
    );
    expectEtagOfBody(await lab.get(`/v1/participants/${participant.id}`), 200);
    const consent = expectEtagOfBody(
      await lab.post('/v1/consents', {
        participantId: participant.id,
        documentVersion: 'v1',
        signedOn: '2025-01-01',
        obtainedBy: 'nurse-1',
        responses: { GENETIC_RESEARCH: 'yes' },
      }),
      201,
    );
    expectEtagOfBody(await lab.get(`/v1/consents/${consent.id}`), 200);
  });

  it('containers: create and move', async () => {
    const { freezer } = await lab.freezerWithRack();
    const other = await lab.container({ kind: 'freezer', temperatureC: -80 });
    const rack = expectEtagOfBody(
      await lab.post('/v1/containers', {
        kind: 'rack',
        barcode: uid('RACK'),
        parentId: freezer.id,
        grid: { rows: 2, cols: 2 },
      }),
      201,
    );
    const moved = expectEtagOfBody(
      await lab.post(`/v1/containers/${rack.id}/move`, { parentId: other.id }),
      200,
    );
    expect(moved.version).toBeGreaterThan(rack.version);
  });

  it('specimens: register, actions and the scan lookup', async () => {
    const created = expectEtagOfBody(
      await lab.post('/v1/specimens', { barcode: uid('S'), type: 'whole_blood', quantity: 5 }),
      201,
    );
    const received = expectEtagOfBody(await lab.post(`/v1/specimens/${created.id}/receive`, {}), 200);
    expect(received.version).toBe(created.version + 1);
    const held = expectEtagOfBody(
      await lab.post(`/v1/specimens/${created.id}/place-hold`, { reason: 'QUARANTINE' }),
      200,
    );
    const scanned = expectEtagOfBody(
      await lab.get(`/v1/specimens/by-barcode/${encodeURIComponent(created.barcode)}`, {
        role: 'technician',
      }),
      200,
    );
    expect(scanned.version).toBe(held.version);
    // The ETag just received is good for the next PATCH.
    const patched = await lab.call(
      'PATCH',
      `/v1/specimens/${created.id}`,
      { anatomicSite: 'C42.0' },
      {
        headers: { 'if-match': `W/"${scanned.version}"` },
      },
    );
    expectEtagOfBody(patched, 200);
  });

  it('a replayed create carries the ETag of its stored answer', async () => {
    const headers = { 'idempotency-key': uid('K') };
    const payload = { barcode: uid('S'), type: 'whole_blood', quantity: 5 };
    const first = expectEtagOfBody(await lab.post('/v1/specimens', payload, { headers }), 201);
    const again = await lab.post('/v1/specimens', payload, { headers });
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers.etag).toBe(`W/"${first.version}"`);
  });
});

describe('If-Match: * under concurrent edits', () => {
  it('resolves to the version each institution edit replaces, so all of them apply', async () => {
    const url = `/v1/institutions/${lab.institution.id}`;
    const edits = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        lab.call('PATCH', url, { name: `Lab edit ${i}` }, { role: 'admin', headers: { 'if-match': '*' } }),
      ),
    );
    expect(edits.map((e) => e.statusCode)).toEqual(Array<number>(8).fill(200));
    const versions = new Set(edits.map((e) => e.json<{ version: number }>().version));
    expect(versions.size).toBe(8);
  });
});

describe('If-Match on a specimen action', () => {
  it('is optional, and when sent holds: a stale version is 412 and changes nothing', async () => {
    const box = await lab.box({ rows: 2, cols: 2 });
    const s = await lab.register({ containerId: box.id, position: 'A1' });
    const stale = await lab.post(
      `/v1/specimens/${s.id}/check-out`,
      {},
      { headers: { 'if-match': 'W/"99"' } },
    );
    expect(stale.statusCode, stale.body).toBe(412);
    expect(stale.json()).toMatchObject({ code: 'VERSION_CONFLICT', currentVersion: s.version });
    const fresh = await lab.post(
      `/v1/specimens/${s.id}/check-out`,
      {},
      { headers: { 'if-match': `W/"${s.version}"` } },
    );
    expect(fresh.statusCode, fresh.body).toBe(200);
    expect(fresh.headers.etag).toBe(`W/"${s.version + 1}"`);
    const without = await lab.post(`/v1/specimens/${fresh.json<{ id: string }>().id}/check-in`, {});
    expect(without.statusCode, without.body).toBe(200);
  });
});
