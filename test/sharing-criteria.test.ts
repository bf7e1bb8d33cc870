import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consentForUse } from '../src/modules/consent/index.js';
import { compileCriteria, criteriaSchema, type Criteria } from '../src/modules/sharing/sharing.criteria.js';
import { pgArray } from '../src/db/array-literals.js';
import { inTransaction } from '../src/db/transaction.js';
import { USES } from '../src/vocabulary/uses.js';
import { uid } from './helpers/inventory.js';
import { makeProvider, type Provider } from './helpers/sharing.js';
import { createTestApp, systemCtx, type TestApp } from './helpers/test-app.js';

// Fitness-for-purpose criteria compiled to SQL, and the consent module's SQL decision, checked
// against real rows: each criterion keeps exactly the specimens it should, and the consent SQL
// answers what the consent gate answers for every kind of consent.

let t: TestApp;
let provider: Provider;
const today = () => t.c.services.consentGate.today();

beforeAll(async () => {
  t = await createTestApp();
  provider = await makeProvider(t);
});
afterAll(() => t.close());

describe('the consent SQL', () => {
  it('permits exactly the uses the consent gate permits, for every kind of consent', async () => {
    const { lab } = provider;
    const box = await provider.box();
    const noTiers = (
      await lab.post('/v1/protocols', { code: uid('P'), title: 'No tiers', ethicsApprovalRef: 'EC-2' })
    ).json<{ id: string }>().id;
    const ids: string[] = [];
    const add = async (participantId: string | null, extra: Record<string, unknown> = {}) =>
      ids.push((await provider.specimen(participantId, box, extra)).id);

    await add(await provider.donor());
    await add(await provider.donor({ EXTERNAL_SHARING: 'no' }));
    await add(await provider.donor({ GENETIC_RESEARCH: 'unspecified', COMMERCIAL_USE: 'no' }));
    await add(await provider.donor({}, {}));
    await add(null);
    // Expired consent.
    const expiring = await provider.donor();
    const current = (await lab.get(`/v1/consents?participantId=${expiring}`)).json<{
      items: { id: string }[];
    }>();
    await lab.post('/v1/consents', {
      participantId: expiring,
      documentVersion: 'v2',
      signedOn: '2024-02-01',
      obtainedBy: 'nurse-2',
      responses: { EXTERNAL_SHARING: 'yes' },
      expiresOn: '2024-06-01',
    });
    expect(current.items).toHaveLength(1);
    await add(expiring);
    // No consent on file.
    const unconsented = await lab.post('/v1/participants', {
      protocolId: provider.protocolId,
      protocolParticipantId: uid('D'),
    });
    await add(unconsented.json<{ id: string }>().id);
    // A protocol that asks no tiers: internal research only.
    const plain = (
      await lab.post('/v1/participants', { protocolId: noTiers, protocolParticipantId: uid('D') })
    ).json<{ id: string }>().id;
    await lab.post('/v1/consents', {
      participantId: plain,
      documentVersion: 'v1',
      signedOn: '2024-01-10',
      obtainedBy: 'nurse-1',
      responses: {},
    });
    ids.push((await provider.specimen(null, box, { participantId: plain, protocolId: noTiers })).id);
    // A quarantined tube, and a withdrawn consent.
    const held = await provider.specimen(await provider.donor(), box);
    await lab.action(held.id, 'place-hold', { reason: 'QUARANTINE' });
    ids.push(held.id);
    const withdrawing = await provider.donor();
    await add(withdrawing);
    const consent = (await lab.get(`/v1/consents?participantId=${withdrawing}`)).json<{
      items: { id: string }[];
    }>();
    const w = await lab.post(`/v1/consents/${consent.items[0]!.id}/withdraw`, { scope: 'stop_future_use' });
    expect(w.statusCode, w.body).toBe(202);

    const gate = await t.c.services.consent.permittedUses(systemCtx(t.c, lab.institution.id), ids);
    for (const use of USES) {
      const c = consentForUse(use, today());
      const res = await t.c.db.execute<{ id: string; ok: boolean }>(
        sql`select s.id, coalesce(${c.permitted}, false) as ok from specimen s ${c.joins} where s.id = any(${pgArray(ids)}::uuid[])`,
      );
      const sqlAnswer = Object.fromEntries(res.rows.map((r) => [r.id, r.ok]));
      const gateAnswer = Object.fromEntries(ids.map((id) => [id, gate.get(id)!.includes(use)]));
      expect(sqlAnswer, use).toEqual(gateAnswer);
      // The same decision as a semi-join on the consented (donor, protocol) pairs.
      const pairs = await t.c.db.execute<{ id: string; ok: boolean }>(
        sql`select s.id, coalesce(s.holds = '{}' and (s.participant_id is null
              or (s.participant_id, s.protocol_id) in (${c.consentedPairs})), false) as ok
              from specimen s where s.id = any(${pgArray(ids)}::uuid[])`,
      );
      expect(Object.fromEntries(pairs.rows.map((r) => [r.id, r.ok])), `${use} (pairs)`).toEqual(gateAnswer);
    }
    // The cases differ: the check above is not comparing all-false with all-false.
    expect(new Set(ids.map((id) => gate.get(id)!.join(','))).size).toBeGreaterThan(4);
  });
});

describe('criteria compiled to SQL', () => {
  async function passing(criteria: Criteria, ids: string[]): Promise<Record<string, string[]>> {
    const compiled = compileCriteria(criteriaSchema.parse(criteria));
    const out: Record<string, string[]> = {};
    for (const c of compiled) {
      const res = await t.c.db.execute<{ id: string }>(
        sql`select s.id from specimen s left join participant d on d.id = s.participant_id
             where s.id = any(${pgArray(ids)}::uuid[]) and ${c.predicate} order by s.id`,
      );
      out[c.field] = res.rows.map((r) => r.id);
    }
    return out;
  }

  it('keeps, criterion by criterion, exactly the specimens that meet it', async () => {
    const box = await provider.box();
    const young = await provider.donor({}, { sex: 'male', birthYear: 1995, diagnoses: ['J45'] });
    const old = await provider.donor({}, { sex: 'female', birthYear: 1950, diagnoses: ['C50.9', 'I10'] });
    const base = await provider.specimen(old, box); // plasma 1 mL, 2024-03-01, PL1-PED-A-B-N-B-D, age 74
    const serum = await provider.specimen(young, box, {
      type: 'serum',
      quantity: 0.3,
      sprecCode: 'SER-SST-C-B-N-B-Y',
    });
    const late = await provider.specimen(old, box, {
      collectedAt: '2025-01-01T00:30:00Z',
      unit: 'uL',
      quantity: 800,
    });
    const tissue = await provider.specimen(young, box, {
      type: 'fresh_frozen_tissue',
      unit: 'mg',
      quantity: 50,
      sprecCode: 'TIS-SRG-A-B-SNP-A-C',
    });
    const thawed = await provider.specimen(young, box, {
      sprecCode: undefined,
      sprecVersion: undefined,
      collectedAt: '2023-12-31T23:59:00Z',
    });
    await provider.lab.action(thawed.id, 'check-out');
    await provider.lab.action(thawed.id, 'check-in', { thawed: true });
    await inTransaction(t.c.db, systemCtx(t.c), (tx) =>
      t.c.services.ledger.recordQcStatus(tx, [{ id: late.id, version: late.version, qcStatus: 'pass' }]),
    );
    const ids = [base.id, serum.id, late.id, tissue.id, thawed.id];
    const sorted = (...xs: { id: string }[]) => xs.map((x) => x.id).sort();

    const got = await passing(
      {
        specimenTypes: ['plasma', 'serum'],
        minAvailableQuantity: { value: 0.5, unit: 'mL' },
        maxFreezeThawCount: 0,
        sprec: { preCentrifugation: ['A', 'B'], longTermStorage: ['Y', 'C'], longTermStorageAtOrBelowC: -60 },
        qcPassed: true,
        collectedFrom: '2024-01-01',
        collectedTo: '2024-12-31',
        diagnoses: ['C50'],
        sex: ['male'],
        ageBands: [20],
      },
      ids,
    );
    expect(got).toEqual({
      specimenTypes: sorted(base, serum, late, thawed),
      // 800 uL counts as 0.8 mL
      minAvailableQuantity: sorted(base, late, thawed),
      maxFreezeThawCount: sorted(base, serum, late, tissue),
      // a solid code's ninth character is not a pre-centrifugation delay
      'sprec.preCentrifugation': sorted(base, late),
      'sprec.longTermStorage': sorted(serum, tissue),
      'sprec.longTermStorageAtOrBelowC': sorted(base, late, tissue),
      qcPassed: sorted(late),
      // the last minute of 2023 (UTC) is before; 2025-01-01 00:30 UTC is after the 31st
      collectedFrom: sorted(base, serum, late, tissue),
      collectedTo: sorted(base, serum, tissue, thawed),
      diagnoses: sorted(base, late),
      sex: sorted(serum, tissue, thawed),
      // 2024 - 1995 = 29, 2023 - 1995 = 28
      ageBands: sorted(serum, tissue, thawed),
    });
    const chapters = await passing({ diagnoses: ['X', 'II'], ageBands: [70] }, ids);
    expect(chapters).toEqual({
      diagnoses: sorted(serum, tissue, thawed, base, late),
      ageBands: sorted(base, late),
    });
  });
});
