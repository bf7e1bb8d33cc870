import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { expectProblem, fieldsOf, makeLab, uid, type Lab, type SpecimenBody } from './helpers/inventory.js';

// Bad input is answered with a 4xx problem+json naming the field, and changes nothing: the
// specimen, custody and audit rows of the institution are counted before and after each case.

let t: TestApp;
let lab: Lab;
let box: { id: string; barcode: string };
let stored: SpecimenBody;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  box = await lab.box({ rows: 9, cols: 9 });
  stored = await lab.register({ type: 'plasma', quantity: 2, containerId: box.id, position: 'A1' });
});
afterAll(() => t.close());

const UNKNOWN_ID = '01900000-0000-7000-8000-00000000abcd';

/** Runs a request expected to fail, and proves it changed no row. */
async function refused(send: () => ReturnType<Lab['post']>, status: number, code: string, fields: string[]) {
  const before = await lab.counts();
  const res = await send();
  const problem = expectProblem(res, status, code);
  expect(fieldsOf(problem)).toEqual(fields);
  expect(await lab.counts()).toEqual(before);
  return problem;
}

const registerBody = (extra: Record<string, unknown> = {}) => ({
  barcode: uid('S'),
  type: 'serum',
  quantity: 1,
  ...extra,
});

describe('specimens', () => {
  it('answers an unknown barcode at the scanner with 404 naming the barcode', async () => {
    const problem = await refused(
      () => lab.get('/v1/specimens/by-barcode/NO-SUCH-TUBE'),
      404,
      'SPECIMEN_NOT_FOUND',
      ['barcode'],
    );
    expect(problem.detail).toContain('NO-SUCH-TUBE');
    const found = await lab.get(`/v1/specimens/by-barcode/${stored.barcode}`, { role: 'technician' });
    expect(found.statusCode).toBe(200);
    expect(found.json<SpecimenBody>().location?.path).toBe(stored.location?.path);
  });

  it('refuses a scan batch with an unknown barcode, naming the item', async () => {
    await refused(
      () =>
        lab.post('/v1/scans', {
          scans: [
            { action: 'move', barcode: stored.barcode, containerId: box.id, position: 'A2' },
            { action: 'receive', barcode: 'NO-SUCH-TUBE' },
          ],
        }),
      422,
      'BATCH_REJECTED',
      ['scans.1.barcode'],
    );
  });

  it('refuses a position outside the grid', async () => {
    await refused(
      () => lab.post('/v1/specimens', registerBody({ containerId: box.id, position: 'K1' })),
      400,
      'POSITION_OUTSIDE_GRID',
      ['position'],
    );
    await refused(
      () => lab.post(`/v1/specimens/${stored.id}/move`, { containerId: box.id, position: 'A99' }),
      400,
      'POSITION_OUTSIDE_GRID',
      ['position'],
    );
  });

  it.each([
    { quantity: -1, label: 'negative' },
    { quantity: 0, label: 'zero' },
    { quantity: 'two', label: 'non-numeric' },
    { quantity: '2', label: 'numeric text' },
    { quantity: null, label: 'null' },
    // Amounts are kept with 4 decimals: these would round to nothing.
    { quantity: 0.00004999, label: 'too small to keep (0.00004999)' },
    { quantity: 1e-7, label: 'too small to keep (1e-7)' },
    { quantity: 5e-324, label: 'too small to keep (5e-324)' },
  ])('refuses a $label quantity with 400 naming body.quantity', async ({ quantity }) => {
    await refused(() => lab.post('/v1/specimens', registerBody({ quantity })), 400, 'VALIDATION_FAILED', [
      'body.quantity',
    ]);
    await refused(
      () => lab.post(`/v1/specimens/${stored.id}/consume`, { quantity }),
      400,
      'VALIDATION_FAILED',
      ['body.quantity'],
    );
    await refused(
      () => lab.post(`/v1/specimens/${stored.id}/aliquots`, { aliquots: [{ quantity: 1 }, { quantity }] }),
      400,
      'VALIDATION_FAILED',
      ['body.aliquots.1.quantity'],
    );
  });

  it('refuses an aliquot or derivative given a position without its container (CONTAINER_REQUIRED)', async () => {
    const aliquot = await refused(
      () =>
        lab.post(`/v1/specimens/${stored.id}/aliquots`, { aliquots: [{ quantity: 0.1, position: 'A1' }] }),
      422,
      'BATCH_REJECTED',
      ['aliquots.0.containerId'],
    );
    expect(aliquot.errors![0]).toMatchObject({ code: 'CONTAINER_REQUIRED' });
    const derivative = await refused(
      () =>
        lab.post(`/v1/specimens/${stored.id}/derivatives`, {
          type: 'cfdna',
          consumedQuantity: 0.1,
          derivatives: [{ quantity: 0.05, position: 'B2' }],
        }),
      422,
      'BATCH_REJECTED',
      ['derivatives.0.containerId'],
    );
    expect(derivative.errors![0]).toMatchObject({ code: 'CONTAINER_REQUIRED' });
  });

  it('asks for the barcode of an aliquot whose barcode made from a long parent barcode would not fit', async () => {
    const parent = await lab.register({
      barcode: `L${'0'.repeat(59)}`.slice(0, 60),
      type: 'plasma',
      quantity: 2,
      containerId: box.id,
      position: 'C3',
    });
    const problem = await refused(
      () =>
        lab.post(`/v1/specimens/${parent.id}/aliquots`, {
          aliquots: [{ quantity: 0.1 }, { quantity: 0.1, barcode: uid('CHILD') }],
        }),
      422,
      'BATCH_REJECTED',
      ['aliquots.0.barcode'],
    );
    expect(problem.errors![0]).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(problem.errors![0]!.message).toContain('longer than 64');
    // With the barcode given, it is made.
    const made = await lab.post(`/v1/specimens/${parent.id}/aliquots`, {
      aliquots: [{ quantity: 0.1, barcode: uid('CHILD') }],
    });
    expect(made.statusCode, made.body).toBe(201);
  });

  it('refuses drawing more than is available with 409 INSUFFICIENT_QUANTITY', async () => {
    const problem = await refused(
      () => lab.post(`/v1/specimens/${stored.id}/consume`, { quantity: 2.5 }),
      409,
      'INSUFFICIENT_QUANTITY',
      [],
    );
    expect(problem.availableQuantity).toBe(2);
  });

  it('keeps an amount with more decimals as it is stored, and its custody chain verifies', async () => {
    const tube = await lab.register({
      type: 'plasma',
      quantity: 1.23456,
      containerId: box.id,
      position: 'B2',
    });
    expect(tube.initialQuantity).toBe(1.2346);
    const after = await lab.action(tube.id, 'consume', { quantity: 0.12344 });
    expect(after.availableQuantity).toBe(1.1112);
    const drawn = await lab.action(tube.id, 'consume', { quantity: 0.30000000000000004 });
    expect(drawn.availableQuantity).toBe(0.8112);
    // A tie JavaScript rounds down (0.00015 is 0.000149999... in binary) and PostgreSQL's numeric
    // would round up: kept as it is hashed.
    const tie = await lab.action(tube.id, 'consume', { quantity: 0.00015 });
    expect(tie.availableQuantity).toBe(0.8111);
    const verify = await lab.get(`/v1/specimens/${tube.id}/custody/verify`);
    expect(verify.statusCode, verify.body).toBe(200);
    expect(verify.json<{ valid: boolean }>().valid).toBe(true);
  });

  it('refuses an unknown container with 404 naming containerId', async () => {
    await refused(
      () => lab.post('/v1/specimens', registerBody({ containerId: UNKNOWN_ID, position: 'A1' })),
      404,
      'CONTAINER_NOT_FOUND',
      ['containerId'],
    );
    await refused(
      () => lab.post(`/v1/specimens/${stored.id}/move`, { containerId: UNKNOWN_ID, position: 'A1' }),
      404,
      'CONTAINER_NOT_FOUND',
      ['containerId'],
    );
    // Another institution's box is unknown here too.
    const other = await makeLab(t);
    const theirs = await other.box();
    await refused(
      () => lab.post('/v1/specimens', registerBody({ containerId: theirs.id, position: 'A1' })),
      404,
      'CONTAINER_NOT_FOUND',
      ['containerId'],
    );
    await refused(
      () => lab.post('/v1/specimens', registerBody({ containerId: 'box-1', position: 'A1' })),
      400,
      'VALIDATION_FAILED',
      ['body.containerId'],
    );
  });

  it.each([
    '2024-13-45',
    '2024-13-45T10:00:00Z',
    '2024-02-30T10:00:00Z',
    '2024-01-01T25:00:00Z',
    '2024-01-01 10:00',
  ])('refuses the malformed time %s naming the field', async (time) => {
    await refused(
      () => lab.post('/v1/specimens', registerBody({ collectedAt: time })),
      400,
      'VALIDATION_FAILED',
      ['body.collectedAt'],
    );
    await refused(
      () => lab.post(`/v1/specimens/${stored.id}/check-out`, { occurredAt: time }),
      400,
      'VALIDATION_FAILED',
      ['body.occurredAt'],
    );
  });

  it('refuses unknown fields in a PATCH and a position without a container', async () => {
    const etag = (await lab.get(`/v1/specimens/${stored.id}`)).headers.etag as string;
    const before = await lab.counts();
    const res = await lab.call(
      'PATCH',
      `/v1/specimens/${stored.id}`,
      { status: 'destroyed' },
      { headers: { 'if-match': etag } },
    );
    expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(await lab.counts()).toEqual(before);
    await refused(
      () => lab.post('/v1/specimens', registerBody({ position: 'A1' })),
      400,
      'CONTAINER_REQUIRED',
      ['containerId'],
    );
  });

  it('rejects a batch of 3 where item 1 has a taken barcode and item 2 an unknown container; nothing is inserted', async () => {
    const fresh = registerBody({ containerId: box.id, position: 'C1' });
    const problem = await refused(
      () =>
        lab.post('/v1/specimens/batch', {
          specimens: [
            fresh,
            registerBody({ barcode: stored.barcode }),
            registerBody({ containerId: UNKNOWN_ID, position: 'A1' }),
          ],
        }),
      422,
      'BATCH_REJECTED',
      ['specimens.1.barcode', 'specimens.2.containerId'],
    );
    expect(problem.errors!.map((e) => e.code)).toEqual(['BARCODE_TAKEN', 'CONTAINER_NOT_FOUND']);
    expect(problem.detail).toContain('2 of 3');
    const lookup = await lab.get(`/v1/specimens/by-barcode/${fresh.barcode}`);
    expect(lookup.statusCode).toBe(404);

    // A barcode repeated inside the batch is named at its second occurrence.
    const dup = await refused(
      () =>
        lab.post('/v1/specimens/batch', {
          specimens: [
            fresh,
            registerBody({ barcode: fresh.barcode }),
            registerBody({ containerId: UNKNOWN_ID }),
          ],
        }),
      422,
      'BATCH_REJECTED',
      ['specimens.1.barcode', 'specimens.2.containerId'],
    );
    expect(dup.errors![0]!.message).toContain('item 0 of this request');
  });

  it('names the item of a malformed batch by its index', async () => {
    await refused(
      () => lab.post('/v1/specimens/batch', { specimens: [registerBody(), registerBody({ quantity: -3 })] }),
      400,
      'VALIDATION_FAILED',
      ['body.specimens.1.quantity'],
    );
  });

  it('refuses an unknown participant or protocol on a specimen', async () => {
    await refused(
      () => lab.post('/v1/specimens', registerBody({ participantId: UNKNOWN_ID })),
      422,
      'PARTICIPANT_NOT_FOUND',
      ['participantId'],
    );
    await refused(
      () => lab.post('/v1/specimens', registerBody({ protocolId: UNKNOWN_ID })),
      422,
      'PROTOCOL_NOT_FOUND',
      ['protocolId'],
    );
  });
});

describe('protocols and participants', () => {
  let protocolId: string;

  beforeAll(async () => {
    const res = await lab.post('/v1/protocols', {
      code: uid('P'),
      title: 'Colorectal cancer cohort',
      ethicsApprovalRef: 'EC-2024-117',
      consentTiers: ['GENETIC_RESEARCH'],
    });
    expect(res.statusCode, res.body).toBe(201);
    protocolId = res.json<{ id: string }>().id;
  });

  async function participantCount() {
    const { rows } = await t.sql.query<{ n: number; audit: number }>(
      `select (select count(*)::int from participant where institution_id = $1) as n,
              (select count(*)::int from audit_log where institution_id = $1) as audit`,
      [lab.institution.id],
    );
    return rows[0]!;
  }

  async function refusedParticipant(
    body: Record<string, unknown>,
    status: number,
    code: string,
    fields: string[],
  ) {
    const before = await participantCount();
    const res = await lab.post('/v1/participants', { protocolParticipantId: uid('PT'), protocolId, ...body });
    const problem = expectProblem(res, status, code);
    expect(fieldsOf(problem)).toEqual(fields);
    expect(await participantCount()).toEqual(before);
  }

  it('refuses a participant of an unknown protocol with 404 naming protocolId', async () => {
    await refusedParticipant({ protocolId: UNKNOWN_ID }, 404, 'PROTOCOL_NOT_FOUND', ['protocolId']);
  });

  it('refuses a birth year in the future', async () => {
    await refusedParticipant({ birthYear: new Date().getUTCFullYear() + 1 }, 400, 'VALIDATION_FAILED', [
      'body.birthYear',
    ]);
    await refusedParticipant({ birthYear: 1850 }, 400, 'VALIDATION_FAILED', ['body.birthYear']);
  });

  it.each(['C509', 'X', '50.9', 'C50.12345', 'C50-9'])(
    'refuses the ICD-10 code %s naming the item',
    async (code) => {
      await refusedParticipant({ diagnoses: ['C18.7', code] }, 400, 'VALIDATION_FAILED', [
        'body.diagnoses.1',
      ]);
    },
  );

  it('refuses a second participant with the same protocol participant id (409)', async () => {
    const pid = uid('PT');
    const first = await lab.post('/v1/participants', { protocolId, protocolParticipantId: pid });
    expect(first.statusCode, first.body).toBe(201);
    const before = await participantCount();
    const again = await lab.post('/v1/participants', { protocolId, protocolParticipantId: pid });
    expectProblem(again, 409, 'PARTICIPANT_EXISTS');
    expect(await participantCount()).toEqual(before);
  });

  it('hides identity from a technician and shows it to a manager', async () => {
    const pid = uid('PT');
    const res = await lab.post('/v1/participants', {
      protocolId,
      protocolParticipantId: pid,
      sex: 'female',
      birthYear: 1961,
      diagnoses: ['c18.7'],
      mrn: 'MRN-0042',
    });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json<{ id: string; diagnoses: string[] }>();
    expect(created.diagnoses).toEqual(['C18.7']);

    const asTech = await lab.get(`/v1/participants/${created.id}`, { role: 'technician' });
    expect(asTech.statusCode).toBe(200);
    expect(asTech.json()).toMatchObject({ id: created.id, sex: 'female', identity: null });
    expect(asTech.body).not.toContain(pid);
    expect(asTech.body).not.toContain('1961');

    const list = await lab.get(`/v1/participants?protocolId=${protocolId}`, { role: 'technician' });
    const items = list.json<{ items: { identity: unknown }[] }>().items;
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((i) => i.identity === null)).toBe(true);

    const asManager = await lab.get(`/v1/participants/${created.id}`, { role: 'manager' });
    expect(asManager.json()).toMatchObject({
      identity: { protocolParticipantId: pid, birthYear: 1961, hasMrn: true },
    });
    // The MRN itself is never stored or answered.
    expect(asManager.body).not.toContain('MRN-0042');
    const { rows } = await t.sql.query<{ mrn_hash: string }>(
      'select mrn_hash from participant where id = $1',
      [created.id],
    );
    expect(rows[0]!.mrn_hash).toMatch(/^[0-9a-f]{64}$/);
    // And a technician may not search by MRN.
    expectProblem(
      await lab.post('/v1/participants/search-by-mrn', { mrn: 'MRN-0042' }, { role: 'technician' }),
      403,
      'FORBIDDEN',
    );
  });
});
