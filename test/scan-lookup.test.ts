import type { LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { scanDto } from '../src/modules/specimens/specimens.routes.js';
import { createScanLookup } from '../src/modules/specimens/scan-lookup.read-model.js';
import { asDomainError } from '../src/http/problem.js';
import { graphqlRequests } from './helpers/graphql.js';
import { expectProblem, makeLab, uid, type ContainerBody, type Lab } from './helpers/inventory.js';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// The scan lookup's JSON is written by PostgreSQL (specimens.scan.ts) for speed. These tests hold
// it to the DTO every other read answers, field for field, across the shapes a specimen takes,
// and hold the location chain the statement reads to the container tree as it changes.

let t: TestApp;
let lab: Lab;
let protocolId: string;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  const proto = await lab.post('/v1/protocols', {
    code: uid('SCAN'),
    title: 'Scan lookup cohort',
    ethicsApprovalRef: 'EC-2026-017',
    consentTiers: ['GENETIC_RESEARCH', 'EXTERNAL_SHARING'],
  });
  expect(proto.statusCode, proto.body).toBe(201);
  protocolId = proto.json<{ id: string }>().id;
});
afterAll(() => t.close());

const { ok } = graphqlRequests(
  () => t,
  () => lab.keys.technician,
);

async function donor(responses: Record<string, string>) {
  const p = await lab.post('/v1/participants', {
    protocolId,
    protocolParticipantId: uid('P'),
    sex: 'male',
    birthYear: 1961,
  });
  expect(p.statusCode, p.body).toBe(201);
  const participantId = p.json<{ id: string }>().id;
  const c = await lab.post('/v1/consents', {
    participantId,
    documentVersion: 'v2',
    signedOn: '2025-02-01',
    obtainedBy: 'nurse-3',
    responses,
  });
  expect(c.statusCode, c.body).toBe(201);
  return participantId;
}

async function scan(barcode: string) {
  const res = await lab.get(`/v1/specimens/by-barcode/${encodeURIComponent(barcode)}`, {
    role: 'technician',
  });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  return res.json<Record<string, unknown> & { location: { path: string } | null; permittedUses: string[] }>();
}

/** The scan answer equals the specimen's DTO plus the uses GraphQL reports for it. */
async function expectScanEqualsDto(id: string, barcode: string) {
  const body = await scan(barcode);
  const dto = await lab.get(`/v1/specimens/${id}`, { role: 'technician' });
  expect(dto.statusCode, dto.body).toBe(200);
  const { specimen } = await ok<{ specimen: { permittedUses: string[] } }>(
    'query($id: ID!) { specimen(id: $id) { permittedUses } }',
    { id },
  );
  expect(body).toEqual({ ...dto.json(), permittedUses: specimen.permittedUses });
  // The text also keeps the documented schema (nothing more, nothing less).
  expect(scanDto.strict().safeParse(body).error).toBeUndefined();
  return body;
}

describe('scan lookup JSON', () => {
  it('equals the specimen DTO for a donor’s tube with every field set, times to the microsecond', async () => {
    const participantId = await donor({ GENETIC_RESEARCH: 'yes', EXTERNAL_SHARING: 'no' });
    const box = await lab.box({ rows: 9, cols: 9, scheme: 'numeric' });
    const s = await lab.register({
      barcode: uid('FULL'),
      type: 'plasma',
      quantity: 1.2345,
      unit: 'mL',
      participantId,
      containerId: box.id,
      position: '75',
      anatomicSite: 'C34.1',
      collectedAt: '2024-03-05T10:11:12.345+01:00',
      receivedAt: '2024-03-05T11:00:00Z',
      processedAt: '2024-03-05T11:30:00.999Z',
      frozenAt: '2024-03-05T12:00:00Z',
      sprecCode: 'PL1-BLD-A-N-A-A-A',
      quality: { rin: 8.1, concentrationNgUl: 52.3 },
      externalIds: [
        { system: 'urn:lis:ward-7', value: 'A-1"quoted"\\slash' },
        { system: 'urn:lis:core', value: 'Zürich-µ' },
      ],
    });
    // Microseconds, as PostgreSQL keeps them: both reads must truncate them alike.
    await t.sql.query(
      `update specimen set collected_at = '2024-03-05 09:11:12.345678+00', processed_at = '1969-12-31 23:59:59.9999+00'
        where id = $1`,
      [s.id],
    );
    const body = await expectScanEqualsDto(s.id, s.barcode);
    expect(body.collectedAt).toBe('2024-03-05T09:11:12.345Z');
    expect(body.processedAt).toBe('1969-12-31T23:59:59.999Z');
    expect(body.location?.path).toMatch(/^Freezer .+ \/ Rack .+ \/ Box .+ \/ 75$/);
    expect(body.permittedUses).toEqual(['internal_research', 'genetic_research']);
    expect(body.initialQuantity).toBe(1.2345);
  });

  it('equals the DTO for an aliquot, a held tube, a tube in hand and a control without donor', async () => {
    const participantId = await donor({ GENETIC_RESEARCH: 'no', EXTERNAL_SHARING: 'yes' });
    const box = await lab.box({ rows: 8, cols: 12, scheme: 'alphanumeric' });
    const parent = await lab.register({ participantId, containerId: box.id, position: 'H12', quantity: 3 });
    const split = await lab.post(`/v1/specimens/${parent.id}/aliquots`, {
      aliquots: [{ quantity: 0.25 }, { quantity: 0.5, containerId: box.id, position: 'A1' }],
    });
    expect(split.statusCode, split.body).toBe(201);
    const [inHand, stored] = split.json<{ children: { id: string; barcode: string }[] }>().children;
    const held = await lab.register({ participantId, containerId: box.id, position: 'B2' });
    await lab.action(held.id, 'place-hold', { reason: 'QUARANTINE' });
    const control = await lab.register({ type: 'serum', containerId: box.id, position: 'C3' });

    const bodies = [];
    for (const s of [parent, inHand!, stored!, held, control])
      bodies.push(await expectScanEqualsDto(s.id, s.barcode));
    const [p, hand, st, h, c] = bodies;
    expect(p!.permittedUses).toEqual(['internal_research', 'external_sharing']);
    expect(hand!.location).toBeNull();
    expect(st!.location?.path).toMatch(/ \/ A1$/);
    expect(h!.holds).toEqual(['QUARANTINE']);
    expect(h!.permittedUses).toEqual([]);
    expect(c!.participantId).toBeNull();
    expect(c!.permittedUses).toEqual([
      'internal_research',
      'genetic_research',
      'external_sharing',
      'commercial_use',
    ]);
  });

  it('answers the same object over GraphQL', async () => {
    const s = await lab.register({ containerId: (await lab.box()).id, position: 'A5' });
    const rest = await scan(s.barcode);
    const { specimenByBarcode } = await ok<{ specimenByBarcode: Record<string, unknown> }>(
      'query($b: String!) { specimenByBarcode(barcode: $b) { id barcode status version permittedUses location { path position } } }',
      { b: s.barcode },
    );
    expect(specimenByBarcode).toEqual({
      id: rest.id,
      barcode: rest.barcode,
      status: rest.status,
      version: rest.version,
      permittedUses: rest.permittedUses,
      location: { path: rest.location?.path, position: 'A5' },
    });
  });

  it('answers 404 problem+json for a barcode the institution does not hold', async () => {
    const res = await lab.get(`/v1/specimens/by-barcode/${uid('NONE')}`, { role: 'technician' });
    expectProblem(res, 404, 'SPECIMEN_NOT_FOUND');
  });
});

describe('location chain', () => {
  async function chainOf(id: string) {
    const { rows } = await t.sql.query<{ location_chain: { name: string; barcode: string }[] }>(
      'select location_chain from container where id = $1',
      [id],
    );
    return rows[0]!.location_chain.map((c) => c.name);
  }

  it('follows a renamed freezer, a box moved to another rack and a superuser’s direct edit', async () => {
    const { freezer, rack } = await lab.freezerWithRack();
    const box = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'A1',
      grid: { rows: 9, cols: 9 },
    });
    const s = await lab.register({ containerId: box.id, position: 'A1' });
    const before = (await scan(s.barcode)).location!.path;
    expect(before).toContain(`Freezer ${freezer.barcode}`);

    const rename = await lab.call(
      'PATCH',
      `/v1/containers/${freezer.id}`,
      { name: 'Freezer “North” -80 °C' },
      {
        headers: { 'if-match': `"${freezer.version}"` },
      },
    );
    expect(rename.statusCode, rename.body).toBe(200);
    expect((await scan(s.barcode)).location!.path).toBe(
      `Freezer Freezer “North” -80 °C / Rack ${rack.barcode} / Box ${box.barcode} / A1`,
    );

    const other = await lab.freezerWithRack();
    const move = await lab.post(`/v1/containers/${box.id}/move`, { parentId: other.rack.id, slot: 'D4' });
    expect(move.statusCode, move.body).toBe(200);
    expect((await scan(s.barcode)).location!.path).toBe(
      `Freezer ${other.freezer.barcode} / Rack ${other.rack.barcode} / Box ${box.barcode} / A1`,
    );
    expect(await chainOf(box.id)).toEqual([other.freezer.barcode, other.rack.barcode, box.barcode]);

    // The trigger keeps the chain whoever writes the row, and versions it for the scan's cache.
    const version = async () =>
      (
        await t.sql.query<{ v: number }>('select location_chain_version as v from container where id = $1', [
          box.id,
        ])
      ).rows[0]!.v;
    const versionBefore = await version();
    await t.sql.query(`update container set name = 'R-renamed' where id = $1`, [other.rack.id]);
    expect(await chainOf(box.id)).toEqual([other.freezer.barcode, 'R-renamed', box.barcode]);
    expect(await version()).toBe(versionBefore + 1);
    expect((await scan(s.barcode)).location!.path).toContain('/ Rack R-renamed / Box');
    await t.sql.query(`update container set temperature_c = -70 where id = $1`, [other.rack.id]);
    expect(await version()).toBe(versionBefore + 1);
  });

  it('is written for containers created below a moved rack', async () => {
    const { rack }: { rack: ContainerBody } = await lab.freezerWithRack();
    const target = await lab.container({ kind: 'freezer', grid: { rows: 2, cols: 2 } });
    const move = await lab.post(`/v1/containers/${rack.id}/move`, { parentId: target.id, slot: 'B2' });
    expect(move.statusCode, move.body).toBe(200);
    const box = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'A2',
      grid: { rows: 9, cols: 9 },
    });
    expect(await chainOf(box.id)).toEqual([target.barcode, rack.barcode, box.barcode]);
  });
});

describe('lookups arriving together', () => {
  it('share statements over HTTP, and each gets its own answer, as when asked alone', async () => {
    const box = await lab.box();
    const tubes: { barcode: string }[] = [];
    for (const position of ['A1', 'A2', 'A3', 'B1', 'B2', 'C9']) {
      tubes.push(await lab.register({ containerId: box.id, position }));
    }
    tubes.push(await lab.register()); // in hand
    // Another institution holding the same barcode as ours, and one only it holds.
    const other = await makeInstitution(t, { roles: ['technician'] });
    const theirs = uid('THEIRS');
    for (const barcode of [tubes[0]!.barcode, theirs]) {
      const r = await t.app.inject({
        method: 'POST',
        url: '/v1/specimens',
        headers: bearer(other.keys.technician),
        payload: { barcode, type: 'plasma', quantity: 1 },
      });
      expect(r.statusCode, r.body).toBe(201);
    }
    const asks = [
      ...tubes.map((s) => ({ key: lab.keys.technician, barcode: s.barcode })),
      { key: lab.keys.technician, barcode: tubes[1]!.barcode }, // asked twice at once
      { key: lab.keys.technician, barcode: theirs }, // not ours
      { key: lab.keys.technician, barcode: uid('NONE') },
      { key: other.keys.technician, barcode: tubes[0]!.barcode },
      { key: other.keys.technician, barcode: theirs },
      { key: other.keys.technician, barcode: tubes[2]!.barcode }, // not theirs
    ];
    const ask = (a: { key: string; barcode: string }) =>
      t.app.inject({
        method: 'GET',
        url: `/v1/specimens/by-barcode/${encodeURIComponent(a.barcode)}`,
        headers: bearer(a.key),
      });
    const alone: LightMyRequestResponse[] = [];
    for (const a of asks) alone.push(await ask(a));
    const query = vi.spyOn(t.c.database.pool, 'query');
    const together = await Promise.all(asks.map(ask));
    const scanStatements = query.mock.calls
      .map(([config]) => (typeof config === 'string' ? undefined : (config as pg.QueryConfig).name))
      .filter((name) => name?.startsWith('biobank_scan_lookup'));
    query.mockRestore();
    // Thirteen lookups, fewer statements: some went together.
    expect(scanStatements).toContain('biobank_scan_lookup_batch');
    expect(scanStatements.length).toBeLessThan(asks.length);
    // The same answers but for each problem's own request id.
    const answer = (r: LightMyRequestResponse) => [
      r.statusCode,
      { ...r.json<object>(), requestId: undefined },
    ];
    expect(together.map(answer)).toEqual(alone.map(answer));
    expect(together.map((r) => r.statusCode)).toEqual([
      200, 200, 200, 200, 200, 200, 200, 200, 404, 404, 200, 200, 404,
    ]);
    expect(together[0]!.json<{ id: string }>().id).not.toBe(together[10]!.json<{ id: string }>().id);
    expect(together[10]!.json<{ type: string }>().type).toBe('plasma');
  });

  it('go alone when nothing runs, else together; a failed statement fails only the lookups it carried', async () => {
    const box = await lab.box();
    const tubes: { id: string; barcode: string }[] = [];
    for (let col = 1; col <= 9; col++)
      tubes.push(await lab.register({ containerId: box.id, position: `D${col}` }));
    const statements: number[] = [];
    let failing = 0; // the statement number to fail, if any
    const counting = {
      query(config: pg.QueryConfig<string[][] | string[]>) {
        if (config.name?.startsWith('biobank_scan_lookup')) {
          statements.push(Array.isArray(config.values![0]) ? config.values![0].length : 1);
          if (statements.length === failing) return Promise.reject(new Error('connection lost'));
        }
        return t.sql.query(config);
      },
    } as unknown as pg.Pool;
    const lookup = createScanLookup(counting, { statementsInFlight: 1, batchMax: 4 });
    const institutionId = lab.institution.id;
    const barcodes = [...tubes.map((s) => s.barcode), uid('NONE')];

    const answers = await Promise.all(barcodes.map((b) => lookup(institutionId, b)));
    // The first at once; the nine asked meanwhile at most four a statement, one statement at a time.
    expect(statements).toEqual([1, 4, 4, 1]);
    expect(answers.map((a) => a && (JSON.parse(a.specimenJson) as { id: string }).id)).toEqual([
      ...tubes.map((s) => s.id),
      undefined,
    ]);
    expect(answers[8]!.holder!.path).toBe(answers[0]!.holder!.path);
    expect(answers.slice(0, 9).map((a) => a!.facts.positionCol)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);

    statements.length = 0;
    failing = 2;
    const settled = await Promise.allSettled(barcodes.slice(0, 9).map((b) => lookup(institutionId, b)));
    expect(statements).toEqual([1, 4, 4]);
    expect(
      settled.map((r) => (r.status === 'fulfilled' ? r.value!.facts.positionCol : (r.reason as Error))),
    ).toEqual([1, ...Array.from({ length: 4 }, () => new Error('connection lost')), 6, 7, 8, 9]);
    // And the next lookup is answered.
    expect((await lookup(institutionId, barcodes[1]!))!.facts.positionCol).toBe(2);
  });

  it('keep one generic plan for batches however small, instead of planning each anew', async () => {
    // One connection, so the prepared statements below are the ones this session executed.
    const session = new pg.Pool({ connectionString: t.config.DATABASE_URL, max: 1 });
    try {
      const lookup = createScanLookup(session);
      const s = await lab.register();
      for (let i = 0; i < 12; i++) {
        // The first goes alone at once; the two asked meanwhile go together, in one statement.
        const three = await Promise.all([
          lookup(lab.institution.id, s.barcode),
          lookup(lab.institution.id, s.barcode),
          lookup(lab.institution.id, uid('NONE')),
        ]);
        expect(three.map((a) => a === undefined)).toEqual([false, false, true]);
      }
      const { rows } = await session.query<{ generic: number; custom: number }>(
        `select generic_plans::int as generic, custom_plans::int as custom
           from pg_prepared_statements where name = 'biobank_scan_lookup_batch'`,
      );
      // PostgreSQL plans the first five executions for their values, then keeps the generic plan.
      expect(rows).toEqual([{ generic: 7, custom: 5 }]);
    } finally {
      await session.end();
    }
  });

  it('fail with 503 behind a stuck statement, within their deadline, and scans recover after', async () => {
    const tubes = [await lab.register(), await lab.register(), await lab.register()];
    const lookup = createScanLookup(t.sql, { timeoutMs: 300 });
    const blocker = await t.sql.connect();
    let settled: PromiseSettledResult<unknown>[];
    try {
      await blocker.query('begin');
      await blocker.query('lock table specimen in access exclusive mode');
      // The first goes at once and waits on the lock; the two behind it wait for the first.
      settled = await Promise.allSettled(tubes.map((s) => lookup(lab.institution.id, s.barcode)));
    } finally {
      await blocker.query('rollback');
      blocker.release();
    }
    const busy: unknown = expect.objectContaining({ status: 503, code: 'DATABASE_BUSY' });
    expect(settled.map((r) => (r.status === 'rejected' ? asDomainError(r.reason) : r.value))).toEqual([
      busy,
      busy,
      busy,
    ]);
    expect((await lookup(lab.institution.id, tubes[2]!.barcode))?.facts.holds).toEqual([]);
  });

  it('refuse options that would stall them', () => {
    for (const options of [
      { statementsInFlight: 0 },
      { batchMax: 0 },
      { timeoutMs: Number.NaN },
      { batchMax: 2.5 },
    ]) {
      expect(() => createScanLookup(t.sql, options)).toThrow(RangeError);
    }
  });
});

describe('the database too busy', () => {
  it('answers 503 DATABASE_BUSY when no pool connection frees in time', async () => {
    const tiny = new pg.Pool({
      connectionString: t.config.DATABASE_URL,
      max: 1,
      connectionTimeoutMillis: 100,
    });
    const held = await tiny.connect();
    try {
      const err: unknown = await tiny.query('select 1').catch((e: unknown) => e);
      expect(asDomainError(err)).toMatchObject({ status: 503, code: 'DATABASE_BUSY' });
    } finally {
      held.release();
      await tiny.end();
    }
  });
});
