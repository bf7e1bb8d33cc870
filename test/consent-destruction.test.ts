import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, makeInstitution, systemCtx, type TestApp } from './helpers/test-app.js';

let t: TestApp;
let keys: Awaited<ReturnType<typeof makeInstitution>>['keys'];
let boxId: string;
let protocolId: string;

const post = (token: string, url: string, payload: unknown) =>
  t.app.inject({ method: 'POST', url, headers: bearer(token), payload: payload as object });
const get = (token: string, url: string) => t.app.inject({ method: 'GET', url, headers: bearer(token) });

let seq = 0;

/** A consenting donor with `n` tubes in the bulk box. */
async function donorWithTubes(n: number) {
  const p = await post(keys.manager, '/v1/participants', {
    protocolId,
    protocolParticipantId: `DX-${++seq}`,
  });
  expect(p.statusCode).toBe(201);
  const participantId = p.json<{ id: string }>().id;
  const c = await post(keys.manager, '/v1/consents', {
    participantId,
    documentVersion: 'v1',
    signedOn: '2024-01-10',
    obtainedBy: 'nurse-7',
    responses: { GENETIC_RESEARCH: 'yes' },
  });
  expect(c.statusCode).toBe(201);
  const tubes: { id: string; barcode: string }[] = [];
  for (let i = 0; i < n; i++) {
    const r = await post(keys.technician, '/v1/specimens', {
      barcode: `DX${Date.now()}${++seq}`,
      type: 'serum',
      quantity: 2,
      participantId,
      containerId: boxId,
    });
    expect(r.statusCode).toBe(201);
    tubes.push(r.json<{ id: string; barcode: string }>());
  }
  return { consentId: c.json<{ id: string }>().id, tubes };
}

/** Withdraws with the destroy scope and runs the cascade here (no worker), so the tubes are listed. */
async function withdrawForDestruction(consentId: string) {
  const w = await post(keys.manager, `/v1/consents/${consentId}/withdraw`, { scope: 'destroy_specimens' });
  expect(w.statusCode).toBe(202);
  const cascade = await t.c.services.consent.runCascade(
    systemCtx(t.c),
    w.json<{ cascade: { id: string } }>().cascade.id,
  );
  expect(cascade.status).toBe('completed');
}

async function statusOf(id: string) {
  const r = await t.sql.query<{ status: string }>('select status from specimen where id = $1', [id]);
  return r.rows[0]!.status;
}

async function custodyEvents(ids: string[]) {
  const r = await t.sql.query<{ n: number }>(
    'select count(*)::int as n from custody_event where specimen_id = any($1::uuid[])',
    [ids],
  );
  return r.rows[0]!.n;
}

async function destroyedEvents(id: string) {
  const r = await t.sql.query<{ n: number }>(
    `select count(*)::int as n from custody_event where specimen_id = $1 and type = 'destroyed'`,
    [id],
  );
  return r.rows[0]!.n;
}

async function destructionAudits(ids: string[]) {
  const r = await t.sql.query<{ n: number }>(
    `select count(*)::int as n from audit_log where action = 'confirmDestruction' and entity_id = any($1::text[])`,
    [ids],
  );
  return r.rows[0]!.n;
}

async function listedIds() {
  const list = await get(keys.technician, '/v1/destruction-list');
  expect(list.statusCode).toBe(200);
  return list.json<{ items: { specimen: { id: string } }[] }>().items.map((i) => i.specimen.id);
}

beforeAll(async () => {
  t = await createTestApp();
  keys = (await makeInstitution(t)).keys;
  const freezer = await post(keys.manager, '/v1/containers', {
    kind: 'freezer',
    barcode: `DFZ-${Date.now()}`,
    temperatureC: -80,
  });
  expect(freezer.statusCode).toBe(201);
  const box = await post(keys.manager, '/v1/containers', {
    kind: 'box',
    barcode: `DBULK-${Date.now()}`,
    parentId: freezer.json<{ id: string }>().id,
  });
  expect(box.statusCode).toBe(201);
  boxId = box.json<{ id: string }>().id;
  const proto = await post(keys.manager, '/v1/protocols', {
    code: 'DESTR-1',
    title: 'Destruction cohort',
    ethicsApprovalRef: 'EC-2024-002',
    consentTiers: ['GENETIC_RESEARCH'],
  });
  expect(proto.statusCode).toBe(201);
  protocolId = proto.json<{ id: string }>().id;
});
afterAll(() => t.close());

describe('destruction list', () => {
  it('refuses to destroy a missing tube with 422 BATCH_REJECTED and destroys nothing, then confirms the rest', async () => {
    const { consentId, tubes } = await donorWithTubes(3);
    const [kept, other, lost] = tubes as [(typeof tubes)[0], (typeof tubes)[0], (typeof tubes)[0]];
    await withdrawForDestruction(consentId);
    expect(await listedIds()).toEqual(expect.arrayContaining([kept.id, other.id, lost.id]));
    // The tube cannot be found at picking: reported missing while on the list.
    const missing = await post(keys.technician, `/v1/specimens/${lost.id}/mark-missing`, {});
    expect(missing.statusCode).toBe(200);
    const ids = tubes.map((x) => x.id);
    const eventsBefore = await custodyEvents(ids);

    const refused = await post(keys.technician, '/v1/destruction-list/confirm', {
      barcodes: [kept.barcode, lost.barcode],
    });
    expect(refused.statusCode).toBe(422);
    const problem = refused.json<{
      code: string;
      errors: { field: string; code: string; message: string }[];
    }>();
    expect(problem.code).toBe('BATCH_REJECTED');
    expect(problem.errors).toHaveLength(1);
    expect(problem.errors[0]).toMatchObject({ field: 'barcodes.1', code: 'INVALID_TRANSITION' });
    expect(problem.errors[0]!.message).toContain(lost.barcode);
    expect(problem.errors[0]!.message).toContain('missing');
    expect(await statusOf(lost.id)).toBe('missing');
    expect(await statusOf(kept.id)).toBe('available');
    expect(await custodyEvents(ids)).toBe(eventsBefore);
    expect(await destructionAudits(ids)).toBe(0);
    expect(await listedIds()).toEqual(expect.arrayContaining([kept.id, other.id, lost.id]));

    const confirmed = await post(keys.technician, '/v1/destruction-list/confirm', {
      barcodes: [kept.barcode, other.barcode],
    });
    expect(confirmed.statusCode).toBe(200);
    expect(
      confirmed
        .json<{ items: { id: string; status: string; location: unknown }[] }>()
        .items.map((i) => [i.id, i.status, i.location])
        .sort(),
    ).toEqual(
      [
        [kept.id, 'destroyed', null],
        [other.id, 'destroyed', null],
      ].sort(),
    );
    expect([
      await destroyedEvents(kept.id),
      await destroyedEvents(other.id),
      await destroyedEvents(lost.id),
    ]).toEqual([1, 1, 0]);
    expect(await destructionAudits([kept.id, other.id])).toBe(2);
    expect(await statusOf(lost.id)).toBe('missing');
    const left = await listedIds();
    expect(left).toContain(lost.id);
    expect(left).not.toContain(kept.id);
    expect(left).not.toContain(other.id);
  });
});
