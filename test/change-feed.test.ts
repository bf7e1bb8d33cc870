import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changePageDto } from '../src/modules/integration/index.js';
import { expectProblem, makeLab, makeProtocol, uid, type Lab } from './helpers/inventory.js';
import { graphqlRequests } from './helpers/graphql.js';
import { bearer, createTestApp, type TestApp } from './helpers/test-app.js';

// The change feed (GET /v1/changes, Query.changes): every committed change to an institution's
// specimens, participants, consents and containers, in commit order, behind a cursor that a
// consumer keeps; nothing skipped, nothing twice, even when transactions commit out of order.

interface Change {
  entity: string;
  entityId: string;
  version: number | null;
  operation: string;
  changedFields: string[];
  changedAt: string;
  requestId: string | null;
}
interface ChangePage {
  items: Change[];
  nextCursor: string;
  hasMore: boolean;
}

let t: TestApp;
let lab: Lab;
let other: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  other = await makeLab(t);
});
afterAll(() => t.close());

function feedQuery(query: Record<string, string | number | undefined>) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return `/v1/changes${qs ? `?${qs}` : ''}`;
}

async function feed(of: Lab, query: Record<string, string | number | undefined> = {}) {
  const res = await t.app.inject({
    method: 'GET',
    url: feedQuery(query),
    headers: bearer(of.keys.integration),
  });
  expect(res.statusCode, res.body).toBe(200);
  // The route serializes the page itself: it must still be what the OpenAPI document says.
  changePageDto.parse(res.json());
  return res.json<ChangePage>();
}

/** Reads pages until the feed has nothing more ready: every change after `after`, and the cursor. */
async function drain(of: Lab, after?: string, limit = 1000) {
  const items: Change[] = [];
  let cursor = after;
  for (;;) {
    const page = await feed(of, { after: cursor, limit });
    items.push(...page.items);
    cursor = page.nextCursor;
    if (!page.hasMore) return { items, cursor };
  }
}

/** The feed's position now: a cursor after everything committed so far. */
const cursorNow = async (of: Lab) => (await drain(of)).cursor;

async function participant(of: Lab, protocolId: string, headers?: Record<string, string>) {
  const res = await of.post(
    '/v1/participants',
    { protocolId, protocolParticipantId: uid('D'), sex: 'female', birthYear: 1970 },
    { headers },
  );
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ id: string; version: number }>();
}

describe('what the feed records', () => {
  it('gives every kind of change with its entity, version, operation, fields, time and request id', async () => {
    const start = await cursorNow(lab);
    const before = Date.now();
    const requestId = `lis-${uid('R')}`;
    const box = await lab.box({ rows: 2, cols: 2 });
    const proto = await makeProtocol(lab);
    const donor = await participant(lab, proto.id, { 'x-request-id': requestId });
    const corrected = await lab.call(
      'PATCH',
      `/v1/participants/${donor.id}`,
      { birthYear: 1971, mrn: 'MRN-42' },
      { headers: { 'if-match': `W/"${donor.version}"`, 'x-request-id': `${requestId}-fix` } },
    );
    expect(corrected.statusCode, corrected.body).toBe(200);
    const consentRes = await lab.post('/v1/consents', {
      participantId: donor.id,
      documentVersion: 'v1',
      signedOn: '2024-01-10',
      obtainedBy: 'nurse-7',
      responses: { GENETIC_RESEARCH: 'yes' },
    });
    expect(consentRes.statusCode, consentRes.body).toBe(201);
    const consent = consentRes.json<{ id: string }>();
    const tube = await lab.register({ participantId: donor.id });
    const stored = await lab.action(tube.id, 'store', { containerId: box.id, position: 'A1' });
    const withdrawn = await lab.post(`/v1/consents/${consent.id}/withdraw`, {
      scope: 'stop_future_use',
      reason: 'donor asked',
    });
    expect(withdrawn.statusCode, withdrawn.body).toBe(202);
    const renamed = await t.app.inject({
      method: 'PATCH',
      url: `/v1/containers/${box.id}`,
      headers: { ...bearer(lab.keys.manager), 'if-match': `"${box.version}"` },
      payload: { name: 'Renamed box' },
    });
    expect(renamed.statusCode, renamed.body).toBe(200);

    const { items } = await drain(lab, start);
    const of = (entityId: string) => items.filter((c) => c.entityId === entityId);

    const donorChanges = of(donor.id);
    expect(donorChanges).toEqual([
      {
        entity: 'participant',
        entityId: donor.id,
        version: 1,
        operation: 'created',
        changedFields: [],
        changedAt: expect.any(String) as string,
        requestId,
      },
      {
        entity: 'participant',
        entityId: donor.id,
        version: 2,
        operation: 'updated',
        // The API's names: birth_year and mrn_hash are identity fields there.
        changedFields: ['identity.birthYear', 'identity.hasMrn'],
        changedAt: expect.any(String) as string,
        requestId: `${requestId}-fix`,
      },
    ]);
    expect(Date.parse(donorChanges[0]!.changedAt)).toBeGreaterThanOrEqual(before - 1000);

    const tubeChanges = of(tube.id);
    expect(tubeChanges[0]).toMatchObject({ entity: 'specimen', operation: 'created', changedFields: [] });
    const store = tubeChanges.find((c) => c.version === stored.version);
    expect(store).toMatchObject({ entity: 'specimen', operation: 'updated' });
    expect(store!.changedFields).toEqual(expect.arrayContaining(['location', 'status', 'custody']));
    expect(store!.changedFields).not.toContain('containerId');
    expect(store!.requestId).toEqual(expect.any(String));

    const consentChanges = of(consent.id);
    expect(consentChanges.map((c) => c.operation)).toEqual(['created', 'updated']);
    expect(consentChanges[1]!.changedFields).toEqual(
      expect.arrayContaining(['status', 'withdrawalScope', 'withdrawnAt']),
    );
    expect(consentChanges[1]!.changedFields).not.toContain('withdrawalReason');
    expect(consentChanges[1]!.version).toBe(consentChanges[0]!.version! + 1);

    const boxChanges = of(box.id);
    expect(boxChanges[0]).toMatchObject({ entity: 'container', operation: 'created', version: 1 });
    expect(boxChanges.at(-1)).toMatchObject({ operation: 'updated', version: box.version + 1 });
    expect(boxChanges.at(-1)!.changedFields).toEqual(expect.arrayContaining(['name', 'path']));

    // Versions of one entity only go up, in feed order.
    for (const id of [tube.id, consent.id, box.id]) {
      const versions = of(id).map((c) => c.version!);
      expect(versions, id).toEqual([...versions].sort((a, b) => a - b));
    }
  });

  it('records nothing for a write that was refused', async () => {
    const box = await lab.box({ rows: 1, cols: 1 });
    await lab.register({ containerId: box.id, position: 'A1' });
    const start = await cursorNow(lab);
    const refused = await lab.post('/v1/specimens', {
      barcode: uid('S'),
      type: 'whole_blood',
      quantity: 5,
      containerId: box.id,
      position: 'A1',
    });
    expect(refused.statusCode).toBe(409);
    expect((await drain(lab, start)).items).toEqual([]);
  });

  it("shows an institution none of another institution's changes", async () => {
    const start = await cursorNow(other);
    const proto = await makeProtocol(lab);
    await participant(lab, proto.id);
    await lab.register();
    expect((await drain(other, start)).items).toEqual([]);
    const mine = await participant(other, (await makeProtocol(other)).id);
    expect((await drain(other, start)).items.map((c) => c.entityId)).toContain(mine.id);
  });
});

describe('capture', () => {
  it('follows the four tables and compares every column of each (a new column needs change_log_follow again)', async () => {
    const { rows: followed } = await t.sql.query<{ table: string }>(
      `select c.relname as table from pg_trigger t join pg_class c on c.oid = t.tgrelid
        where t.tgname = 'change_log_update' order by 1`,
    );
    expect(followed.map((r) => r.table)).toEqual(['consent', 'container', 'participant', 'specimen']);
    const { rows: uncompared } = await t.sql.query<{ table: string; column: string }>(
      `select c.relname as table, a.attname as column
         from pg_trigger t
         join pg_class c on c.oid = t.tgrelid
         join pg_proc p on p.oid = t.tgfoid
         join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where t.tgname = 'change_log_update'
          and a.attname not in ('id', 'institution_id', 'updated_at', 'version')
          and strpos(p.prosrc, format('THEN %L END', a.attname)) = 0`,
    );
    expect(uncompared).toEqual([]);
  });
});

describe('commit order', () => {
  it('delivers a change whose transaction committed after later ones, once, after the cursor moved past them', async () => {
    const proto = await makeProtocol(lab);
    const held = await participant(lab, proto.id);
    const start = await cursorNow(lab);

    // A transaction that starts first and commits last (its transaction id is the smallest).
    const client = new pg.Client({ connectionString: t.config.DATABASE_URL });
    await client.connect();
    try {
      await client.query('begin');
      await client.query(
        "update participant set diagnoses = '{C50.9}', version = version + 1 where id = $1",
        [held.id],
      );

      const later = [await participant(lab, proto.id), await participant(lab, proto.id)];
      const first = await drain(lab, start);
      expect(first.items.map((c) => c.entityId)).toEqual(later.map((p) => p.id));

      await client.query('commit');
      const second = await drain(lab, first.cursor);
      expect(second.items).toEqual([
        expect.objectContaining({
          entity: 'participant',
          entityId: held.id,
          operation: 'updated',
          version: 2,
          changedFields: ['diagnoses'],
          requestId: null,
        }),
      ]);
      expect((await drain(lab, second.cursor)).items).toEqual([]);
      // Read from the start again: each change exactly once, the late one last.
      const all = await drain(lab, start);
      expect(all.items.map((c) => c.entityId)).toEqual([...later.map((p) => p.id), held.id]);
    } finally {
      await client.query('rollback').catch(() => undefined);
      await client.end();
    }
  });

  it('never repeats or skips a change when read in small pages while writes go on', async () => {
    const proto = await makeProtocol(lab);
    const start = await cursorNow(lab);
    const written: string[] = [];
    const seen: string[] = [];
    let cursor = start;
    for (let round = 0; round < 4; round++) {
      const batch = await Promise.all([1, 2, 3].map(() => participant(lab, proto.id)));
      written.push(...batch.map((p) => p.id));
      for (;;) {
        const page = await feed(lab, { after: cursor, limit: 2 });
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((c) => c.entityId));
        cursor = page.nextCursor;
        if (!page.hasMore) break;
      }
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...written].sort());
  });
});

describe('cursors', () => {
  it('answers 400 INVALID_CURSOR for a cursor edited by hand, and reads nothing', async () => {
    await participant(lab, (await makeProtocol(lab)).id);
    const { cursor } = await drain(lab);
    const [position, mac] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [number, string];
    const edited = Buffer.from(JSON.stringify([Math.max(0, position - 1), mac])).toString('base64url');
    for (const after of [edited, 'not-a-cursor', Buffer.from('[1]').toString('base64url')]) {
      const res = await t.app.inject({
        method: 'GET',
        url: feedQuery({ after }),
        headers: bearer(lab.keys.integration),
      });
      const problem = expectProblem(res, 400, 'INVALID_CURSOR');
      expect(problem.errors?.[0]?.field).toBe('after');
    }
    // The consumer's own cursor still works and still has nothing new.
    expect(await feed(lab, { after: cursor })).toMatchObject({
      items: [],
      nextCursor: cursor,
      hasMore: false,
    });
  });

  it("answers 400 INVALID_CURSOR for another institution's cursor", async () => {
    await participant(lab, (await makeProtocol(lab)).id);
    const foreign = (await feed(lab, { limit: 1 })).nextCursor;
    const res = await t.app.inject({
      method: 'GET',
      url: feedQuery({ after: foreign }),
      headers: bearer(other.keys.integration),
    });
    expectProblem(res, 400, 'INVALID_CURSOR');
  });

  it('bounds limit and wait', async () => {
    for (const query of [{ limit: 0 }, { limit: 1001 }, { wait: 31 }, { wait: -1 }]) {
      const res = await t.app.inject({
        method: 'GET',
        url: feedQuery(query),
        headers: bearer(lab.keys.integration),
      });
      expectProblem(res, 400, 'VALIDATION_FAILED');
    }
  });

  it('is for admins, managers and integrations only', async () => {
    for (const role of ['technician', 'partner'] as const) {
      const res = await t.app.inject({ method: 'GET', url: '/v1/changes', headers: bearer(lab.keys[role]) });
      expectProblem(res, 403, 'FORBIDDEN');
    }
    for (const role of ['admin', 'manager'] as const) {
      const res = await t.app.inject({
        method: 'GET',
        url: '/v1/changes?limit=1',
        headers: bearer(lab.keys[role]),
      });
      expect(res.statusCode, role).toBe(200);
    }
  });
});

describe('long polls', () => {
  it('returns as soon as a change arrives', async () => {
    const proto = await makeProtocol(lab);
    const cursor = await cursorNow(lab);
    const began = Date.now();
    const waiting = t.app.inject({
      method: 'GET',
      url: feedQuery({ after: cursor, wait: 20 }),
      headers: bearer(lab.keys.integration),
    });
    await new Promise((r) => setTimeout(r, 300));
    const donor = await participant(lab, proto.id);
    const res = await waiting;
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<ChangePage>().items.map((c) => c.entityId)).toEqual([donor.id]);
    expect(Date.now() - began).toBeLessThan(5000);
  });

  it('answers an empty page with the same cursor when nothing arrives in time', async () => {
    const cursor = await cursorNow(lab);
    const began = Date.now();
    const page = await feed(lab, { after: cursor, wait: 1 });
    expect(Date.now() - began).toBeGreaterThanOrEqual(900);
    expect(page).toEqual({ items: [], nextCursor: cursor, hasMore: false });
  });
});

describe('GraphQL', () => {
  const { ok, refusal } = graphqlRequests(
    () => t,
    () => lab.keys.integration,
  );
  const CHANGES = `query ($after: String, $first: Int) {
    changes(after: $after, first: $first) {
      edges { cursor node { entity entityId version operation changedFields changedAt requestId } }
      pageInfo { endCursor hasNextPage }
    }
  }`;
  interface Changes {
    changes: {
      edges: { cursor: string; node: Change }[];
      pageInfo: { endCursor: string; hasNextPage: boolean };
    };
  }

  it('answers the same changes and cursors as REST', async () => {
    const start = await cursorNow(lab);
    const proto = await makeProtocol(lab);
    await participant(lab, proto.id);
    await lab.register();
    await lab.register();
    const rest = await feed(lab, { after: start, limit: 3 });
    expect(rest.items).toHaveLength(3);
    const { changes } = await ok<Changes>(CHANGES, { after: start, first: 3 });
    expect(changes.edges.map((e) => e.node)).toEqual(rest.items);
    expect(changes.pageInfo).toEqual({ endCursor: rest.nextCursor, hasNextPage: rest.hasMore });
    // Each edge's cursor continues right after its change.
    const fromSecond = await feed(lab, { after: changes.edges[1]!.cursor, limit: 1 });
    expect(fromSecond.items).toEqual([rest.items[2]]);
  });

  it('refuses a tampered cursor with INVALID_CURSOR', async () => {
    const error = await refusal(CHANGES, { after: 'bm90LWEtY3Vyc29y' });
    expect(error.extensions.code).toBe('INVALID_CURSOR');
  });
});

describe('shutdown', () => {
  it('answers a waiting long poll at once when the server closes', async () => {
    const t2 = await createTestApp();
    try {
      const lab2 = await makeLab(t2);
      const waiting = t2.app.inject({
        method: 'GET',
        url: '/v1/changes?limit=1000&wait=20',
        headers: bearer(lab2.keys.integration),
      });
      // Let the first read come back empty so the request is really waiting.
      await new Promise((r) => setTimeout(r, 500));
      const began = Date.now();
      await t2.app.close();
      const res = await waiting;
      expect(Date.now() - began).toBeLessThan(3000);
      expect(res.statusCode, res.body).toBe(200);
    } finally {
      await t2.close();
    }
  });
});
