import { sql, type SQL } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../src/db/transaction.js';
import { readCatalogueFacts } from '../src/modules/sharing/catalogue-facts.read-model.js';
import { shareableSpecimens } from '../src/modules/sharing/shareable-specimens.read-model.js';
import { countCatalogue } from '../src/modules/sharing/sharing.catalogue.count.js';
import { byWholeYears } from '../src/modules/sharing/sharing.catalogue.disclosure.js';
import { buildSnapshot } from '../src/modules/sharing/sharing.catalogue.snapshot.js';
import { compileCriteria, criteriaSchema } from '../src/modules/sharing/sharing.criteria.js';
import type { Use } from '../src/vocabulary/uses.js';
import { graphqlRequests } from './helpers/graphql.js';
import { expectProblem, fieldsOf, uid, type ContainerBody } from './helpers/inventory.js';
import {
  makeAgreement,
  makeProvider,
  makeRequester,
  type Provider,
  type Requester,
} from './helpers/sharing.js';
import { bearer, createTestApp, systemCtx, type TestApp } from './helpers/test-app.js';

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

/** Every number an answer shows (group keys' ages aside). */
const numbers = (value: unknown): number[] =>
  typeof value === 'number'
    ? [value]
    : Array.isArray(value)
      ? value.flatMap(numbers)
      : value && typeof value === 'object'
        ? Object.entries(value).flatMap(([k, v]) => (k === 'ageBand' ? [] : numbers(v)))
        : [];

const groupsOf = (x: Answer) => x.groups.map((g) => ({ ...g.key, samples: g.samples, donors: g.donors }));

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

describe('grouping', () => {
  const by = async (groupBy: string) =>
    groupsOf(await answer(requester, { use: 'external_sharing', groupBy }));

  it('groups by provider, specimen type, diagnosis and chapter, naming only groups of 5 or more', async () => {
    expect(await by('provider')).toEqual([{ provider: a.lab.institution.code, samples: 15, donors: 15 }]);
    expect(await by('specimenType')).toEqual([
      { specimenType: 'plasma', samples: 10, donors: 10 },
      { specimenType: 'serum', samples: 5, donors: 5 },
    ]);
    expect(await by('diagnosis')).toEqual([
      { diagnosis: 'C50.9', samples: 10, donors: 10 },
      { diagnosis: 'I21.9', samples: 5, donors: 5 },
    ]);
    expect(await by('diagnosisChapter')).toEqual([
      { diagnosisChapter: 'II', samples: 10, donors: 10 },
      { diagnosisChapter: 'IX', samples: 5, donors: 5 },
    ]);
  });

  it('groups by anatomic site, sex, age band, storage temperature and disease area', async () => {
    // The three tubes with no site (and the three donors of sex "other") are a group below 5.
    expect(await by('anatomicSite')).toEqual([
      { anatomicSite: 'left arm', samples: 10, donors: 10 },
      { anatomicSite: 'right arm', samples: 5, donors: 5 },
    ]);
    expect(await by('sex')).toEqual([
      { sex: 'female', samples: 10, donors: 10 },
      { sex: 'male', samples: 5, donors: 5 },
    ]);
    expect(await by('ageBand')).toEqual([
      { ageBand: 50, samples: 10, donors: 10 },
      { ageBand: 30, samples: 5, donors: 5 },
    ]);
    expect(await by('storageTemperature')).toEqual([
      { storageTemperature: '-60 °C to -85 °C', samples: 10, donors: 10 },
      { storageTemperature: '<-135 °C', samples: 5, donors: 5 },
    ]);
    expect(await by('diseaseArea')).toEqual([
      { diseaseArea: 'tumour', samples: 10, donors: 10 },
      { diseaseArea: 'pan_vascular', samples: 5, donors: 5 },
    ]);
  });

  it('groups by several dimensions at once, within the criteria', async () => {
    const x = await answer(requester, {
      use: 'external_sharing',
      groupBy: 'specimenType,sex',
      criteria: { ageBands: [30, 50] },
    });
    expect(groupsOf(x)).toEqual([
      { specimenType: 'plasma', sex: 'female', samples: 10, donors: 10 },
      { specimenType: 'serum', sex: 'male', samples: 5, donors: 5 },
    ]);
    const exactGroups = await exact([a.lab.institution.id], 'external_sharing', {}, ['specimenType', 'sex']);
    expect(exactGroups.groups).toContainEqual({
      key: { specimenType: 'plasma', sex: 'other' },
      samples: 3,
      donors: 3,
    });
  });
});

describe('small counts', () => {
  it('shows every count rounded down to a multiple of 5, or "<5" (zero included)', async () => {
    const answers = [
      await answer(requester, { use: 'external_sharing', groupBy: 'sex' }),
      await answer(requester, { use: 'external_sharing', criteria: { sex: ['other'] } }),
      await answer(requester, { use: 'commercial_use' }),
      await answer(requester, { use: 'genetic_research', groupBy: 'provider,diagnosis' }),
    ];
    expect(answers[1]!.fit).toEqual({ samples: '<5', donors: '<5' });
    expect(answers[2]!.providers).toEqual([]);
    expect(answers[2]!.shareable).toEqual({ samples: '<5', donors: '<5' });
    for (const x of answers) for (const n of numbers(x)) expect(n >= 5 && n % 5 === 0, `${n}`).toBe(true);
  });

  it('does not give away a group of 3 by subtracting the named groups from the total', async () => {
    const x = await answer(requester, { use: 'external_sharing', groupBy: 'sex' });
    expect(x.groups.map((g) => g.key.sex)).toEqual(['female', 'male']);
    const visible = x.groups.reduce((sum, g) => sum + (g.samples as number), 0);
    // Exactly: 19 - 10 - 6 = 3 donors of sex "other"; shown: 15 - 10 - 5 = 0.
    expect((x.fit.samples as number) - visible).toBe(0);
    const raw = await exact([a.lab.institution.id], 'external_sharing', {}, ['sex']);
    expect(
      raw.fit.samples - raw.groups.filter((g) => g.key.sex !== 'other').reduce((n, g) => n + g.samples, 0),
    ).toBe(3);
  });

  it('does not give away a small count by subtracting one filtered answer from another', async () => {
    const all = await answer(requester, { use: 'external_sharing' });
    const notOther = await answer(requester, {
      use: 'external_sharing',
      criteria: { sex: ['female', 'male'] },
    });
    // Exactly 19 and 16: the difference would be the 3 donors of sex "other".
    const rawAll = await exact([a.lab.institution.id], 'external_sharing');
    const rawNotOther = await exact([a.lab.institution.id], 'external_sharing', { sex: ['female', 'male'] });
    expect(rawAll.fit.samples - rawNotOther.fit.samples).toBe(3);
    expect(notOther.fit).toEqual(all.fit);
    expect(notOther.excludedBy).toEqual([{ criterion: 'sex', samples: '<5', donors: '<5' }]);
    // Nor by moving a date by a day: dates count by whole years.
    const fromDay = await answer(requester, {
      use: 'external_sharing',
      criteria: { collectedFrom: '2023-05-03' },
    });
    const fromYear = await answer(requester, {
      use: 'external_sharing',
      criteria: { collectedFrom: '2023-01-01' },
    });
    expect(fromDay.criteria).toEqual({ collectedFrom: '2023-01-01' });
    expect({ ...fromDay, asOf: null }).toEqual({ ...fromYear, asOf: null });
  });

  it('answers no barcode, participant or date finer than a year', async () => {
    const x = await answer(requester, {
      use: 'external_sharing',
      groupBy: 'provider,specimenType',
      criteria: { collectedFrom: '2023-03-04', collectedTo: '2024-07-08' },
    });
    const { asOf, ...rest } = x;
    expect(Date.parse(asOf)).not.toBeNaN();
    const text = JSON.stringify(rest);
    const rows = await t.sql.query<{ barcode: string; participant_id: string | null }>(
      'select barcode, participant_id from specimen where institution_id = $1',
      [a.lab.institution.id],
    );
    for (const r of rows.rows) {
      expect(text).not.toContain(r.barcode);
      if (r.participant_id) expect(text).not.toContain(r.participant_id);
    }
    expect(text.match(/\d{4}-\d{2}-\d{2}/g)).toEqual(['2023-01-01', '2024-12-31']);
  });
});

describe('whose specimens are counted', () => {
  it('counts only providers whose agreement with the caller covers the use on this day', async () => {
    const expired = await makeProvider(t);
    const future = await makeProvider(t);
    const other = await makeProvider(t);
    const elsewhere = await makeRequester(t);
    await makeAgreement(expired, requester.institution.id, {
      validFrom: '2020-01-01',
      validUntil: '2021-12-31',
    });
    await makeAgreement(future, requester.institution.id, { validFrom: '2099-01-01' });
    await makeAgreement(other, elsewhere.institution.id);
    for (const p of [expired, future, other]) {
      const box = await p.box();
      for (let i = 0; i < 5; i++) await p.specimen(await p.donor(), box);
    }
    const codes = (x: Answer) => x.providers.map((p) => p.code).sort();
    const ext = await answer(requester, { use: 'external_sharing', groupBy: 'provider' });
    expect(codes(ext)).toEqual([a.lab.institution.code]);
    expect(ext.groups.map((g) => g.key.provider)).toEqual([a.lab.institution.code]);
    const gen = await answer(requester, { use: 'genetic_research', groupBy: 'provider' });
    expect(codes(gen)).toEqual([a.lab.institution.code, b.lab.institution.code].sort());
    expect(groupsOf(gen)).toContainEqual({ provider: b.lab.institution.code, samples: 5, donors: 5 });
    expect(gen.providers.find((p) => p.code === b.lab.institution.code)).toMatchObject({
      id: b.lab.institution.id,
      name: b.lab.institution.name,
    });
    // The other requester sees its own provider only; a provider never sees its own specimens.
    const theirs = await answer(elsewhere, { use: 'external_sharing', groupBy: 'provider' });
    expect(codes(theirs)).toEqual([other.lab.institution.code]);
    expect(groupsOf(theirs)).toEqual([{ provider: other.lab.institution.code, samples: 5, donors: 5 }]);
    const own = await catalogue(requester, { use: 'external_sharing' }, 'manager');
    expect(own.statusCode).toBe(200);
    const asProvider = await a.lab.get('/v1/catalogue?use=external_sharing');
    expect(asProvider.json<Answer>().providers).toEqual([]);
  });

  it('leaves out tubes on hold, QC-failed, unconsented for the use or withdrawn, and tubes out of stock', async () => {
    const d = await makeProvider(t);
    const asker = await makeRequester(t);
    await makeAgreement(d, asker.institution.id, { uses: ['external_sharing', 'genetic_research'] });
    const box = await d.box();
    for (let i = 0; i < 5; i++) await d.specimen(await d.donor(), box);
    await d.specimen(await d.donor({ EXTERNAL_SHARING: 'no' }), box);
    const held = await d.specimen(await d.donor(), box);
    await d.lab.action(held.id, 'place-hold', { reason: 'QUARANTINE' });
    const failed = await d.specimen(await d.donor(), box);
    await inTransaction(t.c.db, systemCtx(t.c), (tx) =>
      t.c.services.ledger.recordQcStatus(tx, [{ id: failed.id, version: failed.version, qcStatus: 'fail' }]),
    );
    const withdrawing = await d.donor();
    await d.specimen(withdrawing, box);
    const consents = (await d.lab.get(`/v1/consents?participantId=${withdrawing}`)).json<{
      items: { id: string }[];
    }>();
    const w = await d.lab.post(`/v1/consents/${consents.items[0]!.id}/withdraw`, {
      scope: 'stop_future_use',
    });
    expect(w.statusCode, w.body).toBe(202);
    const used = await d.specimen(await d.donor(), box);
    await d.lab.action(used.id, 'consume', { quantity: 1 });

    const ids = [d.lab.institution.id];
    expect((await exact(ids, 'external_sharing')).shareable).toEqual({ samples: 5, donors: 5 });
    expect((await exact(ids, 'genetic_research')).shareable).toEqual({ samples: 6, donors: 6 });
    const x = await answer(asker, { use: 'genetic_research', groupBy: 'provider' });
    expect(groupsOf(x)).toEqual([{ provider: d.lab.institution.code, samples: 5, donors: 5 }]);
  });

  it('answers an institution with no agreement an empty catalogue', async () => {
    const lonely = await makeRequester(t);
    const x = await answer(lonely, { use: 'external_sharing', criteria: { sex: ['female'] } });
    expect(x).toMatchObject({
      providers: [],
      shareable: { samples: '<5', donors: '<5' },
      fit: { samples: '<5', donors: '<5' },
      excludedBy: [{ criterion: 'sex', samples: '<5', donors: '<5' }],
      groups: [],
    });
  });
});

describe('fitness for purpose', () => {
  const criteria = {
    specimenTypes: ['plasma'],
    minAvailableQuantity: { value: 0.5, unit: 'mL' },
    collectedFrom: '2024-01-01',
    sex: ['female', 'other'],
  };

  it('counts what fits and what each criterion alone excluded', async () => {
    // The first woman's tube was split: none of its tubes holds 0.5 mL any more.
    const raw = await exact([a.lab.institution.id], 'external_sharing', criteria);
    expect(raw.fit).toEqual({ samples: 12, donors: 12 });
    expect(raw.excludedBy).toEqual([
      { criterion: 'specimenTypes', samples: 0, donors: 0 },
      { criterion: 'minAvailableQuantity', samples: 1, donors: 1 },
      { criterion: 'collectedFrom', samples: 0, donors: 0 },
      { criterion: 'sex', samples: 0, donors: 0 },
    ]);
    const inMicrolitres = await exact([a.lab.institution.id], 'external_sharing', {
      ...criteria,
      minAvailableQuantity: { value: 500, unit: 'uL' },
    });
    expect(inMicrolitres.excludedBy[1]).toEqual(raw.excludedBy[1]);
    // Without the sex criterion, the six men still fail three others: excluded by none alone.
    const x = await answer(requester, { use: 'external_sharing', criteria });
    expect(x.fit).toEqual({ samples: 10, donors: 10 });
    expect(x.excludedBy.map((e) => [e.criterion, e.samples])).toEqual([
      ['specimenTypes', '<5'],
      ['minAvailableQuantity', '<5'],
      ['collectedFrom', '<5'],
      ['sex', '<5'],
    ]);
    const wide = await answer(requester, { use: 'external_sharing', criteria: { specimenTypes: ['serum'] } });
    expect(wide.excludedBy).toEqual([{ criterion: 'specimenTypes', samples: 10, donors: 10 }]);
  });

  /** Distinct roots and donors of the compiled criteria in SQL, as proposals select. */
  async function inSql(use: Use, criteria: unknown) {
    const parsed = criteriaSchema.parse(criteria);
    const { from, base } = shareableSpecimens({
      providerInstitutionIds: [a.lab.institution.id, b.lab.institution.id],
      use,
      today: t.c.services.consentGate.today(),
    });
    const compiled = compileCriteria(parsed);
    const count = async (preds: SQL[]) => {
      const res = await t.c.db.execute<{ samples: number; donors: number }>(sql`
        select count(distinct s.root_id)::int as samples, count(distinct s.participant_id)::int as donors
          from ${from} where ${sql.join([base, ...preds], sql` and `)}`);
      return res.rows[0]!;
    };
    const fit = await count(compiled.map((c) => c.predicate));
    const excludedBy = await Promise.all(
      compiled.map(async (c, i) => {
        const without = await count(compiled.filter((_, j) => j !== i).map((x) => x.predicate));
        return {
          criterion: c.field,
          samples: without.samples - fit.samples,
          donors: without.donors - fit.donors,
        };
      }),
    );
    return { fit, excludedBy };
  }

  it('means by each criterion what the SQL compiler means for proposals', async () => {
    const documents: unknown[] = [
      {},
      { specimenTypes: ['plasma'] },
      { minAvailableQuantity: { value: 0.5, unit: 'mL' } },
      { minAvailableQuantity: { value: 300, unit: 'uL' } },
      { minAvailableQuantity: { value: 1, unit: 'mg' } },
      { maxFreezeThawCount: 0 },
      { sprec: { preCentrifugation: ['A'] } },
      { sprec: { longTermStorage: ['D'] } },
      { sprec: { longTermStorageAtOrBelowC: -60 } },
      { qcPassed: true },
      { collectedFrom: '2024-01-01' },
      { collectedTo: '2023-12-31' },
      { diagnoses: ['C50'] },
      { diagnoses: ['IX', 'c50.9'] },
      { sex: ['male', 'other'] },
      { ageBands: [30, 50] },
      {
        specimenTypes: ['plasma', 'serum'],
        sex: ['female', 'male'],
        ageBands: [50],
        sprec: { preCentrifugation: ['A'] },
        collectedTo: '2024-12-31',
        minAvailableQuantity: { value: 0.3, unit: 'mL' },
      },
    ];
    for (const use of ['external_sharing', 'genetic_research'] as const)
      for (const doc of documents) {
        const mine = await exact([a.lab.institution.id, b.lab.institution.id], use, doc);
        const theirs = await inSql(use, doc);
        expect({ fit: mine.fit, excludedBy: mine.excludedBy }, `${use} ${JSON.stringify(doc)}`).toEqual(
          theirs,
        );
      }
  });
});

describe('bad questions', () => {
  it('refuses bad criteria with 400 naming the field, and a bad use or grouping', async () => {
    const fields = async (query: Parameters<typeof catalogue>[1]) =>
      fieldsOf(expectProblem(await catalogue(requester, query), 400, 'VALIDATION_FAILED'));
    expect(await fields({ use: 'external_sharing', criteria: { specimenTypes: ['blood'] } })).toEqual([
      'querystring.criteria.specimenTypes.0',
    ]);
    expect(
      await fields({ use: 'external_sharing', criteria: { sprec: { preCentrifugation: ['AB'] } } }),
    ).toEqual(['querystring.criteria.sprec.preCentrifugation.0']);
    expect(await fields({ use: 'external_sharing', criteria: { colour: 'red' } })).toEqual([
      'querystring.criteria.colour',
    ]);
    const member = expectProblem(
      await catalogue(requester, { use: 'external_sharing', criteria: { colour: 'red' } }),
      400,
      'VALIDATION_FAILED',
    );
    expect(member.errors![0]!.message).toBe('unknown field');
    expect(await fields({ use: 'external_sharing', criteria: '{"sex": [' })).toEqual([
      'querystring.criteria',
    ]);
    expect(await fields({ criteria: {} })).toEqual(['querystring.use']);
    expect(await fields({ use: 'everything' })).toEqual(['querystring.use']);
    expect(await fields({ use: 'external_sharing', groupBy: 'colour' })).toEqual(['querystring.groupBy.0']);
    expect(await fields({ use: 'external_sharing', groupBy: 'sex,sex' })).toEqual(['querystring.groupBy']);
    expect(await fields({ use: 'external_sharing', groupBy: 'diagnosis,diagnosisChapter' })).toEqual([
      'querystring.groupBy',
    ]);
    expect(await fields({ use: 'external_sharing', groupBy: 'sex,provider,ageBand,diseaseArea' })).toEqual([
      'querystring.groupBy',
    ]);
  });

  it('refuses roles that may not request specimens', async () => {
    expectProblem(await catalogue(requester, { use: 'external_sharing' }, 'technician'), 403, 'FORBIDDEN');
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/catalogue?use=external_sharing',
      headers: bearer(requester.keys.integration),
    });
    expectProblem(res, 403, 'FORBIDDEN');
  });
});

describe('GraphQL', () => {
  const { gql, ok } = graphqlRequests(
    () => t,
    () => requester.keys.partner,
  );
  const QUERY = `query ($criteria: JSON) {
    catalogue(use: external_sharing, groupBy: [sex, specimenType], criteria: $criteria) {
      use providers { code agreementId } criteria groupBy
      shareable { samples donors } fit { samples donors }
      excludedBy { criterion samples donors }
      groups { key { sex specimenType provider } samples donors }
    }
  }`;

  it('answers what REST answers', async () => {
    const criteria = { sex: ['female', 'male'], collectedFrom: '2023-06-01' };
    const data = await ok<{ catalogue: Record<string, unknown> }>(QUERY, { criteria });
    const rest = await answer(requester, { use: 'external_sharing', groupBy: 'sex,specimenType', criteria });
    expect(data.catalogue).toEqual({
      use: rest.use,
      providers: rest.providers.map((p) => ({ code: p.code, agreementId: p.agreementId })),
      criteria: rest.criteria,
      groupBy: rest.groupBy,
      shareable: rest.shareable,
      fit: rest.fit,
      excludedBy: rest.excludedBy,
      groups: rest.groups.map((g) => ({
        key: { provider: null, ...g.key },
        samples: g.samples,
        donors: g.donors,
      })),
    });
    expect(data.catalogue.fit).toEqual({ samples: 15, donors: 15 });
  });

  it('refuses bad criteria with VALIDATION_FAILED naming the field', async () => {
    const body = await gql(QUERY, { criteria: { ageBands: [45] } });
    expect(body.errors?.[0]?.extensions).toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [{ field: 'criteria.ageBands.0' }],
    });
    // Enum words inside the criteria literal are read as their names.
    const literal = await gql(
      `{ catalogue(use: external_sharing, criteria: { specimenTypes: [plasma] }) { fit { samples } } }`,
    );
    expect(literal.errors).toBeUndefined();
    // Unknown members one by one, at any depth, as REST names them.
    const unknown = await gql(QUERY, { criteria: { a: 1, sprec: { preCentrifugatio: ['A'] } } });
    expect(unknown.errors?.[0]?.extensions).toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [
        { field: 'criteria.sprec.preCentrifugatio', message: 'unknown field' },
        { field: 'criteria.a', message: 'unknown field' },
      ],
    });
  });
});
