import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, makeLab, uid, type Lab } from './helpers/inventory.js';
import { bearer, createTestApp, type TestApp } from './helpers/test-app.js';

// An LIS id (system, value) names one tube of an institution: a second specimen claiming it is
// refused with 409 EXTERNAL_ID_TAKEN naming the holder, at registration, in a batch and on edit,
// and the database's unique index has the last word in a race.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

const lis = () => ({ system: 'LIS', value: uid('A') });

describe('external ids are unique per institution', () => {
  it('refuses a second specimen with an external id in use, naming the holder, and changes nothing', async () => {
    const id = lis();
    const holder = await lab.register({ externalIds: [id] });
    const before = await lab.counts();
    const res = await lab.post('/v1/specimens', {
      barcode: uid('S'),
      type: 'serum',
      quantity: 1,
      externalIds: [lis(), id],
    });
    const problem = expectProblem(res, 409, 'EXTERNAL_ID_TAKEN');
    expect(problem.detail).toContain(holder.barcode);
    expect(problem).toMatchObject({ holderBarcode: holder.barcode });
    expect(problem.errors!.map((e) => e.field)).toEqual(['externalIds.1']);
    expect(await lab.counts()).toEqual(before);
  });

  it("refuses the biobank's own identifier systems as external ones, on registration and upsert by path", async () => {
    const before = await lab.counts();
    const own = [
      'https://biobank.dev/fhir/sid/barcode',
      'https://biobank.dev/fhir/sid/external/X',
      'urn:ietf:rfc:3986',
      'HTTPS://BIOBANK.DEV/fhir/sid/barcode',
    ];
    for (const system of own) {
      const res = await lab.post('/v1/specimens', {
        barcode: uid('S'),
        type: 'serum',
        quantity: 1,
        externalIds: [{ system, value: 'V-1' }],
      });
      expect(expectProblem(res, 400, 'VALIDATION_FAILED').errors!.map((e) => e.field)).toEqual([
        'body.externalIds.0.system',
      ]);
      const put = await t.app.inject({
        method: 'PUT',
        url: `/v1/specimens/by-external-id/${encodeURIComponent(system)}/V-1`,
        headers: bearer(lab.keys.manager),
        payload: { barcode: uid('S'), type: 'serum', quantity: 1 },
      });
      expect(put.statusCode, put.body).toBe(400);
    }
    expect(await lab.counts()).toEqual(before);
  });

  it('lets another institution use the same external id', async () => {
    const id = lis();
    await lab.register({ externalIds: [id] });
    const other = await makeLab(t);
    await other.register({ externalIds: [id] });
  });

  it('refuses a batch whose items share an external id, per item', async () => {
    const id = lis();
    const res = await lab.post('/v1/specimens/batch', {
      specimens: [
        { barcode: uid('S'), type: 'serum', quantity: 1, externalIds: [id] },
        { barcode: uid('S'), type: 'serum', quantity: 1, externalIds: [id] },
      ],
    });
    expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
    const problem = res.json<{ errors: { field: string; code: string }[] }>();
    expect(problem.errors).toEqual([
      expect.objectContaining({ field: 'specimens.1.externalIds.0', code: 'EXTERNAL_ID_TAKEN' }),
    ]);
  });

  it('checks edits: a taken id is refused, a released one can be taken', async () => {
    const id = lis();
    const holder = await lab.register({ externalIds: [id] });
    const other = await lab.register();
    const taken = await lab.call(
      'PATCH',
      `/v1/specimens/${other.id}`,
      { externalIds: [id] },
      { headers: { 'if-match': `W/"${other.version}"` } },
    );
    expect(expectProblem(taken, 409, 'EXTERNAL_ID_TAKEN').detail).toContain(holder.barcode);
    // The holder keeps its own id when it edits its list, and may let it go.
    const kept = await lab.call(
      'PATCH',
      `/v1/specimens/${holder.id}`,
      { externalIds: [id, lis()] },
      { headers: { 'if-match': `W/"${holder.version}"` } },
    );
    expect(kept.statusCode, kept.body).toBe(200);
    const released = await lab.call(
      'PATCH',
      `/v1/specimens/${holder.id}`,
      { externalIds: [] },
      { headers: { 'if-match': `W/"${holder.version + 1}"` } },
    );
    expect(released.statusCode, released.body).toBe(200);
    const now = await lab.call(
      'PATCH',
      `/v1/specimens/${other.id}`,
      { externalIds: [id] },
      { headers: { 'if-match': `W/"${other.version}"` } },
    );
    expect(now.statusCode, now.body).toBe(200);
    const { rows } = await t.sql.query<{ specimen_id: string }>(
      'select specimen_id from specimen_external_id where system = $1 and value = $2',
      [id.system, id.value],
    );
    expect(rows).toEqual([{ specimen_id: other.id }]);
  });

  it('answers a race with one 201 and one 409 EXTERNAL_ID_TAKEN', async () => {
    const id = lis();
    const attempts = await Promise.all(
      [0, 1, 2].map(() =>
        lab.post('/v1/specimens', { barcode: uid('S'), type: 'serum', quantity: 1, externalIds: [id] }),
      ),
    );
    expect(attempts.filter((r) => r.statusCode === 201)).toHaveLength(1);
    for (const r of attempts.filter((x) => x.statusCode !== 201)) expectProblem(r, 409, 'EXTERNAL_ID_TAKEN');
  });
});
