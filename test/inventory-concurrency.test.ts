import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { expectProblem, makeLab, uid, type Lab, type SpecimenBody } from './helpers/inventory.js';
import {
  lockPositions,
  WHOLE_CONTAINER_SLOTS,
} from '../src/modules/storage/position-occupancy.read-model.js';

// Races the database must win: one tube per position (unique constraint) and never a negative
// quantity (row lock + CHECK), however many requests arrive at once.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp({ env: { DATABASE_POOL_SIZE: '30' } });
  lab = await makeLab(t);
});
afterAll(() => t.close());

const tally = (codes: number[]) =>
  codes.reduce<Record<number, number>>((acc, c) => ({ ...acc, [c]: (acc[c] ?? 0) + 1 }), {});

async function occupants(boxId: string, row: number, col: number) {
  const { rows } = await t.sql.query<{ id: string }>(
    'select id from specimen where container_id = $1 and position_row = $2 and position_col = $3',
    [boxId, row, col],
  );
  return rows.map((r) => r.id);
}

describe('one tube per position under 200 concurrent requests', () => {
  it('stores exactly one of 200 pending tubes sent to the same empty position; the rest get 409 POSITION_OCCUPIED', async () => {
    const box = await lab.box();
    const res = await lab.post('/v1/specimens/batch', {
      specimens: Array.from({ length: 200 }, () => ({ barcode: uid('RACE'), type: 'serum', quantity: 1 })),
    });
    expect(res.statusCode, res.body).toBe(201);
    const tubes = res.json<{ items: SpecimenBody[] }>().items;
    expect(tubes.every((s) => s.status === 'pending')).toBe(true);

    const answers = await Promise.all(
      tubes.map((s) =>
        lab.post(
          `/v1/specimens/${s.id}/store`,
          { containerId: box.id, position: 'C4' },
          { role: 'technician' },
        ),
      ),
    );
    const codes = answers.map((a) => a.statusCode);
    expect(tally(codes)).toEqual({ 200: 1, 409: 199 });
    for (const a of answers.filter((x) => x.statusCode === 409)) expectProblem(a, 409, 'POSITION_OCCUPIED');

    const winner = answers.find((a) => a.statusCode === 200)!.json<SpecimenBody>();
    expect(winner.location?.position).toBe('C4');
    // Losers queue behind the winner and are told who holds the position, in product words.
    for (const a of answers.filter((x) => x.statusCode === 409))
      expect(a.json<{ detail: string }>().detail).toBe(
        `position C4 of box ${box.barcode} is occupied by ${winner.barcode}`,
      );
    expect(await occupants(box.id, 3, 4)).toEqual([winner.id]);
    // The losers are untouched: still pending, no second custody event.
    const { rows } = await t.sql.query<{ status: string; n: number; seq: number }>(
      `select status::text, count(*)::int as n, max(custody_seq)::int as seq from specimen
        where id = any($1::uuid[]) and id <> $2 group by status`,
      [tubes.map((s) => s.id), winner.id],
    );
    expect(rows).toEqual([{ status: 'pending', n: 199, seq: 1 }]);
  });

  it('registers exactly one of 200 new tubes sent straight into the same empty position', async () => {
    const box = await lab.box();
    const before = await lab.counts();
    const answers = await Promise.all(
      Array.from({ length: 200 }, () =>
        lab.post(
          '/v1/specimens',
          { barcode: uid('RACE'), type: 'plasma', quantity: 1, containerId: box.id, position: 'E5' },
          { role: 'technician' },
        ),
      ),
    );
    expect(tally(answers.map((a) => a.statusCode))).toEqual({ 201: 1, 409: 199 });
    for (const a of answers.filter((x) => x.statusCode === 409)) expectProblem(a, 409, 'POSITION_OCCUPIED');

    const winner = answers.find((a) => a.statusCode === 201)!.json<SpecimenBody>();
    expect(await occupants(box.id, 5, 5)).toEqual([winner.id]);
    for (const a of answers.filter((x) => x.statusCode === 409))
      expect(a.json<{ detail: string }>().detail).toBe(
        `position E5 of box ${box.barcode} is occupied by ${winner.barcode}`,
      );
    const after = await lab.counts();
    // One specimen, its two events (registered, stored) and one audit row: nothing of the losers.
    expect(after.specimen - before.specimen).toBe(1);
    expect(after.custody - before.custody).toBe(2);
    expect(after.audit - before.audit).toBe(1);
  });
});

describe('aliquots never overdraw the parent', () => {
  it('lets exactly 33 of 50 concurrent 0.3 mL aliquots through a 10 mL parent', async () => {
    const box = await lab.box();
    const parent = await lab.register({
      type: 'plasma',
      quantity: 10,
      unit: 'mL',
      containerId: box.id,
      position: 'A1',
    });

    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        lab.post(
          `/v1/specimens/${parent.id}/aliquots`,
          { aliquots: [{ quantity: 0.3 }] },
          { role: 'technician' },
        ),
      ),
    );
    const codes = answers.map((a) => a.statusCode);
    expect(tally(codes)).toEqual({ 201: 33, 409: 17 });
    for (const a of answers.filter((x) => x.statusCode === 409))
      expectProblem(a, 409, 'INSUFFICIENT_QUANTITY');

    const { rows } = await t.sql.query<{
      available: string;
      status: string;
      children: number;
      drawn: string;
    }>(
      `select p.available_quantity::text as available, p.status::text as status,
              (select count(*)::int from specimen c where c.parent_id = p.id and c.lineage = 'aliquot') as children,
              (select coalesce(sum(c.initial_quantity), 0)::text from specimen c where c.parent_id = p.id) as drawn
         from specimen p where p.id = $1`,
      [parent.id],
    );
    const row = rows[0]!;
    expect(Number(row.available)).toBeGreaterThanOrEqual(0);
    expect(Number(row.available)).toBeCloseTo(10 - 0.3 * 33, 6);
    expect(row.children).toBe(33);
    expect(Number(row.drawn)).toBeCloseTo(9.9, 6);
    expect(row.status).toBe('available');

    // The parent's custody chain holds one `aliquoted` event per success and nothing else.
    const events = await t.sql.query<{ n: number }>(
      "select count(*)::int as n from custody_event where specimen_id = $1 and type = 'aliquoted'",
      [parent.id],
    );
    expect(events.rows[0]!.n).toBe(33);
  });
});

describe('a writer of many positions', () => {
  it('holds its boxes whole: a registration into one of them waits until it ends, one into another box does not', async () => {
    const held = await lab.box();
    const other = await lab.box();
    // An import chunk's placement locks (more than WHOLE_CONTAINER_SLOTS positions of one box), none
    // of them the position registered into below: only the box's own lock can make it wait.
    const slots = Array.from({ length: WHOLE_CONTAINER_SLOTS + 1 }, (_, i) => ({
      containerId: held.id,
      row: 20 + Math.floor(i / 100),
      col: 1 + (i % 100),
    }));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const writer = t.c.db.transaction(async (tx) => {
      await lockPositions(tx, slots);
      locked();
      await released;
    });
    await isLocked;
    const into = (box: { id: string }) =>
      lab.post('/v1/specimens', {
        barcode: uid('HELD'),
        type: 'serum',
        quantity: 1,
        containerId: box.id,
        position: 'A1',
      });
    const elsewhere = await into(other);
    expect(elsewhere.statusCode, elsewhere.body).toBe(201);
    let done = false;
    const waiting = into(held).then((r) => ((done = true), r));
    // It queues on the box's lock (not merely slow under load): seen waiting on an advisory lock.
    let queued = false;
    for (let i = 0; i < 200 && !done && !queued; i++) {
      const { rows } = await t.sql.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and wait_event = 'advisory'`,
      );
      queued = rows[0]!.n > 0;
      if (!queued) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(queued).toBe(true);
    expect(done).toBe(false);
    release();
    await writer;
    const res = await waiting;
    expect(res.statusCode, res.body).toBe(201);
  });
});
