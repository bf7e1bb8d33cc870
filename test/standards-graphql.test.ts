import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDto, sprecDecodeDto } from '../src/modules/standards/standards.schemas.js';
import { graphqlRequests, statementsDuring } from './helpers/graphql.js';
import { createTestApp, makeInstitution, until, type TestApp } from './helpers/test-app.js';

// Standardization over GraphQL (issue 5, points 1 and 5): SPREC decoding, QC results and the
// qcStatus filter, protocol quality rules, batch runs and MIABIS over the same services and with
// the same data and error codes as REST; Specimen.qcResults batched so a page costs the same
// number of SQL statements whatever its size.

let t: TestApp;
let keys: Awaited<ReturnType<typeof makeInstitution>>['keys'];
let protocolId: string;
let coldBox: string;
let warmBox: string;

const { gql, ok, refusal, rest } = graphqlRequests(
  () => t,
  () => keys.manager,
);

let seq = 0;
const code = (prefix: string) => `${prefix}-${++seq}-${Math.random().toString(36).slice(2, 7)}`;

const DECODE_FIELDS = Object.keys(sprecDecodeDto.shape)
  .map((k) =>
    k === 'fields'
      ? 'fields { position charStart name value meaning unknown other notApplicable }'
      : k === 'errors'
        ? 'errors { position charStart field reason }'
        : k,
  )
  .join(' ');
const QC_RESULT_FIELDS = 'check outcome message details rulesetVersion runId checkedAt';
const RULESET_FIELDS = 'protocolId version rules createdBy createdAt';
const RUN_FIELDS = Object.keys(runDto.shape)
  .map((k) =>
    k === 'filter'
      ? 'filter { type protocolId containerId status qcStatus }'
      : k === 'specimens'
        ? 'specimens { pass warn fail }'
        : k === 'checks'
          ? 'checks { check pass warn fail }'
          : k === 'rulesets'
            ? 'rulesets { protocolId version }'
            : k,
  )
  .join(' ');

const DECODE = `query ($code: String!, $version: String!, $kind: SprecKind) {
  sprecDecode(code: $code, version: $version, kind: $kind) { ${DECODE_FIELDS} }
}`;
const PUT_RULES = `mutation ($p: ID!, $rules: [JSON!]!, $v: Int) {
  putQualityRules(protocolId: $p, rules: $rules, expectedVersion: $v) { ${RULESET_FIELDS} }
}`;
const RUN = `query ($id: ID!) { standardizationRun(id: $id) { ${RUN_FIELDS} } }`;

/** The filter as REST returns it: only the keys that were given. */
const withoutNullKeys = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null));

async function container(body: Record<string, unknown>) {
  return (await rest<{ id: string }>('POST', '/v1/containers', { barcode: code('C'), ...body })).id;
}

/** Plasma tubes of the protocol in a box; the worker checks each. */
async function register(n: number, containerId: string) {
  const r = await rest<{ items: { id: string }[] }>(
    'POST',
    '/v1/specimens/batch',
    {
      specimens: Array.from({ length: n }, () => ({
        barcode: code('T'),
        type: 'plasma',
        quantity: 1,
        protocolId,
        collectedAt: '2024-04-01T08:00:00Z',
        containerId,
        sprecCode: 'PL1-PED-X-X-N-X-A',
        sprecVersion: '3.0',
      })),
    },
    keys.technician,
  );
  return r.items.map((s) => s.id);
}

/** Waits until the worker has checked every tube in the box. */
async function checkedIn(box: string) {
  await until(async () => {
    const r = await rest<{ items: unknown[] }>(
      'GET',
      `/v1/specimens?containerId=${box}&qcStatus=unchecked&limit=1`,
    );
    return r.items.length === 0;
  }, 30_000);
}

beforeAll(async () => {
  t = await createTestApp({ workers: true });
  keys = (await makeInstitution(t)).keys;
  coldBox = await container({
    kind: 'box',
    parentId: await container({ kind: 'freezer', temperatureC: -80 }),
  });
  warmBox = await container({
    kind: 'box',
    parentId: await container({ kind: 'freezer', temperatureC: -20 }),
  });
  protocolId = (
    await rest<{ id: string }>('POST', '/v1/protocols', {
      code: code('STDG'),
      title: 'Standardization over GraphQL',
      ethicsApprovalRef: 'EC-2024-9',
      consentTiers: ['GENETIC_RESEARCH'],
    })
  ).id;
  // Plasma outside -90..-60 °C fails: the tubes in the -20 °C box fail, the others pass or warn.
  await rest('PUT', `/v1/protocols/${protocolId}/quality-rules`, {
    rules: [{ kind: 'storageTemperature', types: ['plasma'], minC: -90, maxC: -60 }],
  });
}, 60_000);
afterAll(() => t.close());

describe('sprecDecode', () => {
  const restDecode = (c: string, version = '3.0') =>
    rest(
      'GET',
      `/v1/sprec/decode?code=${encodeURIComponent(c)}&version=${version}`,
      undefined,
      keys.technician,
    );

  it('decodes SER-SST-A-D-N-A-B field by field, as REST does', async () => {
    const { sprecDecode } = await ok<{ sprecDecode: Record<string, unknown> }>(
      DECODE,
      { code: 'SER-SST-A-D-N-A-B', version: '3.0' },
      keys.technician,
    );
    const flags = { unknown: false, other: false, notApplicable: false };
    expect(sprecDecode).toEqual({
      valid: true,
      code: 'SER-SST-A-D-N-A-B',
      version: '3.0',
      kind: 'fluid',
      errors: [],
      fields: [
        { position: 1, charStart: 1, name: 'typeOfSample', value: 'SER', meaning: 'Serum', ...flags },
        {
          position: 2,
          charStart: 5,
          name: 'primaryContainer',
          value: 'SST',
          meaning: 'Serum separator tube with clot activator',
          ...flags,
        },
        {
          position: 3,
          charStart: 9,
          name: 'preCentrifugation',
          value: 'A',
          meaning: '<2 h at room temperature',
          ...flags,
        },
        {
          position: 4,
          charStart: 11,
          name: 'centrifugation',
          value: 'D',
          meaning: '2–10 °C, 10–15 min, <3000 g, with braking',
          ...flags,
        },
        {
          position: 5,
          charStart: 13,
          name: 'secondCentrifugation',
          value: 'N',
          meaning: 'No centrifugation',
          ...flags,
          notApplicable: true,
        },
        {
          position: 6,
          charStart: 15,
          name: 'postCentrifugation',
          value: 'A',
          meaning: '<1 h at 2–10 °C',
          ...flags,
        },
        {
          position: 7,
          charStart: 17,
          name: 'longTermStorage',
          value: 'B',
          meaning: 'PP tube 0.5–2 mL, −35 to −18 °C',
          ...flags,
        },
      ],
    });
    expect(sprecDecode).toEqual(await restDecode('SER-SST-A-D-N-A-B'));
  });

  it('gives the exact position and reason of an invalid code, as REST does', async () => {
    const decode = async (c: string, kind?: string) =>
      (
        await ok<{
          sprecDecode: { valid: boolean; kind: string | null; fields: unknown[]; errors: unknown[] };
        }>(DECODE, { code: c, version: '3.0', ...(kind ? { kind } : {}) })
      ).sprecDecode;
    const letter = await decode('SER-SST-Q-D-N-A-B');
    expect(letter).toMatchObject({ valid: false, kind: null, fields: [] });
    expect(letter.errors[0]).toMatchObject({ position: 3, charStart: 9, field: 'preCentrifugation' });
    expect((letter.errors[0] as { reason: string }).reason).toMatch(
      /^'Q' is not a fluid pre-centrifugation delay code in SPREC 3\.0/,
    );
    expect(letter).toEqual(await restDecode('SER-SST-Q-D-N-A-B'));

    const short = await decode('SER-SST-A-D-N-A');
    expect(short.errors).toEqual([
      {
        position: null,
        charStart: null,
        field: null,
        reason:
          'expected 7 elements separated by "-" (fluid: 17 characters, solid: 19), found 6 in 15 characters',
      },
    ]);
    expect(short).toEqual(await restDecode('SER-SST-A-D-N-A'));

    // A solid code where a fluid one is expected: the same answer as REST's kind=fluid.
    const grammar = await decode('TIS-SRG-A-B-NBF-C-P', 'fluid');
    expect(grammar.valid).toBe(false);
    expect(grammar).toEqual(
      await rest('GET', '/v1/sprec/decode?code=TIS-SRG-A-B-NBF-C-P&version=3.0&kind=fluid'),
    );
  });

  it('answers an unknown version, an empty code or a bad argument with the REST codes', async () => {
    const version = await refusal(DECODE, { code: 'SER-SST-A-D-N-A-B', version: '9.9' });
    expect(version.extensions).toMatchObject({
      code: 'SPREC_VERSION_UNSUPPORTED',
      status: 400,
      errors: [{ field: 'version' }],
    });
    expect(version.path).toEqual(['sprecDecode']);
    const empty = await refusal(DECODE, { code: '  ', version: '3.0' });
    expect(empty.extensions).toMatchObject({
      code: 'SPREC_CODE_EMPTY',
      status: 400,
      errors: [{ field: 'code' }],
    });
    const long = await refusal(DECODE, { code: 'X'.repeat(41), version: '3.0' });
    expect(long.extensions).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: 'code' }] });
    const kind = await refusal(DECODE, { code: 'SER-SST-A-D-N-A-B', version: '3.0', kind: 'gas' });
    expect(kind.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    // The default version is REST's (3.0).
    const { sprecDecode } = await ok<{ sprecDecode: { version: string; valid: boolean } }>(
      `{ sprecDecode(code: "SER-SST-A-D-N-A-B") { version valid } }`,
    );
    expect(sprecDecode).toEqual({ version: '3.0', valid: true });
    const partner = await refusal(DECODE, { code: 'SER-SST-A-D-N-A-B', version: '3.0' }, keys.partner);
    expect(partner.extensions.code).toBe('FORBIDDEN');
  });
});

describe('protocol quality rules', () => {
  let rulesProtocol: string;
  beforeAll(async () => {
    rulesProtocol = (
      await rest<{ id: string }>('POST', '/v1/protocols', {
        code: code('QRG'),
        title: 'Rules over GraphQL',
        ethicsApprovalRef: 'EC-2024-10',
      })
    ).id;
  });
  const rulesOf = async (id: string) =>
    (
      await ok<{ protocol: { qualityRules: Record<string, unknown> } }>(
        `query ($id: ID!) { protocol(id: $id) { qualityRules { ${RULESET_FIELDS} } } }`,
        { id },
      )
    ).protocol.qualityRules;

  it('reads and replaces the current rules as REST does; a stale expectedVersion is VERSION_CONFLICT', async () => {
    expect(await rulesOf(rulesProtocol)).toEqual({
      protocolId: rulesProtocol,
      version: 0,
      rules: [],
      createdBy: null,
      createdAt: null,
    });
    const v1 = await ok<{ putQualityRules: { version: number; rules: { id: string; kind: string }[] } }>(
      PUT_RULES,
      {
        p: rulesProtocol,
        rules: [
          { kind: 'maxFreezeThaw', max: 2, holdOnFailure: true },
          { kind: 'qualityMetric', types: ['rna'], metric: 'rin', min: 7 },
        ],
        v: 0,
      },
    );
    expect(v1.putQualityRules.version).toBe(1);
    expect(v1.putQualityRules.rules.map((r) => r.kind)).toEqual(['maxFreezeThaw', 'qualityMetric']);
    const fromRest = await rest(
      'GET',
      `/v1/protocols/${rulesProtocol}/quality-rules`,
      undefined,
      keys.technician,
    );
    expect(v1.putQualityRules).toEqual(fromRest);
    expect(await rulesOf(rulesProtocol)).toEqual(fromRest);

    const stale = await refusal(PUT_RULES, { p: rulesProtocol, rules: [], v: 0 });
    expect(stale.extensions).toMatchObject({ code: 'VERSION_CONFLICT', status: 412 });
    // Without expectedVersion (REST: no If-Match) the save is unconditional.
    const v2 = await ok<{ putQualityRules: { version: number } }>(PUT_RULES, { p: rulesProtocol, rules: [] });
    expect(v2.putQualityRules.version).toBe(2);
    expect(await rulesOf(rulesProtocol)).toMatchObject({ version: 2, rules: [] });
  });

  it('refuses bad rules with the REST codes', async () => {
    const unknown = await refusal(PUT_RULES, {
      p: rulesProtocol,
      rules: [
        { kind: 'maxFreezeThaw', max: 2 },
        { kind: 'qualityMetric', metric: 'rinn', min: 7 },
      ],
    });
    expect(unknown.extensions).toMatchObject({
      code: 'UNKNOWN_RULE_FIELD',
      status: 422,
      errors: [{ field: 'rules.1.metric' }],
    });
    const kind = await refusal(PUT_RULES, { p: rulesProtocol, rules: [{ kind: 'maxColour', max: 2 }] });
    expect(kind.extensions).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    const extra = await refusal(PUT_RULES, {
      p: rulesProtocol,
      rules: [{ kind: 'maxFreezeThaw', max: 2, metric: 'rin' }],
    });
    expect(extra.extensions.code).toBe('VALIDATION_FAILED');
    const missing = await refusal(PUT_RULES, { p: '00000000-0000-4000-8000-000000000000', rules: [] });
    expect(missing.extensions).toMatchObject({ code: 'PROTOCOL_NOT_FOUND', status: 404 });
    const technician = await refusal(PUT_RULES, { p: rulesProtocol, rules: [] }, keys.technician);
    expect(technician.extensions).toMatchObject({ code: 'FORBIDDEN', status: 403 });
  });
});

describe('QC results and the qcStatus filter', () => {
  const ids: string[] = [];
  beforeAll(async () => {
    ids.push(...(await register(3, coldBox)), ...(await register(2, warmBox)));
    await checkedIn(coldBox);
    await checkedIn(warmBox);
  }, 60_000);

  it('returns each specimen’s current results and QC status as GET /v1/specimens/:id/qc does', async () => {
    for (const id of ids) {
      const { specimen } = await ok<{
        specimen: { qcStatus: string; qcResults: Record<string, unknown>[] };
      }>(`query ($id: ID!) { specimen(id: $id) { qcStatus qcResults { ${QC_RESULT_FIELDS} } } }`, { id });
      const qc = await rest<{ qcStatus: string; results: unknown[] }>('GET', `/v1/specimens/${id}/qc`);
      expect(specimen.qcResults.length).toBeGreaterThan(0);
      expect(specimen).toEqual({ qcStatus: qc.qcStatus, qcResults: qc.results });
    }
    const warm = await rest<{ results: { check: string; outcome: string }[] }>(
      'GET',
      `/v1/specimens/${ids[3]}/qc`,
    );
    expect(warm.results.find((r) => r.check === 'rule.storageTemperature')?.outcome).toBe('fail');
  });

  it('filters specimens by qcStatus as GET /v1/specimens?qcStatus= does', async () => {
    type Page = { specimens: { edges: { node: { id: string; qcStatus: string } }[] } };
    for (const qcStatus of ['fail', 'warn', 'pass', 'unchecked']) {
      const data = await ok<Page>(
        `query ($s: QcStatus!) { specimens(filter: { qcStatus: $s, protocolId: "${protocolId}" }, first: 100) { edges { node { id qcStatus } } } }`,
        { s: qcStatus },
      );
      const fromRest = await rest<{ items: { id: string }[] }>(
        'GET',
        `/v1/specimens?qcStatus=${qcStatus}&protocolId=${protocolId}&limit=100`,
      );
      expect(
        data.specimens.edges.map((e) => e.node.id),
        qcStatus,
      ).toEqual(fromRest.items.map((s) => s.id));
      for (const e of data.specimens.edges) expect(e.node.qcStatus).toBe(qcStatus);
    }
    const failed = await ok<Page>(
      `{ specimens(filter: { qcStatus: fail, containerId: "${warmBox}" }) { edges { node { id qcStatus } } } }`,
    );
    expect(failed.specimens.edges.map((e) => e.node.id).sort()).toEqual(ids.slice(3).sort());
    const bad = await refusal(`{ specimens(filter: { qcStatus: broken }) { edges { node { id } } } }`);
    expect(bad.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('standardization runs', () => {
  type Run = Record<string, unknown> & { id: string; status: string };
  type ResultsPage = {
    standardizationRun: {
      results: {
        edges: { cursor: string; node: { specimenId: string; results: Record<string, unknown>[] } }[];
        pageInfo: { endCursor: string | null; hasNextPage: boolean };
      };
    };
  };
  const RESULTS = `query ($id: ID!, $outcome: QcOutcome, $first: Int, $after: String) {
    standardizationRun(id: $id) {
      results(outcome: $outcome, first: $first, after: $after) {
        edges { cursor node { specimenId barcode type outcome results { ${QC_RESULT_FIELDS} } } }
        pageInfo { endCursor hasNextPage }
      }
    }
  }`;
  /** The REST run item shape: its results have no runId. */
  const asRestItem = (n: ResultsPage['standardizationRun']['results']['edges'][number]['node']) => ({
    ...n,
    results: n.results.map(({ runId: _runId, ...r }) => r),
  });

  let run: Run;
  beforeAll(async () => {
    await register(4, coldBox);
    await register(2, warmBox);
    await checkedIn(coldBox);
    await checkedIn(warmBox);
    const started = await ok<{ startStandardizationRun: Run }>(
      `mutation ($f: StandardizationRunFilterInput) { startStandardizationRun(filter: $f) { ${RUN_FIELDS} } }`,
      { f: { protocolId } },
    );
    expect(started.startStandardizationRun).toMatchObject({ status: 'queued', processed: 0 });
    const id = started.startStandardizationRun.id;
    run = await until(async () => {
      const r = (await ok<{ standardizationRun: Run }>(RUN, { id }, keys.technician)).standardizationRun;
      return r.status === 'completed' ? r : null;
    }, 30_000);
  }, 90_000);

  it('returns the run with its progress and summary by check and severity as REST does', async () => {
    const fromRest = await rest<{ total: number }>('GET', `/v1/standardization/runs/${run.id}`);
    expect({ ...run, filter: withoutNullKeys(run.filter as Record<string, unknown>) }).toEqual(fromRest);
    expect(run).toMatchObject({ progress: 1, processed: fromRest.total });
    expect((run.specimens as { fail: number }).fail).toBeGreaterThanOrEqual(2);
    expect(run.checks).toContainEqual(expect.objectContaining({ check: 'rule.storageTemperature' }));

    const list = await ok<{ standardizationRuns: { edges: { node: { id: string } }[] } }>(
      `{ standardizationRuns(first: 5) { edges { node { id } } pageInfo { hasNextPage } } }`,
    );
    const restList = await rest<{ items: { id: string }[] }>('GET', '/v1/standardization/runs?limit=5');
    expect(list.standardizationRuns.edges.map((e) => e.node.id)).toEqual(restList.items.map((r) => r.id));
    expect(list.standardizationRuns.edges[0]!.node.id).toBe(run.id);
  });

  it('pages the per-specimen results as REST does, with the outcome filter', async () => {
    const first = await ok<ResultsPage>(RESULTS, { id: run.id, first: 3 });
    const restFirst = await rest<{ items: unknown[]; nextCursor: string | null }>(
      'GET',
      `/v1/standardization/runs/${run.id}/results?limit=3`,
    );
    const page1 = first.standardizationRun.results;
    expect(page1.edges.map((e) => asRestItem(e.node))).toEqual(restFirst.items);
    expect(page1.pageInfo).toEqual({ endCursor: restFirst.nextCursor, hasNextPage: true });
    for (const e of page1.edges) for (const r of e.node.results) expect([run.id, null]).toContain(r.runId);

    const second = await ok<ResultsPage>(RESULTS, { id: run.id, first: 3, after: page1.pageInfo.endCursor });
    const restSecond = await rest<{ items: unknown[] }>(
      'GET',
      `/v1/standardization/runs/${run.id}/results?limit=3&cursor=${encodeURIComponent(restFirst.nextCursor!)}`,
    );
    expect(second.standardizationRun.results.edges.map((e) => asRestItem(e.node))).toEqual(restSecond.items);

    const failed = await ok<ResultsPage>(RESULTS, { id: run.id, outcome: 'fail', first: 100 });
    const restFailed = await rest<{ items: unknown[] }>(
      'GET',
      `/v1/standardization/runs/${run.id}/results?outcome=fail&limit=100`,
    );
    expect(failed.standardizationRun.results.edges.map((e) => asRestItem(e.node))).toEqual(restFailed.items);
    expect(restFailed.items.length).toBe((run.specimens as { fail: number }).fail);
  });

  it('answers unknown runs with null and refuses bad input with the REST codes', async () => {
    expect(
      (await ok<{ standardizationRun: null }>(RUN, { id: '00000000-0000-4000-8000-000000000000' }))
        .standardizationRun,
    ).toBeNull();
    const START = `mutation ($f: StandardizationRunFilterInput) { startStandardizationRun(filter: $f) { id } }`;
    const protocol = await refusal(START, { f: { protocolId: '00000000-0000-4000-8000-000000000000' } });
    expect(protocol.extensions).toMatchObject({ code: 'PROTOCOL_NOT_FOUND', status: 404 });
    const container = await refusal(START, { f: { containerId: '00000000-0000-4000-8000-000000000000' } });
    expect(container.extensions).toMatchObject({ code: 'CONTAINER_NOT_FOUND', status: 404 });
    const bad = await refusal(START, { f: { protocolId: 'not-a-uuid' } });
    expect(bad.extensions).toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [{ field: 'filter.protocolId' }],
    });
    const technician = await refusal(START, { f: {} }, keys.technician);
    expect(technician.extensions.code).toBe('FORBIDDEN');
    const page = await gql<ResultsPage>(RESULTS, { id: run.id, first: 501 });
    expect(page.errors?.[0]?.extensions.code).toBe('VALIDATION_FAILED');
    const cursor = await gql<ResultsPage>(RESULTS, { id: run.id, after: 'nonsense' });
    expect(cursor.errors?.[0]?.extensions.code).toBe('INVALID_CURSOR');
  });
});

describe('miabisCollections', () => {
  it('returns the MIABIS Core 3 JSON of GET /v1/miabis/collections', async () => {
    const { miabisCollections } = await ok<{
      miabisCollections: { collections: { acronym: string; numberOfSamples: number }[] };
    }>(`{ miabisCollections }`, undefined, keys.technician);
    expect(miabisCollections).toEqual(
      await rest('GET', '/v1/miabis/collections', undefined, keys.technician),
    );
    expect(miabisCollections.collections.length).toBeGreaterThan(0);
    const partner = await refusal(`{ miabisCollections }`, undefined, keys.partner);
    expect(partner.extensions.code).toBe('FORBIDDEN');
  });
});

describe('batching', () => {
  // The standards worker and the outbox relay run in this process and query all the time:
  // statementsDuring counts only the statements sent on behalf of its `run`.

  it('serves qcResults for a page of 50 specimens in as many statements as for 5', async () => {
    const box = await container({
      kind: 'box',
      parentId: await container({ kind: 'freezer', temperatureC: -80 }),
    });
    await register(50, box);
    await checkedIn(box);
    const query = `query ($box: ID!, $first: Int!) {
      specimens(filter: { containerId: $box }, first: $first) { edges { node { id qcResults { check outcome } } } }
    }`;
    type Page = { specimens: { edges: { node: { id: string; qcResults: { check: string }[] } }[] } };
    await ok(query, { box, first: 1 }, keys.technician);
    const counts: Record<number, number> = {};
    for (const first of [5, 50]) {
      let page: Page | undefined;
      const sent = await statementsDuring(async () => {
        page = await ok<Page>(query, { box, first }, keys.technician);
      });
      counts[first] = sent.length;
      expect(page!.specimens.edges).toHaveLength(first);
      for (const { node } of page!.specimens.edges) expect(node.qcResults.length, node.id).toBeGreaterThan(0);
    }
    const without = await statementsDuring(() =>
      ok(query.replace(' qcResults { check outcome }', ''), { box, first: 50 }, keys.technician),
    );
    // Protocol.qualityRules: one statement for every protocol listed.
    const rules = await statementsDuring(() => ok(`{ protocols { id qualityRules { version } } }`));
    const noRules = await statementsDuring(() => ok(`{ protocols { id } }`));
    console.info(
      'SQL statements per GraphQL page',
      JSON.stringify({
        withQcResults: counts,
        without50: without.length,
        protocols: { withQualityRules: rules.length, without: noRules.length },
      }),
    );
    expect(counts[50]).toBe(counts[5]);
    // The whole page's results: one statement.
    expect(counts[50]! - without.length).toBe(1);
    expect(rules.length - noRules.length).toBe(1);
  }, 90_000);
});
