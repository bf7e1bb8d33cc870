import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import {
  custodyRows,
  expectProblem,
  makeLab,
  specimenRow,
  type ContainerBody,
  type Lab,
  type SpecimenBody,
} from './helpers/inventory.js';

// The custody ledger: one SHA-256 chain per specimen, append-only in the database, verifiable
// end to end, and written for every physical event (including a box carrying its tubes).

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

interface CustodyEvent {
  id: number;
  seq: number;
  type: string;
  fromContainerId: string | null;
  fromPosition: string | null;
  toContainerId: string | null;
  toPosition: string | null;
  quantityChange: number | null;
  details: Record<string, unknown>;
  prevHash: string | null;
  hash: string;
}

interface Verification {
  specimenId: string;
  events: number;
  valid: boolean;
  checked: number;
  firstBreak: { seq: number; eventId: number; reason: string; expected: string; found: string } | null;
}

async function custody(id: string): Promise<CustodyEvent[]> {
  const res = await lab.get(`/v1/specimens/${id}/custody`, { role: 'technician' });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ items: CustodyEvent[] }>().items;
}

async function verify(id: string): Promise<Verification> {
  const res = await lab.get(`/v1/specimens/${id}/custody/verify`, { role: 'technician' });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Verification>();
}

/** What a superuser could do: switch the append-only trigger off for one transaction. */
async function asSuperuser(statement: string, params: unknown[]) {
  const client = await t.sql.connect();
  try {
    await client.query('begin');
    await client.query('set local session_replication_role = replica');
    await client.query(statement, params);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback');
    throw err;
  } finally {
    client.release();
  }
}

/** A stored tube with a long history: 15 rounds of move, check-out, check-in and store (60 actions). */
async function longHistory(): Promise<{ tube: SpecimenBody; box: ContainerBody }> {
  const box = await lab.box({ rows: 4, cols: 16 });
  const tube = await lab.register({ type: 'serum', quantity: 2, containerId: box.id, position: 'A1' });
  for (let round = 0; round < 15; round++) {
    await lab.action(tube.id, 'move', { containerId: box.id, position: `B${round + 1}` }, 'technician');
    await lab.action(tube.id, 'check-out', {}, 'technician');
    await lab.action(tube.id, 'check-in', { thawed: round % 3 === 0 }, 'technician');
    await lab.action(tube.id, 'store', { containerId: box.id, position: `C${round + 1}` }, 'technician');
  }
  return { tube, box };
}

describe('a long history', () => {
  let tube: SpecimenBody;
  let events: CustodyEvent[];

  beforeAll(async () => {
    ({ tube } = await longHistory());
    events = await custody(tube.id);
  });

  it('lists every event in order, each linked to the previous one by prev_hash', async () => {
    // registered + stored, then per round: moved, checked_out, checked_in (+ thawed every third), moved.
    const thaws = 5;
    expect(events).toHaveLength(2 + 15 * 4 + thaws);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]!.prevHash).toBeNull();
    for (let i = 1; i < events.length; i++) expect(events[i]!.prevHash).toBe(events[i - 1]!.hash);
    expect(events.slice(0, 7).map((e) => e.type)).toEqual([
      'registered',
      'stored',
      'moved',
      'checked_out',
      'checked_in',
      'thawed',
      'moved',
    ]);
    // Positions follow the tube: the last round moved it from B15 to C15.
    expect(events.at(-1)).toMatchObject({ type: 'moved', fromPosition: 'B15', toPosition: 'C15' });
    const row = await specimenRow(t, tube.id);
    expect(row.custody_seq).toBe(events.length);
    expect(row.custody_head).toBe(events.at(-1)!.hash);
    expect(row.freeze_thaw_count).toBe(thaws);
  });

  it('verifies end to end', async () => {
    expect(await verify(tube.id)).toEqual({
      specimenId: tube.id,
      events: events.length,
      valid: true,
      checked: events.length,
      firstBreak: null,
      // a chain born here links to no other institution's
      link: null,
    });
  });
});

describe('tampering', () => {
  it('reports valid=false at the exact seq of a row a superuser altered', async () => {
    const { tube } = await longHistory();
    const before = await custodyRows(t, tube.id);
    const victim = before[29]!;
    await asSuperuser(`update custody_event set to_position = 'H12' where specimen_id = $1 and seq = $2`, [
      tube.id,
      victim.seq,
    ]);
    const result = await verify(tube.id);
    expect(result.valid).toBe(false);
    expect(result.checked).toBe(victim.seq - 1);
    expect(result.firstBreak).toMatchObject({ seq: victim.seq, eventId: victim.id, reason: 'hash_mismatch' });
    expect(result.firstBreak!.found).toBe(victim.hash);
  });

  it('finds an altered quantity and a rewritten hash (the next link no longer matches)', async () => {
    const box = await lab.box();
    const tube = await lab.register({ quantity: 4, containerId: box.id, position: 'A1' });
    for (let i = 0; i < 4; i++) await lab.action(tube.id, 'consume', { quantity: 0.5 });
    const rows = await custodyRows(t, tube.id);
    expect(rows).toHaveLength(6);

    await asSuperuser(`update custody_event set quantity_change = -0.1 where specimen_id = $1 and seq = 4`, [
      tube.id,
    ]);
    expect((await verify(tube.id)).firstBreak).toMatchObject({ seq: 4, reason: 'hash_mismatch' });

    // Rewriting the altered row's hash as a forger would moves the break to the next link.
    const { eventHash } = await import('../src/modules/custody/custody.chain.js');
    const { rows: raw } = await t.sql.query<Record<string, unknown>>(
      'select * from custody_event where specimen_id = $1 and seq = 4',
      [tube.id],
    );
    const r = raw[0]!;
    const forged = eventHash(r.prev_hash as string, {
      specimenId: r.specimen_id as string,
      institutionId: r.institution_id as string,
      seq: r.seq as number,
      type: r.type as string,
      occurredAt: r.occurred_at as Date,
      recordedAt: r.recorded_at as Date,
      actor: r.actor as string,
      hashVersion: r.hash_version as number,
      actorName: r.actor_name as string | null,
      actorRole: r.actor_role as string | null,
      actorInstitutionCode: r.actor_institution_code as string | null,
      requestId: r.request_id as string,
      fromContainerId: r.from_container_id as string | null,
      fromPosition: r.from_position as string | null,
      toContainerId: r.to_container_id as string | null,
      toPosition: r.to_position as string | null,
      quantityChange: r.quantity_change as string | null,
      details: r.details as Record<string, unknown>,
    });
    await asSuperuser(`update custody_event set hash = $2 where specimen_id = $1 and seq = 4`, [
      tube.id,
      forged,
    ]);
    expect((await verify(tube.id)).firstBreak).toMatchObject({ seq: 5, reason: 'prev_hash_mismatch' });
  });

  it('reports a deleted event as a sequence gap', async () => {
    const box = await lab.box();
    const tube = await lab.register({ containerId: box.id, position: 'A1' });
    await lab.action(tube.id, 'check-out');
    await lab.action(tube.id, 'check-in');
    await asSuperuser('delete from custody_event where specimen_id = $1 and seq = 3', [tube.id]);
    const result = await verify(tube.id);
    expect(result.valid).toBe(false);
    expect(result.firstBreak).toMatchObject({ seq: 3, reason: 'sequence_gap' });
  });

  it('the database refuses UPDATE, DELETE and TRUNCATE on custody_event without the bypass', async () => {
    const box = await lab.box();
    const tube = await lab.register({ containerId: box.id, position: 'A1' });
    const before = await custodyRows(t, tube.id);
    await expect(
      t.sql.query(`update custody_event set to_position = 'B2' where specimen_id = $1`, [tube.id]),
    ).rejects.toThrow(/custody_event is append-only: UPDATE is not allowed/);
    await expect(
      t.sql.query(`update custody_event set to_position = 'B2' where specimen_id = $1`, [tube.id]),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(
      t.sql.query('delete from custody_event where specimen_id = $1', [tube.id]),
    ).rejects.toMatchObject({
      code: '42501',
    });
    await expect(t.sql.query('truncate custody_event')).rejects.toMatchObject({ code: '42501' });
    expect(await custodyRows(t, tube.id)).toEqual(before);
    expect((await verify(tube.id)).valid).toBe(true);
  });
});

describe('chains of new specimens', () => {
  it("starts an aliquot's chain with created_from_parent and records the draw on the parent", async () => {
    const box = await lab.box();
    const parent = await lab.register({ type: 'plasma', quantity: 3, containerId: box.id, position: 'A1' });
    const res = await lab.post(`/v1/specimens/${parent.id}/aliquots`, {
      aliquots: [
        { quantity: 1, containerId: box.id, position: 'A2' },
        { quantity: 1, barcode: `${parent.barcode}-X` },
      ],
    });
    expect(res.statusCode, res.body).toBe(201);
    const { children } = res.json<{ children: SpecimenBody[] }>();
    expect(children).toHaveLength(2);

    const placed = await custody(children[0]!.id);
    expect(placed.map((e) => e.type)).toEqual(['created_from_parent', 'stored']);
    expect(placed[0]).toMatchObject({ seq: 1, prevHash: null, quantityChange: 1 });
    expect(placed[0]!.details).toMatchObject({
      parentId: parent.id,
      parentBarcode: parent.barcode,
      lineage: 'aliquot',
    });
    expect(placed[1]).toMatchObject({ toContainerId: box.id, toPosition: 'A2' });
    const loose = await custody(children[1]!.id);
    expect(loose.map((e) => e.type)).toEqual(['created_from_parent']);

    const parentChain = await custody(parent.id);
    expect(parentChain.at(-1)).toMatchObject({ type: 'aliquoted', quantityChange: -2 });
    expect(parentChain.at(-1)!.details.children).toEqual(
      children.map((c) => ({ id: c.id, barcode: c.barcode })),
    );
    for (const id of [parent.id, ...children.map((c) => c.id)]) expect((await verify(id)).valid).toBe(true);
  });
});

describe('moving a box', () => {
  it('writes a moved event for every tube inside, and their locations follow the box', async () => {
    const box = await lab.box({ rows: 9, cols: 9 });
    const tubes = await Promise.all(
      ['A1', 'A2', 'B5'].map((position) => lab.register({ containerId: box.id, position })),
    );
    const outsider = await lab.register({ containerId: (await lab.box()).id, position: 'A1' });
    const { freezer, rack } = await (async () => {
      const f = await lab.container({ kind: 'freezer' });
      const r = await lab.container({ kind: 'rack', parentId: f.id, grid: { rows: 2, cols: 2 } });
      return { freezer: f, rack: r };
    })();
    const seqBefore = await Promise.all(tubes.map(async (s) => (await specimenRow(t, s.id)).custody_seq));

    const res = await lab.post(
      `/v1/containers/${box.id}/move`,
      { parentId: rack.id, slot: 'B2' },
      { role: 'technician' },
    );
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<ContainerBody>()).toMatchObject({ parentId: rack.id, slot: 'B2' });

    for (const [i, s] of tubes.entries()) {
      const chain = await custody(s.id);
      expect(chain).toHaveLength(seqBefore[i]! + 1);
      const last = chain.at(-1)!;
      expect(last).toMatchObject({
        type: 'moved',
        fromContainerId: box.id,
        toContainerId: box.id,
        fromPosition: s.location!.position,
        toPosition: s.location!.position,
      });
      expect(last.details).toMatchObject({ containerMoved: box.barcode });
      expect(String(last.details.toPath)).toContain(freezer.barcode);
      expect((await verify(s.id)).valid).toBe(true);
      const now = (await lab.get(`/v1/specimens/${s.id}`)).json<SpecimenBody>();
      expect(now.location!.path).toContain(`Rack ${rack.barcode}`);
      expect(now.version).toBe(s.version + 1);
    }
    // A tube in another box is not touched.
    expect((await specimenRow(t, outsider.id)).custody_seq).toBe(2);
  });

  it('moving a rack writes a moved event for the tubes of every box in it', async () => {
    const f1 = await lab.container({ kind: 'freezer' });
    const rack = await lab.container({ kind: 'rack', parentId: f1.id, grid: { rows: 2, cols: 2 } });
    const b1 = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'A1',
      grid: { rows: 9, cols: 9 },
    });
    const b2 = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'A2',
      grid: { rows: 9, cols: 9 },
    });
    const tubes = [
      await lab.register({ containerId: b1.id, position: 'A1' }),
      await lab.register({ containerId: b2.id, position: 'C3' }),
    ];
    const f2 = await lab.container({ kind: 'freezer' });
    const res = await lab.post(`/v1/containers/${rack.id}/move`, { parentId: f2.id });
    expect(res.statusCode, res.body).toBe(200);
    for (const s of tubes) {
      const chain = await custody(s.id);
      expect(chain.at(-1)).toMatchObject({ type: 'moved', details: { containerMoved: rack.barcode } });
      const now = (await lab.get(`/v1/specimens/${s.id}`)).json<SpecimenBody>();
      expect(now.location!.path.startsWith(`Freezer ${f2.barcode}`)).toBe(true);
    }
  });

  it('answers 404 for another institution’s specimen custody', async () => {
    const other = await makeLab(t);
    const tube = await other.register();
    expectProblem(await lab.get(`/v1/specimens/${tube.id}/custody`), 404, 'SPECIMEN_NOT_FOUND');
    expectProblem(await lab.get(`/v1/specimens/${tube.id}/custody/verify`), 404, 'SPECIMEN_NOT_FOUND');
  });
});
