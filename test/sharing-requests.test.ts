import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { custodyRows, expectProblem, specimenRow, type SpecimenBody } from './helpers/inventory.js';
import {
  makeAgreement,
  makeProvider,
  makeRequester,
  runProposalJob,
  type Provider,
  type Requester,
} from './helpers/sharing.js';
import { createTestApp, makeInstitution, bearer, type TestApp } from './helpers/test-app.js';

// A request walked from draft to reserved and cancelled across two institutions, what each side
// sees on the way, and the timeline it leaves.

let t: TestApp;
let provider: Provider;
let requester: Requester;
let agreementId: string;
const stock: SpecimenBody[] = [];

interface RequestBody {
  id: string;
  state: string;
  side: string;
  allowedActions: string[];
  version: number;
  reservationDeadline: string | null;
}
interface ItemBody {
  id: string;
  sampleCode: string;
  donorCode: string;
  state: string;
  type: string;
  specimen: { id: string; barcode: string } | null;
}

const requestBody = (extra: Record<string, unknown> = {}) => ({
  providerInstitutionId: provider.lab.institution.id,
  agreementId,
  use: 'external_sharing',
  ethicsApprovalRef: 'EC-REQ-1',
  criteria: { specimenTypes: ['plasma'], sprec: { longTermStorageAtOrBelowC: -60 } },
  specimenCount: 3,
  quantityPerSpecimen: 0.5,
  unit: 'mL',
  purpose: 'Biomarker validation',
  ...extra,
});

beforeAll(async () => {
  t = await createTestApp();
  provider = await makeProvider(t);
  requester = await makeRequester(t);
  agreementId = (await makeAgreement(provider, requester.institution.id)).id;
  const box = await provider.box();
  for (let i = 0; i < 5; i++) {
    const donor = await provider.donor();
    // The smaller tube of each donor is the one to propose.
    stock.push(await provider.specimen(donor, box, { quantity: 0.6 }));
    stock.push(await provider.specimen(donor, box, { quantity: 2 }));
  }
});
afterAll(() => t.close());

async function submitted(extra: Record<string, unknown> = {}): Promise<RequestBody> {
  const created = await requester.call('POST', '/v1/sharing-requests', requestBody(extra));
  expect(created.statusCode, created.body).toBe(201);
  const id = created.json<RequestBody>().id;
  const sub = await requester.call('POST', `/v1/sharing-requests/${id}/submit`, {});
  expect(sub.statusCode, sub.body).toBe(200);
  return sub.json<RequestBody>();
}

const items = async (id: string, as: 'provider' | 'requester') => {
  const res =
    as === 'provider'
      ? await provider.lab.get(`/v1/sharing-requests/${id}/items`)
      : await requester.call('GET', `/v1/sharing-requests/${id}/items`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ items: ItemBody[] }>().items;
};

describe('a sharing request from draft to reserved to cancelled', () => {
  it('walks the lifecycle across both institutions with custody on every reserved tube', async () => {
    const created = await requester.call('POST', '/v1/sharing-requests', requestBody());
    expect(created.statusCode, created.body).toBe(201);
    const draft = created.json<RequestBody>();
    expect(draft).toMatchObject({
      state: 'draft',
      side: 'requester',
      allowedActions: ['update', 'submit', 'cancel'],
    });
    // A draft is the requester's own.
    expectProblem(
      await provider.lab.get(`/v1/sharing-requests/${draft.id}`),
      404,
      'SHARING_REQUEST_NOT_FOUND',
    );

    const patched = await requester.call(
      'PATCH',
      `/v1/sharing-requests/${draft.id}`,
      { purpose: 'Biomarker validation, cohort B' },
      { headers: { 'if-match': `W/"${draft.version}"` } },
    );
    expect(patched.statusCode, patched.body).toBe(200);
    // The same edit again, or none, writes nothing: same version, no timeline event.
    const version = patched.json<RequestBody>().version;
    const eventCount = async () =>
      (await requester.call('GET', `/v1/sharing-requests/${draft.id}/events?limit=100`)).json<{
        items: unknown[];
      }>().items.length;
    const events = await eventCount();
    for (const body of [
      { purpose: 'Biomarker validation, cohort B' },
      {},
      { quantityPerSpecimen: 0.5, specimenCount: 3, criteria: requestBody().criteria },
    ]) {
      const again = await requester.call('PATCH', `/v1/sharing-requests/${draft.id}`, body, {
        headers: { 'if-match': `W/"${version}"` },
      });
      expect(again.statusCode, again.body).toBe(200);
      expect(again.json<RequestBody>().version).toBe(version);
    }
    expect(await eventCount()).toBe(events);

    const sub = await requester.call('POST', `/v1/sharing-requests/${draft.id}/submit`, {});
    expect(sub.json<RequestBody>()).toMatchObject({ state: 'submitted' });
    await runProposalJob(t, draft.id);

    const asProvider = (await provider.lab.get(`/v1/sharing-requests/${draft.id}`)).json<RequestBody>();
    expect(asProvider).toMatchObject({ side: 'provider', allowedActions: ['start_review', 'reject'] });
    const review = await provider.lab.post(`/v1/sharing-requests/${draft.id}/start-review`, {});
    expect(review.json<RequestBody>()).toMatchObject({
      state: 'under_review',
      allowedActions: ['edit_proposal', 'propose', 'approve', 'reject'],
    });

    const proposed = await items(draft.id, 'provider');
    expect(proposed).toHaveLength(3);
    const smaller = new Set(stock.filter((s) => s.availableQuantity === 0.6).map((s) => s.id));
    expect(proposed.every((i) => smaller.has(i.specimen!.id))).toBe(true);
    expect(new Set(proposed.map((i) => i.donorCode)).size).toBe(3);
    expect(proposed.map((i) => i.sampleCode).sort()).toEqual(['S0001', 'S0002', 'S0003']);

    const seen = await items(draft.id, 'requester');
    expect(seen.map((i) => i.specimen)).toEqual([null, null, null]);
    expect(JSON.stringify(seen)).not.toContain(proposed[0]!.specimen!.barcode);

    const approved = await provider.lab.post(`/v1/sharing-requests/${draft.id}/approve`, {});
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json<RequestBody>()).toMatchObject({ state: 'reserved' });
    expect(approved.json<RequestBody>().reservationDeadline).not.toBeNull();
    for (const i of proposed) {
      expect((await specimenRow(t, i.specimen!.id)).status).toBe('reserved');
      const chain = await custodyRows(t, i.specimen!.id);
      expect(chain.at(-1)).toMatchObject({ type: 'reserved' });
      expect(chain.at(-1)!.details).toMatchObject({ requestId: draft.id, sampleCode: i.sampleCode });
    }
    expect((await items(draft.id, 'requester')).map((i) => i.state)).toEqual([
      'reserved',
      'reserved',
      'reserved',
    ]);

    const cancelled = await requester.call('POST', `/v1/sharing-requests/${draft.id}/cancel`, {
      reason: 'funding withdrawn',
    });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json<RequestBody>()).toMatchObject({ state: 'cancelled' });
    for (const i of proposed) {
      expect((await specimenRow(t, i.specimen!.id)).status).toBe('available');
      expect((await custodyRows(t, i.specimen!.id)).at(-1)).toMatchObject({ type: 'reservation_released' });
    }

    const timeline = await requester.call('GET', `/v1/sharing-requests/${draft.id}/events?limit=100`);
    const actions = timeline
      .json<{ items: { action: string; toState: string }[] }>()
      .items.filter((e) => e.action !== 'notified')
      .map((e) => `${e.action}>${e.toState}`);
    expect(actions).toEqual([
      'update>draft',
      'submit>submitted',
      'propose>submitted',
      'start_review>under_review',
      'approve>approved',
      'reserve>reserved',
      'cancel>cancelled',
    ]);
    const audit = await t.sql.query<{ action: string }>(
      "select action from audit_log where entity_type = 'sharing_request' and entity_id = $1 order by id",
      [draft.id],
    );
    expect(audit.rows.map((r) => r.action)).toEqual([
      'createSharingRequest',
      'updateSharingRequest',
      'submitSharingRequest',
      'proposeSharingItems',
      'startSharingRequestReview',
      'approveSharingRequest',
      'approveSharingRequest',
      'cancelSharingRequest',
    ]);
  });

  it('lets the provider edit the proposal, each specimen checked, and refuses what does not fit', async () => {
    const r = await submitted({ specimenCount: 2 });
    await runProposalJob(t, r.id);
    await provider.lab.post(`/v1/sharing-requests/${r.id}/start-review`, {});
    const before = await items(r.id, 'provider');
    const inUse = new Set(before.map((i) => i.specimen!.id));
    const donorOf = (id: string) => stock.findIndex((s) => s.id === id) >> 1;
    const usedDonors = new Set(before.map((i) => donorOf(i.specimen!.id)));
    const free = stock.filter((s) => !inUse.has(s.id) && !usedDonors.has(donorOf(s.id)));
    const sameDonor = stock.find((s) => !inUse.has(s.id) && usedDonors.has(donorOf(s.id)))!;

    const swap = await provider.lab.post(`/v1/sharing-requests/${r.id}/proposal`, {
      swap: [{ itemId: before[0]!.id, barcode: free[0]!.barcode }],
    });
    expect(swap.statusCode, swap.body).toBe(200);
    const after = await items(r.id, 'provider');
    expect(after.find((i) => i.sampleCode === before[0]!.sampleCode)!.specimen!.id).toBe(free[0]!.id);

    const refused = await provider.lab.post(`/v1/sharing-requests/${r.id}/proposal`, {
      add: [sameDonor.barcode, 'NO-SUCH-TUBE'],
    });
    const problem = expectProblem(refused, 422, 'BATCH_REJECTED');
    expect(problem.errors!.map((e) => [e.field, e.code])).toEqual([
      ['add.0', 'ITEM_NOT_ELIGIBLE'],
      ['add.1', 'SPECIMEN_NOT_FOUND'],
    ]);
    const full = await provider.lab.post(`/v1/sharing-requests/${r.id}/proposal`, {
      add: [free.find((s) => donorOf(s.id) !== donorOf(free[0]!.id))!.barcode],
    });
    expect(expectProblem(full, 422, 'ITEM_NOT_ELIGIBLE').detail).toContain('asks for 2');
    expect(await items(r.id, 'provider')).toEqual(after);

    const removed = await provider.lab.post(`/v1/sharing-requests/${r.id}/proposal`, {
      remove: [after[1]!.id],
    });
    expect(removed.statusCode).toBe(200);
    const [left] = await items(r.id, 'provider');
    expect(left).toBeDefined();

    // One tube given twice in one edit: the second is refused as such, and nothing changes.
    const another = free.find(
      (s) => s.id !== left!.specimen!.id && donorOf(s.id) !== donorOf(left!.specimen!.id),
    )!;
    const twice = await provider.lab.post(`/v1/sharing-requests/${r.id}/proposal`, {
      add: [another.barcode, another.barcode],
    });
    const once = expectProblem(twice, 422, 'ITEM_NOT_ELIGIBLE');
    expect(once.detail).toContain('more than once in this edit');
    expect(once.errors!.map((e) => e.field)).toEqual(['add.1']);
    expect(await items(r.id, 'provider')).toEqual([left]);

    // One item removed twice, or removed and swapped: refused, naming the second mention.
    const eventsBefore = (await requester.call('GET', `/v1/sharing-requests/${r.id}/events?limit=100`)).json<{
      items: unknown[];
    }>().items.length;
    for (const [edit, field] of [
      [{ remove: [left!.id, left!.id] }, 'remove.1'],
      [{ remove: [left!.id], swap: [{ itemId: left!.id, barcode: another.barcode }] }, 'swap.0.itemId'],
    ] as const) {
      const res = await provider.lab.post(`/v1/sharing-requests/${r.id}/proposal`, edit);
      const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(problem.errors!.map((e) => e.field)).toEqual([field]);
      expect(problem.detail).toContain('more than once in this edit');
    }
    const swappedTwice = await provider.lab.post(`/v1/sharing-requests/${r.id}/proposal`, {
      swap: [0, 1].map(() => ({ itemId: left!.id, barcode: another.barcode })),
    });
    expect(expectProblem(swappedTwice, 422, 'BATCH_REJECTED').errors!.map((e) => e.field)).toContain(
      'swap.1.itemId',
    );
    expect(await items(r.id, 'provider')).toEqual([left]);
    expect(
      (await requester.call('GET', `/v1/sharing-requests/${r.id}/events?limit=100`)).json<{
        items: unknown[];
      }>().items,
    ).toHaveLength(eventsBefore);
    await requester.call('POST', `/v1/sharing-requests/${r.id}/cancel`, {});
  });
});

describe('a request that ends before approval', () => {
  it('leaves no item proposed once rejected or cancelled, and every tube in stock', async () => {
    for (const end of ['reject', 'cancel'] as const) {
      const r = await submitted({ specimenCount: 2 });
      await runProposalJob(t, r.id);
      const proposed = await items(r.id, 'provider');
      expect(proposed.map((i) => i.state)).toEqual(['proposed', 'proposed']);
      const res =
        end === 'reject'
          ? await provider.lab.post(`/v1/sharing-requests/${r.id}/reject`, { reason: 'not this year' })
          : await requester.call('POST', `/v1/sharing-requests/${r.id}/cancel`, {});
      expect(res.statusCode, res.body).toBe(200);
      expect(
        (await items(r.id, 'provider')).map((i) => i.state),
        end,
      ).toEqual(['released', 'released']);
      expect(
        (await items(r.id, 'requester')).map((i) => i.state),
        end,
      ).toEqual(['released', 'released']);
      for (const i of proposed) expect((await specimenRow(t, i.specimen!.id)).status).toBe('available');
    }
  });
});

describe('the agreement at approval', () => {
  it('refuses to approve once the agreement no longer covers the request, and reserves nothing', async () => {
    const own = await makeAgreement(provider, requester.institution.id);
    const r = await submitted({ agreementId: own.id, specimenCount: 1 });
    await runProposalJob(t, r.id);
    await provider.lab.post(`/v1/sharing-requests/${r.id}/start-review`, {});
    const [item] = await items(r.id, 'provider');
    const edit = async (patch: Record<string, unknown>) => {
      const { version } = (await provider.lab.get(`/v1/agreements/${own.id}`)).json<{ version: number }>();
      const res = await provider.lab.call('PATCH', `/v1/agreements/${own.id}`, patch, {
        headers: { 'if-match': `W/"${version}"` },
      });
      expect(res.statusCode, res.body).toBe(200);
    };
    const approve = () => provider.lab.post(`/v1/sharing-requests/${r.id}/approve`, {});

    await edit({ uses: ['genetic_research'] });
    expectProblem(await approve(), 422, 'USE_NOT_IN_AGREEMENT');
    await edit({ uses: ['external_sharing'], validUntil: '2025-01-01' });
    expectProblem(await approve(), 422, 'AGREEMENT_NOT_IN_FORCE');
    expect((await specimenRow(t, item!.specimen!.id)).status).toBe('available');
    expect((await provider.lab.get(`/v1/sharing-requests/${r.id}`)).json<RequestBody>().state).toBe(
      'under_review',
    );

    await edit({ validUntil: null });
    expect((await approve()).statusCode).toBe(200);
    await requester.call('POST', `/v1/sharing-requests/${r.id}/cancel`, {});
  });
});

describe('visibility', () => {
  it('answers 404 to an institution that is not a party, and never shows the requester provider specimens', async () => {
    const r = await submitted();
    const outsider = await makeInstitution(t);
    for (const url of [
      `/v1/sharing-requests/${r.id}`,
      `/v1/sharing-requests/${r.id}/items`,
      `/v1/sharing-requests/${r.id}/events`,
    ]) {
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(outsider.keys.admin) });
      expectProblem(res, 404, 'SHARING_REQUEST_NOT_FOUND');
    }
    const cancel = await t.app.inject({
      method: 'POST',
      url: `/v1/sharing-requests/${r.id}/cancel`,
      headers: bearer(outsider.keys.partner),
      payload: {},
    });
    expectProblem(cancel, 404, 'SHARING_REQUEST_NOT_FOUND');
    const list = await t.app.inject({
      method: 'GET',
      url: '/v1/sharing-requests',
      headers: bearer(outsider.keys.admin),
    });
    expect(list.json<{ items: unknown[] }>().items).toEqual([]);
    // The requester cannot read the provider's specimens or donors either.
    await runProposalJob(t, r.id);
    const provided = await items(r.id, 'provider');
    const spec = await requester.call('GET', `/v1/specimens/${provided[0]!.specimen!.id}`, undefined, {
      role: 'manager',
    });
    expect(spec.statusCode).toBe(404);
    const partnerList = await requester.call('GET', '/v1/sharing-requests?side=requester');
    expect(partnerList.json<{ items: { id: string }[] }>().items.map((i) => i.id)).toContain(r.id);
    expect(
      (await requester.call('GET', '/v1/sharing-requests?side=provider')).json<{ items: unknown[] }>().items,
    ).toEqual([]);
    await requester.call('POST', `/v1/sharing-requests/${r.id}/cancel`, {});
  });

  it('keeps a draft cancelled before it was submitted from the provider, and tells it nothing', async () => {
    const created = await requester.call('POST', '/v1/sharing-requests', requestBody());
    const id = created.json<RequestBody>().id;
    const cancelled = await requester.call('POST', `/v1/sharing-requests/${id}/cancel`, {
      reason: 'not needed',
    });
    expect(cancelled.json<RequestBody>().state, cancelled.body).toBe('cancelled');
    for (const url of [
      `/v1/sharing-requests/${id}`,
      `/v1/sharing-requests/${id}/items`,
      `/v1/sharing-requests/${id}/events`,
    ]) {
      expectProblem(await provider.lab.get(url), 404, 'SHARING_REQUEST_NOT_FOUND');
    }
    const listed = await provider.lab.get('/v1/sharing-requests?side=provider&state=cancelled&limit=100');
    expect(listed.json<{ items: { id: string }[] }>().items.map((i) => i.id)).not.toContain(id);
    const notices = await t.sql.query(
      `select 1 from outbox o join sharing_request_event e on e.id = (o.payload->>'eventId')::bigint
        where o.job_name = 'sharing.notifyTransition' and e.request_id = $1`,
      [id],
    );
    expect(notices.rowCount).toBe(0);
    // The requester still reads its own cancelled draft.
    expect((await requester.call('GET', `/v1/sharing-requests/${id}`)).statusCode).toBe(200);
  });

  it("answers 404 to another requester of the same provider, and for the provider's donors and custody", async () => {
    const r = await submitted();
    await runProposalJob(t, r.id);
    const rival = await makeRequester(t);
    await makeAgreement(provider, rival.institution.id);
    for (const url of [`/v1/sharing-requests/${r.id}`, `/v1/sharing-requests/${r.id}/items`]) {
      expectProblem(await rival.call('GET', url), 404, 'SHARING_REQUEST_NOT_FOUND');
    }
    const rivalList = await rival.call('GET', '/v1/sharing-requests');
    expect(rivalList.json<{ items: unknown[] }>().items).toEqual([]);
    // The requester's own managers, who may read participants and custody at home, get 404 here.
    const tube = (await items(r.id, 'provider'))[0]!.specimen!;
    const { rows } = await t.sql.query<{ participant_id: string }>(
      'select participant_id from specimen where id = $1',
      [tube.id],
    );
    expect(rows[0]!.participant_id).toBeTruthy();
    for (const url of [
      `/v1/participants/${rows[0]!.participant_id}`,
      `/v1/specimens/${tube.id}/custody`,
      `/v1/specimens/by-barcode/${tube.barcode}`,
    ]) {
      const res = await requester.call('GET', url, undefined, { role: 'manager' });
      expect(res.statusCode, url).toBe(404);
    }
    await requester.call('POST', `/v1/sharing-requests/${r.id}/cancel`, {});
  });

  it('keeps provider actions from the requester and requester actions from the provider', async () => {
    const r = await submitted();
    expectProblem(
      await requester.call('POST', `/v1/sharing-requests/${r.id}/start-review`, {}, { role: 'manager' }),
      403,
      'FORBIDDEN',
    );
    expectProblem(
      await requester.call('POST', `/v1/sharing-requests/${r.id}/start-review`, {}),
      403,
      'FORBIDDEN',
    );
    expectProblem(await provider.lab.post(`/v1/sharing-requests/${r.id}/cancel`, {}), 403, 'FORBIDDEN');
    expectProblem(
      await provider.lab.post(`/v1/sharing-requests/${r.id}/start-review`, {}, { role: 'technician' }),
      403,
      'FORBIDDEN',
    );
    await requester.call('POST', `/v1/sharing-requests/${r.id}/cancel`, {});
  });
});
