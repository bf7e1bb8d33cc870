import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, specimenRow } from './helpers/inventory.js';
import {
  makeAgreement,
  makeProvider,
  makeRequester,
  runProposalJob,
  type Provider,
  type Requester,
} from './helpers/sharing.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// Two approvals racing over overlapping specimens (issue 10, point 4): they run at the same time
// on separate connections; one reserves, the other is refused with 409 SPECIMENS_TAKEN naming the
// tubes it lost, and nothing of it is written. Never a tube reserved twice.

let t: TestApp;
let provider: Provider;
let a: Requester;
let b: Requester;
let agreements: Record<string, string>;

beforeAll(async () => {
  t = await createTestApp();
  provider = await makeProvider(t);
  a = await makeRequester(t);
  b = await makeRequester(t);
  agreements = {
    [a.institution.id]: (await makeAgreement(provider, a.institution.id)).id,
    [b.institution.id]: (await makeAgreement(provider, b.institution.id)).id,
  };
});
afterAll(() => t.close());

interface Item {
  id: string;
  specimen: { id: string; barcode: string };
}

async function underReview(requester: Requester, count: number): Promise<string> {
  const created = await requester.call('POST', '/v1/sharing-requests', {
    providerInstitutionId: provider.lab.institution.id,
    agreementId: agreements[requester.institution.id],
    use: 'external_sharing',
    ethicsApprovalRef: 'EC-RACE',
    specimenCount: count,
    quantityPerSpecimen: 0.1,
    unit: 'mL',
    purpose: 'race',
  });
  const id = created.json<{ id: string }>().id;
  await requester.call('POST', `/v1/sharing-requests/${id}/submit`, {});
  await runProposalJob(t, id);
  expect((await provider.lab.post(`/v1/sharing-requests/${id}/start-review`, {})).statusCode).toBe(200);
  return id;
}

const itemsOf = async (id: string) =>
  (await provider.lab.get(`/v1/sharing-requests/${id}/items`)).json<{ items: Item[] }>().items;

const reservedCustody = async (requestId: string) =>
  (
    await t.sql.query<{ n: number }>(
      "select count(*)::int as n from custody_event where type = 'reserved' and details->>'requestId' = $1",
      [requestId],
    )
  ).rows[0]!.n;

describe('racing approvals', () => {
  it('reserves each tube once: the loser gets 409 naming the taken tubes and changes nothing', async () => {
    for (let round = 0; round < 3; round++) {
      const box = await provider.box();
      const tubes = [];
      for (let i = 0; i < 5; i++) tubes.push(await provider.specimen(await provider.donor(), box));
      const first = await underReview(a, 3);
      const second = await underReview(b, 3);
      // The second proposal is made to share exactly one tube with the first.
      const firstItems = await itemsOf(first);
      const free = tubes.filter((x) => !firstItems.some((i) => i.specimen.id === x.id));
      const edit = await provider.lab.post(`/v1/sharing-requests/${second}/proposal`, {
        remove: (await itemsOf(second)).map((i) => i.id),
        add: [firstItems[0]!.specimen.barcode, free[0]!.barcode, free[1]!.barcode],
      });
      expect(edit.statusCode, edit.body).toBe(200);
      const overlap = (await itemsOf(second))
        .map((i) => i.specimen.id)
        .filter((id) => firstItems.some((f) => f.specimen.id === id));
      expect(overlap).toHaveLength(1);

      const [ra, rb] = await Promise.all([
        provider.lab.post(`/v1/sharing-requests/${first}/approve`, {}),
        provider.lab.post(`/v1/sharing-requests/${second}/approve`, {}),
      ]);
      const outcomes = [ra.statusCode, rb.statusCode].sort();
      expect(outcomes, `${ra.body} ${rb.body}`).toEqual([200, 409]);
      const [winner, loser, lost] = ra.statusCode === 200 ? [first, second, rb] : [second, first, ra];
      const problem = expectProblem(lost, 409, 'SPECIMENS_TAKEN');
      const taken = await Promise.all(
        overlap.map(
          async (id) =>
            (await t.sql.query<{ barcode: string }>('select barcode from specimen where id = $1', [id]))
              .rows[0]!.barcode,
        ),
      );
      expect(problem.specimens).toEqual(taken.sort());

      expect(await reservedCustody(winner)).toBe(3);
      expect(await reservedCustody(loser)).toBe(0);
      const loserState = await t.sql.query<{ state: string }>(
        'select state from sharing_request where id = $1',
        [loser],
      );
      expect(loserState.rows[0]!.state).toBe('under_review');
      expect(await itemsOf(loser)).toHaveLength(3);
      const states = await t.sql.query<{ state: string }>(
        'select state from sharing_request_item where request_id = $1',
        [loser],
      );
      expect(states.rows.every((r) => r.state === 'proposed')).toBe(true);
      for (const x of tubes) {
        const reservations = await t.sql.query<{ n: number }>(
          "select count(*)::int as n from sharing_request_item where specimen_id = $1 and state = 'reserved'",
          [x.id],
        );
        expect(reservations.rows[0]!.n).toBeLessThanOrEqual(1);
        const status = (await specimenRow(t, x.id)).status;
        expect(status === 'reserved').toBe(reservations.rows[0]!.n === 1);
      }
    }
  });

  it('refuses a second approval of the same request with 409 and leaves it as it was', async () => {
    const box = await provider.box();
    for (let i = 0; i < 2; i++) await provider.specimen(await provider.donor(), box);
    const id = await underReview(a, 2);
    expect((await provider.lab.post(`/v1/sharing-requests/${id}/approve`, {})).statusCode).toBe(200);
    const before = await t.sql.query('select * from sharing_request where id = $1', [id]);
    const events = await t.sql.query(
      'select count(*)::int as n from sharing_request_event where request_id = $1',
      [id],
    );
    const again = await provider.lab.post(`/v1/sharing-requests/${id}/approve`, {});
    expect(expectProblem(again, 409, 'INVALID_REQUEST_TRANSITION').detail).toContain('reserved');
    expect((await t.sql.query('select * from sharing_request where id = $1', [id])).rows).toEqual(
      before.rows,
    );
    expect(
      (await t.sql.query('select count(*)::int as n from sharing_request_event where request_id = $1', [id]))
        .rows,
    ).toEqual(events.rows);
    expect(await reservedCustody(id)).toBe(2);
  });
});

describe('a retried approval', () => {
  it('under one Idempotency-Key, sent twice at once and again later, reserves once and answers the first result', async () => {
    const box = await provider.box();
    for (let i = 0; i < 3; i++) await provider.specimen(await provider.donor(), box);
    const id = await underReview(a, 2);
    const headers = { 'idempotency-key': `approve-${id}` };
    const [r1, r2] = await Promise.all([
      provider.lab.post(`/v1/sharing-requests/${id}/approve`, {}, { headers }),
      provider.lab.post(`/v1/sharing-requests/${id}/approve`, {}, { headers }),
    ]);
    // One applies; the other waits for it and replays, or is told to retry (409 with Retry-After).
    const applied = [r1, r2].filter((r) => r.statusCode === 200);
    expect(applied.length, `${r1.body} ${r2.body}`).toBeGreaterThanOrEqual(1);
    for (const r of [r1, r2].filter((x) => x.statusCode !== 200)) {
      expect(expectProblem(r, 409, 'IDEMPOTENCY_KEY_IN_USE').status).toBe(409);
    }
    const later = await provider.lab.post(`/v1/sharing-requests/${id}/approve`, {}, { headers });
    expect(later.statusCode, later.body).toBe(200);
    expect(later.headers['idempotent-replayed']).toBe('true');
    expect(later.json()).toEqual(applied[0]!.json());
    expect(await reservedCustody(id)).toBe(2);
  });
});
