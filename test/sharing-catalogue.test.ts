import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCatalogueFacts } from '../src/modules/sharing/catalogue-facts.read-model.js';
import { countCatalogue } from '../src/modules/sharing/sharing.catalogue.count.js';
import { byWholeYears } from '../src/modules/sharing/sharing.catalogue.disclosure.js';
import { buildSnapshot } from '../src/modules/sharing/sharing.catalogue.snapshot.js';
import { criteriaSchema } from '../src/modules/sharing/sharing.criteria.js';
import type { Use } from '../src/vocabulary/uses.js';
import { uid, type ContainerBody } from './helpers/inventory.js';
import {
  makeAgreement,
  makeProvider,
  makeRequester,
  type Provider,
  type Requester,
} from './helpers/sharing.js';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// The partner catalogue on real rows: what it counts (shareable for the use, across the providers
// whose agreements cover it, samples as MIABIS counts them), how it groups, what it shows (counts
// rounded down to 5, "<5" below, small groups unnamed) and that subtracting answers does not
// recover a small count. Every answer is read from a fresh snapshot (CATALOGUE_TTL_MS=0).

let t: TestApp;
let a: Provider;
let b: Provider;
let requester: Requester;
const TIERS = ['GENETIC_RESEARCH', 'EXTERNAL_SHARING', 'COMMERCIAL_USE'];

type Count = number | '<5';
interface Answer {
  use: Use;
  asOf: string;
  providers: { id: string; code: string; name: string; agreementId: string }[];
  criteria: Record<string, unknown>;
  groupBy: string[];
  shareable: { samples: Count; donors: Count };
  fit: { samples: Count; donors: Count };
  excludedBy: { criterion: string; samples: Count; donors: Count }[];
  groups: { key: Record<string, string | number | null>; samples: Count; donors: Count }[];
}

async function catalogue(
  who: Requester,
  query: { use?: string; groupBy?: string; criteria?: unknown },
  role: 'partner' | 'manager' | 'technician' = 'partner',
) {
  const params = new URLSearchParams();
  if (query.use) params.set('use', query.use);
  if (query.groupBy) params.set('groupBy', query.groupBy);
  if (query.criteria !== undefined)
    params.set(
      'criteria',
      typeof query.criteria === 'string' ? query.criteria : JSON.stringify(query.criteria),
    );
  return who.call('GET', `/v1/catalogue?${params.toString()}`, undefined, { role });
}

async function answer(who: Requester, query: { use: string; groupBy?: string; criteria?: unknown }) {
  const res = await catalogue(who, query);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Answer>();
}

/** Exact counts over a fresh snapshot, for what the public answer only rounds. */
async function exact(providerIds: string[], use: Use, criteria: unknown = {}, groupBy: string[] = []) {
  const today = t.c.services.consentGate.today();
  const snapshot = buildSnapshot(await readCatalogueFacts(t.c.db, today), new Date(), today);
  return countCatalogue(snapshot, {
    providerIds,
    use,
    criteria: byWholeYears(criteriaSchema.parse(criteria)),
    groupBy: groupBy as never,
    listed: () => true,
  });
}

/** A protocol of the provider's lab with its own disease area, and a donor helper for it. */
async function cohort(p: Provider, diseaseArea: string) {
  const res = await p.lab.post('/v1/protocols', {
    code: uid('P'),
    title: `${diseaseArea} cohort`,
    ethicsApprovalRef: 'EC-9',
    consentTiers: TIERS,
    diseaseArea,
  });
  expect(res.statusCode, res.body).toBe(201);
  const protocolId = res.json<{ id: string }>().id;
  return {
    protocolId,
    async donor(extra: Record<string, unknown>, responses: Record<string, string> = {}) {
      const d = await p.lab.post('/v1/participants', {
        protocolId,
        protocolParticipantId: uid('D'),
        ...extra,
      });
      expect(d.statusCode, d.body).toBe(201);
      const participantId = d.json<{ id: string }>().id;
      const c = await p.lab.post('/v1/consents', {
        participantId,
        documentVersion: 'v1',
        signedOn: '2023-01-10',
        obtainedBy: 'nurse-1',
        responses: { ...Object.fromEntries(TIERS.map((tier) => [tier, 'yes'])), ...responses },
      });
      expect(c.statusCode, c.body).toBe(201);
      return participantId;
    },
  };
}

/** A box in a liquid-nitrogen tank at -190 °C. */
async function ln2Box(p: Provider): Promise<ContainerBody> {
  const tank = await p.lab.container({ kind: 'ln2_tank', temperatureC: -190 });
  const rack = await p.lab.container({ kind: 'rack', parentId: tank.id, grid: { rows: 2, cols: 2 } });
  return p.lab.container({ kind: 'box', parentId: rack.id, slot: 'A1', grid: { rows: 9, cols: 9 } });
}

beforeAll(async () => {
  t = await createTestApp({ env: { CATALOGUE_TTL_MS: '0' } });
  [a, b, requester] = await Promise.all([makeProvider(t), makeProvider(t), makeRequester(t)]);
  await makeAgreement(a, requester.institution.id, { uses: ['external_sharing', 'genetic_research'] });
  await makeAgreement(b, requester.institution.id, { uses: ['genetic_research'] });

  // Provider A. Tumour protocol: 10 women born 1970, breast cancer, one plasma tube each in a
  // -80 °C box, collected 2024; the first one's tube split into three aliquots (still one sample).
  const box = await a.box();
  for (let i = 0; i < 10; i++) {
    const s = await a.specimen(await a.donor(), box, { anatomicSite: 'left arm' });
    if (i === 0) {
      const res = await a.lab.post(`/v1/specimens/${s.id}/aliquots`, {
        aliquots: [1, 2, 3].map((n) => ({ quantity: 0.2, containerId: box.id, position: `I${n}` })),
      });
      expect(res.statusCode, res.body).toBe(201);
    }
  }
  // Pan-vascular protocol: 6 men born 1985, myocardial infarction, serum in an LN2 tank, 2023.
  const heart = await cohort(a, 'pan_vascular');
  const cold = await ln2Box(a);
  for (let i = 0; i < 6; i++) {
    const donor = await heart.donor({ sex: 'male', birthYear: 1985, diagnoses: ['I21.9'] });
    await a.specimen(null, cold, {
      participantId: donor,
      protocolId: heart.protocolId,
      type: 'serum',
      quantity: 2,
      collectedAt: '2023-05-02T09:00:00Z',
      anatomicSite: 'right arm',
      position: `A${i + 1}`,
    });
  }
  // Three donors of sex "other" (a group below 5).
  for (let i = 0; i < 3; i++) await a.specimen(await a.donor({}, { sex: 'other' }), box);
  // Provider B: 7 plasma tubes for genetic research only (its agreement covers nothing else).
  const bBox = await b.box();
  for (let i = 0; i < 7; i++) await b.specimen(await b.donor(), bBox);
}, 120_000);
afterAll(() => t.close());

describe('what the catalogue counts', () => {
  it('counts samples as MIABIS does: a tube and its aliquots are one sample; donors distinct', async () => {
    const raw = await exact([a.lab.institution.id], 'external_sharing');
    expect(raw.shareable).toEqual({ samples: 19, donors: 19 });
    const tubes = await t.sql.query<{ n: number }>(
      `select count(*)::int as n from specimen where institution_id = $1 and status = 'available'`,
      [a.lab.institution.id],
    );
    expect(tubes.rows[0]!.n).toBe(22);
    const shown = await answer(requester, { use: 'external_sharing' });
    expect(shown.providers.map((p) => p.code)).toEqual([a.lab.institution.code]);
    expect(shown.shareable).toEqual({ samples: 15, donors: 15 });
    expect(shown.fit).toEqual(shown.shareable);
    expect(shown.excludedBy).toEqual([]);
  });
});
