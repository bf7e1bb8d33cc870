import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// Consent expiry is judged on the service's injected clock, not the machine's: the same consent
// reads active, then expired, as the clock passes its expiry date, and the gate and the scan
// lookup follow.

let now = new Date('2026-06-01T12:00:00Z');
let t: TestApp;
let keys: Awaited<ReturnType<typeof makeInstitution>>['keys'];

const post = (token: string, url: string, payload: unknown) =>
  t.app.inject({ method: 'POST', url, headers: bearer(token), payload: payload as object });
const get = (token: string, url: string) => t.app.inject({ method: 'GET', url, headers: bearer(token) });

beforeAll(async () => {
  t = await createTestApp({ overrides: { clock: () => now } });
  keys = (await makeInstitution(t)).keys;
});
afterAll(() => t.close());

describe('the consent clock', () => {
  it('expires a consent when the clock passes its expiry date, for records, the gate and scans', async () => {
    const proto = await post(keys.manager, '/v1/protocols', {
      code: 'CLOCK-1',
      title: 'Clock cohort',
      ethicsApprovalRef: 'EC-1',
      consentTiers: ['GENETIC_RESEARCH'],
    });
    expect(proto.statusCode).toBe(201);
    const p = await post(keys.manager, '/v1/participants', {
      protocolId: proto.json<{ id: string }>().id,
      protocolParticipantId: 'CLK-1',
      sex: 'male',
    });
    const participantId = p.json<{ id: string }>().id;
    // Signed "today" by the clock, which is long before the machine's date.
    const consent = await post(keys.manager, '/v1/consents', {
      participantId,
      documentVersion: 'v1',
      signedOn: '2026-06-01',
      obtainedBy: 'nurse-1',
      responses: { GENETIC_RESEARCH: 'yes' },
      expiresOn: '2026-07-01',
    });
    expect(consent.statusCode, consent.body).toBe(201);
    const consentId = consent.json<{ id: string }>().id;
    const tube = await post(keys.technician, '/v1/specimens', {
      barcode: 'CLK-TUBE-1',
      type: 'whole_blood',
      quantity: 5,
      participantId,
    });
    expect(tube.statusCode).toBe(201);
    const tubeId = tube.json<{ id: string }>().id;
    expect((await post(keys.technician, `/v1/specimens/${tubeId}/receive`, {})).statusCode).toBe(200);

    expect((await get(keys.manager, `/v1/consents/${consentId}`)).json<{ status: string }>().status).toBe(
      'active',
    );
    expect(
      (await get(keys.technician, '/v1/specimens/by-barcode/CLK-TUBE-1')).json<{ permittedUses: string[] }>()
        .permittedUses,
    ).toContain('genetic_research');

    now = new Date('2026-07-02T08:00:00Z');
    expect((await get(keys.manager, `/v1/consents/${consentId}`)).json<{ status: string }>().status).toBe(
      'expired',
    );
    expect(
      (await get(keys.technician, '/v1/specimens/by-barcode/CLK-TUBE-1')).json<{ permittedUses: string[] }>()
        .permittedUses,
    ).toEqual([]);
    const aliquot = await post(keys.technician, `/v1/specimens/${tubeId}/aliquots`, {
      aliquots: [{ quantity: 1 }],
      use: 'genetic_research',
    });
    expect(aliquot.statusCode).toBe(409);
    expect(aliquot.json<{ code: string }>().code).toBe('CONSENT_NOT_GRANTED');
  });

  it('refuses a consent signed after the clock’s today', async () => {
    now = new Date('2026-06-01T12:00:00Z');
    const proto = await post(keys.manager, '/v1/protocols', {
      code: 'CLOCK-2',
      title: 'Clock cohort 2',
      ethicsApprovalRef: 'EC-2',
      consentTiers: [],
    });
    const p = await post(keys.manager, '/v1/participants', {
      protocolId: proto.json<{ id: string }>().id,
      protocolParticipantId: 'CLK-2',
      sex: 'female',
    });
    const res = await post(keys.manager, '/v1/consents', {
      participantId: p.json<{ id: string }>().id,
      documentVersion: 'v1',
      signedOn: '2026-06-02',
      obtainedBy: 'nurse-1',
      responses: {},
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ code: string }>().code).toBe('SIGNED_DATE_IN_FUTURE');
  });
});
