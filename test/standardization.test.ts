import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { standardizeCommand, type CliIo } from '../src/modules/standards/standards.cli.js';
import { createStandardsService } from '../src/modules/standards/standards.service.js';
import {
  bearer,
  createTestApp,
  makeInstitution,
  systemCtx,
  type TestApp,
  until as untilWithin,
} from './helpers/test-app.js';

// Standardization (DESIGN.md section 4): SPREC decoding over REST, SPREC from the record and its
// re-check through the worker after a change, protocol quality rules with QC holds, MIABIS
// collections, and batch runs with progress, per-specimen results and a CSV download.

let t: TestApp;
let keys: Awaited<ReturnType<typeof makeInstitution>>['keys'];
let institutionId: string;
let institutionCode: string;
let protocolId: string;
let coldBox: string;
let warmBox: string;

const post = (token: string, url: string, payload: unknown) =>
  t.app.inject({ method: 'POST', url, headers: bearer(token), payload: payload as object });
const put = (token: string, url: string, payload: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'PUT', url, headers: { ...bearer(token), ...headers }, payload: payload as object });
const get = (token: string, url: string) => t.app.inject({ method: 'GET', url, headers: bearer(token) });

/** Checks run in the worker; a batch run may take a while on a busy machine. */
const until = <T>(fn: () => Promise<T | undefined | null | false>, ms = 20_000) => untilWithin(fn, ms);

interface QcBody {
  qcStatus: string;
  results: { check: string; outcome: string; message: string; details: Record<string, unknown> | null }[];
  history: { check: string; previousOutcome: string; outcome: string }[];
}
const qcOf = async (id: string) => (await get(keys.technician, `/v1/specimens/${id}/qc`)).json<QcBody>();
const resultOf = (qc: QcBody, check: string) => qc.results.find((r) => r.check === check);

let seq = 0;
async function protocol(code: string) {
  const p = await post(keys.manager, '/v1/protocols', {
    code: `${code}-${++seq}`,
    title: `Protocol ${code}`,
    ethicsApprovalRef: 'EC-2024-7',
    consentTiers: ['GENETIC_RESEARCH'],
  });
  expect(p.statusCode, p.body).toBe(201);
  return p.json<{ id: string; code: string }>();
}

async function donor(pid: string, extra: Record<string, unknown> = {}) {
  const p = await post(keys.manager, '/v1/participants', {
    protocolId: pid,
    protocolParticipantId: `D-${++seq}`,
    sex: 'female',
    birthYear: 1970,
    ...extra,
  });
  expect(p.statusCode, p.body).toBe(201);
  const participantId = p.json<{ id: string }>().id;
  const c = await post(keys.manager, '/v1/consents', {
    participantId,
    documentVersion: 'v1',
    signedOn: '2024-01-10',
    obtainedBy: 'nurse-7',
    responses: { GENETIC_RESEARCH: 'yes' },
  });
  expect(c.statusCode, c.body).toBe(201);
  return participantId;
}

async function register(body: Record<string, unknown>) {
  const r = await post(keys.technician, '/v1/specimens', {
    barcode: `ST${Date.now()}${++seq}`,
    quantity: 2,
    containerId: coldBox,
    ...body,
  });
  expect(r.statusCode, r.body).toBe(201);
  return r.json<{ id: string; version: number; holds: string[] }>();
}

/** Waits until the worker has checked the specimen (optionally until a check reads as wanted). */
async function checked(id: string, check = 'custody.chain', outcome?: string) {
  return until(async () => {
    const qc = await qcOf(id);
    const r = resultOf(qc, check);
    return r && (!outcome || r.outcome === outcome) ? qc : null;
  });
}

async function container(body: Record<string, unknown>) {
  const r = await post(keys.manager, '/v1/containers', { barcode: `C${Date.now()}${++seq}`, ...body });
  expect(r.statusCode, r.body).toBe(201);
  return r.json<{ id: string }>().id;
}

beforeAll(async () => {
  t = await createTestApp({ workers: true });
  const inst = await makeInstitution(t);
  keys = inst.keys;
  institutionId = inst.institution.id;
  institutionCode = inst.institution.code;
  // Boxes without a grid (bulk storage) in a -80 °C and a -20 °C freezer.
  coldBox = await container({
    kind: 'box',
    parentId: await container({ kind: 'freezer', temperatureC: -80 }),
  });
  warmBox = await container({
    kind: 'box',
    parentId: await container({ kind: 'freezer', temperatureC: -20 }),
  });
  protocolId = (await protocol('STD')).id;
});
afterAll(() => t.close());

describe('GET /v1/sprec/decode', () => {
  interface Decoded {
    valid: boolean;
    kind: string | null;
    fields: { position: number; charStart: number; name: string; value: string; meaning: string }[];
    errors: { position: number | null; charStart: number | null; field: string | null; reason: string }[];
  }
  const decode = async (code: string, version = '3.0') =>
    (
      await get(keys.technician, `/v1/sprec/decode?code=${encodeURIComponent(code)}&version=${version}`)
    ).json<Decoded>();
  const brief = (d: Decoded) => d.fields.map((f) => [f.position, f.charStart, f.name, f.value, f.meaning]);

  it('decodes the published fluid example SER-SST-A-D-N-A-B field by field', async () => {
    const d = await decode('SER-SST-A-D-N-A-B');
    expect(d).toMatchObject({ valid: true, kind: 'fluid', errors: [] });
    expect(brief(d)).toEqual([
      [1, 1, 'typeOfSample', 'SER', 'Serum'],
      [2, 5, 'primaryContainer', 'SST', 'Serum separator tube with clot activator'],
      [3, 9, 'preCentrifugation', 'A', '<2 h at room temperature'],
      [4, 11, 'centrifugation', 'D', '2–10 °C, 10–15 min, <3000 g, with braking'],
      [5, 13, 'secondCentrifugation', 'N', 'No centrifugation'],
      [6, 15, 'postCentrifugation', 'A', '<1 h at 2–10 °C'],
      [7, 17, 'longTermStorage', 'B', 'PP tube 0.5–2 mL, −35 to −18 °C'],
    ]);
  });

  it('decodes the published solid example TIS-SRG-A-B-NBF-C-P field by field', async () => {
    const d = await decode('TIS-SRG-A-B-NBF-C-P');
    expect(d.kind).toBe('solid');
    expect(brief(d)).toEqual([
      [1, 1, 'typeOfSample', 'TIS', 'Solid tissue'],
      [2, 5, 'typeOfCollection', 'SRG', 'Surgical excision'],
      [3, 9, 'warmIschaemia', 'A', '<2 min'],
      [4, 11, 'coldIschaemia', 'B', '2–10 min'],
      [5, 13, 'fixationType', 'NBF', 'Neutral buffered formalin'],
      [6, 17, 'fixationTime', 'C', '1–4 h'],
      [7, 19, 'longTermStorage', 'P', 'Paraffin block, room temperature or 2–10 °C'],
    ]);
  });

  it('decodes double-spun plasma (PL2) with its second centrifugation', async () => {
    const d = await decode('PL2-PED-A-D-D-A-A', '2.0');
    expect(d.valid).toBe(true);
    expect(brief(d).map(([, , name, value]) => `${String(name)}=${String(value)}`)).toEqual([
      'typeOfSample=PL2',
      'primaryContainer=PED',
      'preCentrifugation=A',
      'centrifugation=D',
      'secondCentrifugation=D',
      'postCentrifugation=A',
      'longTermStorage=A',
    ]);
    expect(d.fields[0]!.meaning).toBe('Plasma, double spun');
    expect(d.fields[4]!.meaning).toBe('2–10 °C, 10–15 min, <3000 g, with braking');
  });

  it('keeps unknown (X) apart from invalid', async () => {
    const d = await get(keys.technician, '/v1/sprec/decode?code=SER-XXX-X-X-X-X-X&version=3.0');
    const body = d.json<{ valid: boolean; fields: { unknown: boolean }[] }>();
    expect(body.valid).toBe(true);
    expect(body.fields.filter((f) => f.unknown)).toHaveLength(6);
  });

  it('gives the position and reason of a malformed code', async () => {
    expect((await decode('SER-SST-A-D-N-A')).errors).toEqual([
      {
        position: null,
        charStart: null,
        field: null,
        reason:
          'expected 7 elements separated by "-" (fluid: 17 characters, solid: 19), found 6 in 15 characters',
      },
    ]);
    const letter = await decode('SER-SST-Q-D-N-A-B');
    expect(letter.valid).toBe(false);
    expect(letter.errors[0]).toMatchObject({ position: 3, charStart: 9, field: 'preCentrifugation' });
    expect(letter.errors[0]!.reason).toMatch(
      /^'Q' is not a fluid pre-centrifugation delay code in SPREC 3\.0/,
    );
    const grammar = await decode('TIS-SRG-A-B-N-C-P');
    expect(grammar.errors[0]).toMatchObject({ position: 1, field: 'typeOfSample' });
    expect(grammar.errors[0]!.reason).toContain(
      "'TIS' is a solid type of sample in SPREC 3.0, but the code has fluid structure",
    );
  });

  it('answers 400 for an unknown version, an empty code or a missing code', async () => {
    const version = await get(keys.technician, '/v1/sprec/decode?code=SER-SST-A-D-N-A-B&version=9.9');
    expect(version.statusCode).toBe(400);
    expect(version.json()).toMatchObject({
      code: 'SPREC_VERSION_UNSUPPORTED',
      errors: [{ field: 'version' }],
    });
    const empty = await get(keys.technician, '/v1/sprec/decode?code=&version=3.0');
    expect(empty.statusCode).toBe(400);
    expect(empty.json()).toMatchObject({ code: 'SPREC_CODE_EMPTY', errors: [{ field: 'code' }] });
    const missing = await get(keys.technician, '/v1/sprec/decode');
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });
});

describe('SPREC from the record, checked by the worker', () => {
  it('flags a stated pre-centrifugation A after 5 h at room temperature, and clears it when the record is corrected', async () => {
    const participantId = await donor(protocolId);
    const s = await register({
      type: 'serum',
      participantId,
      containerId: warmBox,
      collectedAt: '2024-03-05T08:00:00Z',
      processedAt: '2024-03-05T13:00:00Z',
      frozenAt: '2024-03-05T13:30:00Z',
      // Post-centrifugation at 4 °C, so only position 3 disagrees.
      quality: { postCentrifugationTempC: 4 },
      sprecCode: 'SER-SST-A-D-N-A-B',
      sprecVersion: '3.0',
    });
    const flagged = await checked(s.id, 'sprec.record');
    const record = resultOf(flagged, 'sprec.record')!;
    expect(record.outcome).toBe('fail');
    expect(record.details).toMatchObject({
      stated: 'SER-SST-A-D-N-A-B',
      computed: 'SER-XXX-E-X-X-A-B',
      disagreements: [{ position: 3, field: 'preCentrifugation', stated: 'A', computed: 'E' }],
    });
    expect(record.message).toContain('5 h 0 min from collection to processing at room temperature (assumed');
    expect(flagged.qcStatus).toBe('fail');
    const failing = await get(keys.technician, `/v1/specimens?qcStatus=fail&limit=500`);
    expect(failing.json<{ items: { id: string }[] }>().items.map((i) => i.id)).toContain(s.id);

    // The lab corrects the collection time (12:00, not 08:00): the change queues the check again.
    const read = await get(keys.technician, `/v1/specimens/${s.id}`);
    const patch = await t.app.inject({
      method: 'PATCH',
      url: `/v1/specimens/${s.id}`,
      headers: { ...bearer(keys.technician), 'if-match': String(read.headers.etag) },
      payload: { collectedAt: '2024-03-05T12:00:00Z' },
    });
    expect(patch.statusCode, patch.body).toBe(200);
    const cleared = await checked(s.id, 'sprec.record', 'pass');
    expect(resultOf(cleared, 'sprec.record')!.message).toBe(
      'SER-SST-A-D-N-A-B agrees with the record (SER-XXX-A-X-X-A-B): 4 positions compared, 3 unknown',
    );
    expect(cleared.qcStatus).toBe('pass');
    expect(cleared.results.map((r) => [r.check, r.outcome])).toEqual([
      ['consent.on_file', 'pass'],
      ['custody.chain', 'pass'],
      ['miabis.donor', 'pass'],
      ['miabis.sample', 'pass'],
      ['sprec.code', 'pass'],
      ['sprec.record', 'pass'],
    ]);
    expect(cleared.history).toContainEqual(
      expect.objectContaining({ check: 'sprec.record', previousOutcome: 'fail', outcome: 'pass' }),
    );
  });

  it('queues one check per transaction with every specimen it changed (aliquoting notifies twice)', async () => {
    const parent = await register({ type: 'plasma', quantity: 5 });
    await checked(parent.id);
    const requestId = `std-aliquot-${++seq}`;
    const r = await t.app.inject({
      method: 'POST',
      url: `/v1/specimens/${parent.id}/aliquots`,
      headers: { ...bearer(keys.technician), 'x-request-id': requestId },
      payload: { aliquots: [{ quantity: 1 }, { quantity: 1 }, { quantity: 1 }] },
    });
    expect(r.statusCode, r.body).toBe(201);
    const children = r.json<{ children: { id: string }[] }>().children.map((c) => c.id);
    const jobs = await t.sql.query<{ payload: { specimenIds: string[] } }>(
      `select payload from outbox where job_name = 'standards.checkSpecimen' and payload->>'requestId' = $1`,
      [requestId],
    );
    expect(jobs.rows).toHaveLength(1);
    expect([...jobs.rows[0]!.payload.specimenIds].sort()).toEqual([...children, parent.id].sort());
    for (const id of children) await checked(id);
  });
});

describe('protocol quality rules', () => {
  let rulesProtocol: string;
  beforeAll(async () => {
    rulesProtocol = (await protocol('QR')).id;
  });

  it('refuses a rule naming an unknown field with 422 and the field, and malformed rules with 400', async () => {
    const unknown = await put(keys.manager, `/v1/protocols/${rulesProtocol}/quality-rules`, {
      rules: [
        { kind: 'maxFreezeThaw', max: 2 },
        { kind: 'qualityMetric', metric: 'rinn', min: 7 },
        { kind: 'requiredFields', fields: ['collectedAt', 'colour'] },
      ],
    });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json()).toMatchObject({
      code: 'UNKNOWN_RULE_FIELD',
      errors: [
        { field: 'rules.1.metric', code: 'UNKNOWN_RULE_FIELD' },
        { field: 'rules.2.fields.1', code: 'UNKNOWN_RULE_FIELD' },
      ],
    });
    expect(unknown.json<{ detail: string }>().detail).toMatch(
      /^rules\.1\.metric: unknown quality metric 'rinn'/,
    );
    const kind = await put(keys.manager, `/v1/protocols/${rulesProtocol}/quality-rules`, {
      rules: [{ kind: 'maxColour', max: 2 }],
    });
    expect(kind.statusCode).toBe(400);
    const extra = await put(keys.manager, `/v1/protocols/${rulesProtocol}/quality-rules`, {
      rules: [{ kind: 'maxFreezeThaw', max: 2, metric: 'rin' }],
    });
    expect(extra.statusCode).toBe(400);
    expect((await get(keys.manager, `/v1/protocols/${rulesProtocol}/quality-rules`)).json()).toMatchObject({
      version: 0,
      rules: [],
    });
    expect(
      (await put(keys.technician, `/v1/protocols/${rulesProtocol}/quality-rules`, { rules: [] })).statusCode,
    ).toBe(403);
  });

  it('keeps every version; a stale If-Match is refused', async () => {
    const url = `/v1/protocols/${rulesProtocol}/quality-rules`;
    const v1 = await put(
      keys.manager,
      url,
      { rules: [{ kind: 'maxFreezeThaw', max: 5 }] },
      { 'if-match': 'W/"0"' },
    );
    expect(v1.statusCode, v1.body).toBe(200);
    expect(v1.headers.etag).toBe('W/"1"');
    const v2 = await put(
      keys.manager,
      url,
      {
        rules: [
          {
            kind: 'qualityMetric',
            id: 'rin-min',
            types: ['rna'],
            metric: 'rin',
            min: 7,
            holdOnFailure: true,
          },
          { kind: 'maxFreezeThaw', max: 1 },
          { kind: 'maxTimeToFreezing', types: ['serum'], maxHours: 2 },
          { kind: 'storageTemperature', types: ['serum'], minC: -90, maxC: -60 },
          { kind: 'requiredFields', types: ['whole_blood'], fields: ['anatomicSite', 'collectedAt'] },
        ],
      },
      { 'if-match': 'W/"1"' },
    );
    expect(v2.statusCode, v2.body).toBe(200);
    const stale = await put(keys.manager, url, { rules: [] }, { 'if-match': 'W/"1"' });
    expect(stale.statusCode).toBe(412);
    const current = await get(keys.technician, url);
    const body = current.json<{ version: number; rules: Record<string, unknown>[] }>();
    expect(body.version).toBe(2);
    expect(body.rules.map((r) => r.id)).toEqual([
      'rin-min',
      'maxFreezeThaw',
      'maxTimeToFreezing',
      'storageTemperature',
      'requiredFields',
    ]);
    expect(body.rules[0]).toMatchObject({ severity: 'fail', holdOnFailure: true, min: 7 });
    expect((await get(keys.technician, `${url}?version=1`)).json()).toMatchObject({
      version: 1,
      rules: [{ id: 'maxFreezeThaw', max: 5 }],
    });
  });

  it('fails RIN below the minimum and places one QC_FAILED hold, however often it is re-checked', async () => {
    const low = await register({ type: 'rna', protocolId: rulesProtocol, quality: { rin: 6.1 } });
    const ok = await register({ type: 'rna', protocolId: rulesProtocol, quality: { rin: 8.4 } });
    const qc = await checked(low.id, 'rule.rin-min');
    expect(resultOf(qc, 'rule.rin-min')).toMatchObject({
      outcome: 'fail',
      message: "rin 6.1 is below the protocol's at least 7",
    });
    const held = await until(async () => {
      const s = await get(keys.technician, `/v1/specimens/${low.id}`);
      const body = s.json<{ holds: string[]; version: number }>();
      return body.holds.includes('QC_FAILED') ? body : null;
    });
    expect(
      (await checked(ok.id, 'rule.rin-min')).results.find((r) => r.check === 'rule.rin-min')!.outcome,
    ).toBe('pass');
    // A later change re-runs the check; the hold is not placed twice, and the checker's own
    // hold placement queued no check of its own.
    const patch = await t.app.inject({
      method: 'PATCH',
      url: `/v1/specimens/${low.id}`,
      headers: { ...bearer(keys.technician), 'if-match': `W/"${held.version}"` },
      payload: { quality: { rin: 6.0 } },
    });
    expect(patch.statusCode, patch.body).toBe(200);
    await until(
      async () => (await qcOf(low.id)).results.find((r) => r.message.includes('rin 6 '))?.outcome === 'fail',
    );
    const events = await t.sql.query<{ type: string; details: { reason?: string; checks?: string[] } }>(
      `select type, details from custody_event where specimen_id = $1 and type = 'hold_placed'`,
      [low.id],
    );
    expect(events.rows).toEqual([
      { type: 'hold_placed', details: { reason: 'QC_FAILED', checks: ['rule.rin-min'] } },
    ]);
    const verify = await get(keys.technician, `/v1/specimens/${low.id}/custody/verify`);
    expect(verify.json()).toMatchObject({ valid: true });
    const own = await t.sql.query(
      `select 1 from outbox where job_name = 'standards.checkSpecimen' and payload->'specimenIds' ? $1`,
      [low.id],
    );
    // One job for the registration and one for the PATCH: none for the hold placements.
    expect(own.rowCount).toBe(2);
  });

  it('checks freeze-thaw cycles, time to freezing, the storage temperature range and required fields', async () => {
    const serum = await register({
      type: 'serum',
      protocolId: rulesProtocol,
      containerId: warmBox,
      collectedAt: '2024-03-05T08:00:00Z',
      frozenAt: '2024-03-05T12:00:00Z',
    });
    for (let i = 0; i < 2; i++) {
      expect((await post(keys.technician, `/v1/specimens/${serum.id}/check-out`, {})).statusCode).toBe(200);
      expect(
        (await post(keys.technician, `/v1/specimens/${serum.id}/check-in`, { thawed: true })).statusCode,
      ).toBe(200);
    }
    const qc = await until(async () => {
      const q = await qcOf(serum.id);
      return resultOf(q, 'rule.maxFreezeThaw')?.outcome === 'fail' ? q : null;
    });
    expect(resultOf(qc, 'rule.maxFreezeThaw')!.message).toBe('2 freeze-thaw cycles; the protocol allows 1');
    expect(resultOf(qc, 'rule.maxTimeToFreezing')).toMatchObject({
      outcome: 'fail',
      message: 'frozen 4 h 0 min after collection; the protocol allows 2 h',
    });
    expect(resultOf(qc, 'rule.storageTemperature')).toMatchObject({
      outcome: 'fail',
      message: 'stored at -20 °C; the protocol allows -90 to -60 °C for serum',
    });
    expect(resultOf(qc, 'rule.requiredFields')).toBeUndefined();
    // None of these rules asks for a hold.
    expect(
      (await get(keys.technician, `/v1/specimens/${serum.id}`)).json<{ holds: string[] }>().holds,
    ).toEqual([]);

    const blood = await register({ type: 'whole_blood', protocolId: rulesProtocol });
    const bqc = await checked(blood.id, 'rule.requiredFields');
    expect(resultOf(bqc, 'rule.requiredFields')).toMatchObject({
      outcome: 'fail',
      message: 'required fields missing: anatomicSite, collectedAt',
      details: { missing: ['anatomicSite', 'collectedAt'] },
    });
  });
});

describe('GET /v1/miabis/collections', () => {
  it('exports the protocol as a MIABIS collection, counting the aliquots of one sample once', async () => {
    const p = await protocol('MIA');
    const a = await donor(p.id, { sex: 'female', birthYear: 1970, diagnoses: ['C18.0'] });
    const b = await donor(p.id, { sex: 'male', birthYear: 1980, diagnoses: ['C50.9', 'C18.0'] });
    const blood = await register({
      type: 'whole_blood',
      participantId: a,
      quantity: 10,
      collectedAt: '2024-03-05T08:00:00Z',
    });
    const serum = await register({
      type: 'serum',
      participantId: b,
      quantity: 10,
      collectedAt: '2024-02-01T08:00:00Z',
    });
    for (const [id, n] of [
      [blood.id, 3],
      [serum.id, 2],
    ] as const) {
      const r = await post(keys.technician, `/v1/specimens/${id}/aliquots`, {
        aliquots: Array.from({ length: n }, () => ({ quantity: 1, containerId: coldBox })),
      });
      expect(r.statusCode, r.body).toBe(201);
    }
    const res = await get(keys.technician, '/v1/miabis/collections');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ biobank: { id: string }; collections: Record<string, unknown>[] }>();
    const collection = body.collections.find((c) => c.acronym === p.code);
    expect(collection).toEqual({
      id: `${body.biobank.id}:collection:${p.code}`,
      acronym: p.code,
      name: 'Protocol MIA',
      description: `Protocol MIA (collection protocol ${p.code}, ethics approval EC-2024-7)`,
      sampleSource: 'Human',
      sex: ['Female', 'Male'],
      ageLow: 44,
      ageHigh: 54,
      ageLowUnit: 'Years',
      ageHighUnit: 'Years',
      sampleTypes: ['Blood', 'Serum'],
      materials: [
        { sampleType: 'Blood', materialType: 'WHOLE_BLOOD', numberOfSamples: 1 },
        { sampleType: 'Serum', materialType: 'SERUM', numberOfSamples: 1 },
      ],
      storageTemperatures: ['-60 °C to -85 °C'],
      diseases: [
        { ontology: 'ICD-10', code: 'C18.0', uri: 'urn:miriam:icd:C18.0' },
        { ontology: 'ICD-10', code: 'C50.9', uri: 'urn:miriam:icd:C50.9' },
      ],
      // 7 tubes: two samples with their aliquots.
      numberOfSamples: 2,
      totalNumberOfSubjects: 2,
    });
    expect((await get(keys.partner, '/v1/miabis/collections')).statusCode).toBe(403);
  });
});

describe('batch runs', () => {
  const N = 2_000;
  let batchProtocol: string;
  let batchProtocolCode: string;
  const ids: string[] = [];

  interface RunBody {
    id: string;
    status: string;
    total: number | null;
    processed: number;
    progress: number;
    skipped: number;
    specimens: { pass: number; warn: number; fail: number };
    checks: { check: string; pass: number; warn: number; fail: number }[];
  }

  beforeAll(async () => {
    const created = await protocol('BATCH');
    batchProtocol = created.id;
    batchProtocolCode = created.code;
    const rules = await put(keys.manager, `/v1/protocols/${batchProtocol}/quality-rules`, {
      rules: [{ kind: 'storageTemperature', types: ['plasma'], minC: -90, maxC: -60 }],
    });
    expect(rules.statusCode, rules.body).toBe(200);
    // i % 2 == 0 states a SPREC code; i % 4 == 2 (coded) sits in the -20 °C freezer, where the
    // stated long-term storage A (PP tube at -85 to -60 °C) is wrong and the protocol's range fails.
    for (let from = 0; from < N; from += 1000) {
      const r = await post(keys.technician, '/v1/specimens/batch', {
        specimens: Array.from({ length: 1000 }, (_, k) => {
          const i = from + k;
          return {
            barcode: `B${seq}-${i}`,
            type: 'plasma',
            quantity: 1,
            protocolId: batchProtocol,
            collectedAt: '2024-04-01T08:00:00Z',
            containerId: i % 4 === 2 ? warmBox : coldBox,
            ...(i % 2 === 0 ? { sprecCode: 'PL1-PED-X-X-N-X-A', sprecVersion: '3.0' } : {}),
          };
        }),
      });
      expect(r.statusCode, r.body.slice(0, 500)).toBe(201);
      ids.push(...r.json<{ items: { id: string }[] }>().items.map((s) => s.id));
    }
    // The per-specimen checks queued by the registrations finish first.
    await until(async () => {
      const r = await t.sql.query<{ n: number }>(
        `select count(*)::int as n from specimen where protocol_id = $1 and qc_status = 'unchecked'`,
        [batchProtocol],
      );
      return r.rows[0]!.n === 0;
    }, 60_000);
  }, 120_000);

  const expectedChecks = [
    { check: 'custody.chain', pass: N, warn: 0, fail: 0 },
    { check: 'miabis.donor', pass: 0, warn: N, fail: 0 },
    { check: 'miabis.sample', pass: N, warn: 0, fail: 0 },
    { check: 'rule.storageTemperature', pass: N * 0.75, warn: 0, fail: N / 4 },
    { check: 'sprec.code', pass: N / 2, warn: N / 2, fail: 0 },
    { check: 'sprec.record', pass: N / 4, warn: 0, fail: N / 4 },
  ];

  async function runToCompletion(): Promise<{ run: RunBody; seen: number[] }> {
    const started = await post(keys.manager, '/v1/standardization/runs', {
      filter: { protocolId: batchProtocol },
    });
    expect(started.statusCode, started.body).toBe(202);
    expect(started.json()).toMatchObject({ status: 'queued', processed: 0 });
    const seen: number[] = [];
    const run = await until(async () => {
      const r = (
        await get(keys.technician, `/v1/standardization/runs/${started.json<{ id: string }>().id}`)
      ).json<RunBody>();
      seen.push(r.processed);
      return r.status === 'completed' ? r : null;
    }, 60_000);
    return { run, seen };
  }

  it('checks every matching specimen with correct counts, and re-running is idempotent', async () => {
    const first = await runToCompletion();
    expect(first.run).toMatchObject({
      total: N,
      processed: N,
      skipped: 0,
      progress: 1,
      specimens: { pass: 0, warn: N * 0.75, fail: N / 4 },
    });
    expect(first.run.checks).toEqual(expectedChecks);
    const rows = async () =>
      (
        await t.sql.query<{ n: number }>(
          `select count(*)::int as n from qc_result where specimen_id = any($1::uuid[])`,
          [ids],
        )
      ).rows[0]!.n;
    const before = await rows();
    expect(before).toBe(N * 5 + N / 2);

    const second = await runToCompletion();
    expect(second.run.id).not.toBe(first.run.id);
    expect(second.run.specimens).toEqual(first.run.specimens);
    expect(second.run.checks).toEqual(expectedChecks);
    expect(await rows()).toBe(before);
    // Redelivering the finished run's job changes nothing.
    const again = await t.c.services.standards.processRun(systemCtx(t.c), second.run.id);
    expect(again).toMatchObject({ status: 'completed', processed: N });
    const held = await t.sql.query(
      `select 1 from specimen where id = any($1::uuid[]) and cardinality(holds) > 0`,
      [ids],
    );
    expect(held.rowCount).toBe(0);

    // Per-specimen results, in keyset pages, and only the failing ones.
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { specimenId: string; results: unknown[] }[]; nextCursor: string | null } = (
        await get(
          keys.technician,
          `/v1/standardization/runs/${second.run.id}/results?limit=500${cursor ? `&cursor=${cursor}` : ''}`,
        )
      ).json();
      all.push(...page.items.map((i) => i.specimenId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(all).size).toBe(N);
    expect([...all].sort()).toEqual([...ids].sort());
    const failing = (
      await get(keys.technician, `/v1/standardization/runs/${second.run.id}/results?outcome=fail&limit=500`)
    ).json<{ items: { outcome: string; results: { check: string; outcome: string }[] }[] }>();
    expect(failing.items).toHaveLength(N / 4);
    expect(failing.items[0]!.outcome).toBe('fail');

    // The CSV: a header and one line per result.
    const csv = await get(keys.technician, `/v1/standardization/runs/${second.run.id}/results.csv`);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toContain(`standardization-run-${second.run.id}.csv`);
    const lines = csv.body.trimEnd().split('\r\n');
    expect(lines[0]).toBe('specimen_id,barcode,type,check,outcome,message,ruleset_version,checked_at');
    expect(lines).toHaveLength(1 + before);
    const fails = lines.filter((l) => l.includes(',fail,'));
    expect(fails).toHaveLength(N / 4 + N / 4);
  }, 180_000);

  it('can be followed while it runs: processed grows chunk by chunk', async () => {
    // The same service with small chunks, so the run has several steps to watch over REST.
    const standards = createStandardsService({
      db: t.c.db,
      ledger: t.c.services.ledger,
      chunkSize: 250,
    });
    const ctx = systemCtx(t.c, institutionId);
    const run = await standards.startStandardizationRun(
      ctx,
      { filter: { protocolId: batchProtocol } },
      { enqueue: false },
    );
    const seen: { processed: number; total: number | null; status: string }[] = [];
    const done = await standards.processRun(ctx, run.id, {
      progress: async (r) => {
        seen.push((await get(keys.technician, `/v1/standardization/runs/${r.id}`)).json<RunBody>());
      },
    });
    expect(done.status).toBe('completed');
    expect(seen.map((s) => s.processed)).toEqual([0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000]);
    expect(seen.every((s) => s.total === N && s.status === 'running')).toBe(true);
    expect((await get(keys.technician, `/v1/standardization/runs/${run.id}`)).json<RunBody>().checks).toEqual(
      expectedChecks,
    );
  }, 120_000);

  it('runs from the command line with a progress line on stderr and the summary on stdout', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      stdout: { write: (chunk: string) => out.push(chunk) > 0 },
      stderr: { write: (chunk: string) => err.push(chunk) > 0, isTTY: false },
    } as unknown as CliIo;
    const args = ['--institution', institutionCode, '--protocol', batchProtocolCode, '--type', 'plasma'];
    expect(await standardizeCommand(t.c, args, io)).toBe(0);
    expect(err.join('')).toMatch(/\[#{30}\] 100% 2,000\/2,000 specimens, [\d,]+\/s/);
    const summary = out.join('');
    expect(summary).toMatch(
      new RegExp(`^${institutionCode}: run [0-9a-f-]{36} completed: 2000 specimens checked`),
    );
    expect(summary).toContain(`specimens: 0 pass, ${N * 0.75} warn, ${N / 4} fail`);
    expect(summary).toMatch(/rule\.storageTemperature +1500 pass, 0 warn, 500 fail/);
    expect(await standardizeCommand(t.c, ['--type', 'soup'], io)).toBe(2);
    expect(err.join('')).toContain('--type must be one of whole_blood');
    expect(await standardizeCommand(t.c, ['--institution', 'NOPE-NOPE'], io)).toBe(2);
  }, 120_000);

  it('refuses a run over another institution’s protocol, and unknown runs are 404', async () => {
    const other = await makeInstitution(t, { roles: ['manager'] });
    const r = await post(other.keys.manager, '/v1/standardization/runs', {
      filter: { protocolId: batchProtocol },
    });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'PROTOCOL_NOT_FOUND' });
    const missing = await get(
      keys.technician,
      '/v1/standardization/runs/018f0000-0000-7000-8000-000000000000',
    );
    expect(missing.statusCode).toBe(404);
    const bad = await post(keys.manager, '/v1/standardization/runs', { filter: { colour: 'red' } });
    expect(bad.statusCode).toBe(400);
    expect((await post(keys.technician, '/v1/standardization/runs', {})).statusCode).toBe(403);
  });
});
