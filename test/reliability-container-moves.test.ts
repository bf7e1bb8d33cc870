import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { makeLab, type ContainerBody, type Lab, type SpecimenBody } from './helpers/inventory.js';

// Finding 4 of the reliability review: a box moved into a rack while that rack moves to another
// freezer kept the old freezer in its location chain. Random concurrent moves and creations over a
// small tree, then every chain is checked against one recomputed from the parent links alone.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t?.close());

/** Whether a request of the app waits on a row lock of the table. */
async function waitingOn(table: string): Promise<boolean> {
  const { rowCount } = await t.sql.query(
    `select 1 from pg_stat_activity where datname = current_database() and application_name = 'biobank'
        and wait_event_type = 'Lock' and query ilike $1`,
    [`%from "${table}"%for%`],
  );
  return rowCount! > 0;
}

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<true> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** A seeded generator, so a failing round can be replayed. */
function random(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

interface Row {
  id: string;
  kind: string;
  name: string;
  parent_id: string | null;
  ancestor_ids: string[];
  chain_ids: string[];
}

const LABEL: Record<string, string> = { freezer: 'Freezer', rack: 'Rack', box: 'Box' };

/** Every chain of the institution's containers and tubes, against the parent links. */
async function checkChains(tubes: SpecimenBody[]) {
  const { rows } = await t.sql.query<Row>(
    `select id, kind, name, parent_id, ancestor_ids,
            array(select e->>'id' from jsonb_array_elements(location_chain) e) as chain_ids
       from container where institution_id = $1`,
    [lab.institution.id],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const ancestorsOf = (id: string): string[] => {
    const parent = byId.get(id)!.parent_id;
    return parent ? [...ancestorsOf(parent), parent] : [];
  };
  const wrong = rows.filter((r) => {
    const expected = ancestorsOf(r.id);
    return (
      JSON.stringify(r.ancestor_ids) !== JSON.stringify(expected) ||
      JSON.stringify(r.chain_ids) !== JSON.stringify([...expected, r.id])
    );
  });
  expect(wrong.map((r) => `${r.kind} ${r.name}`)).toEqual([]);

  // What a scanner sees, and what a subtree query finds.
  for (const tube of tubes) {
    const res = await lab.get(`/v1/specimens/by-barcode/${tube.barcode}`, { role: 'technician' });
    expect(res.statusCode).toBe(200);
    const location = res.json<SpecimenBody>().location!;
    const expected = [...ancestorsOf(location.containerId), location.containerId]
      .map((id) => `${LABEL[byId.get(id)!.kind]} ${byId.get(id)!.name}`)
      .join(' / ');
    expect(location.path, tube.barcode).toBe(`${expected} / ${location.position}`);
  }
  for (const freezer of rows.filter((r) => r.kind === 'freezer')) {
    const { rows: found } = await t.sql.query<{ n: number }>(
      `select count(*)::int as n from specimen s join container c on c.id = s.container_id
        where s.institution_id = $1 and s.id = any($3::uuid[])
          and (c.id = $2 or c.ancestor_ids @> array[$2::uuid])`,
      [lab.institution.id, freezer.id, tubes.map((tube) => tube.id)],
    );
    const walked = tubes.filter((tube) =>
      ancestorsOf(tube.location!.containerId).includes(freezer.id),
    ).length;
    expect(found[0]!.n, `tubes under freezer ${freezer.name}`).toBe(walked);
  }
}

describe('concurrent container moves', () => {
  it('record the new freezer for a box moved into a rack while the rack moves to that freezer', async () => {
    const [f1, f2] = [await lab.container({ kind: 'freezer' }), await lab.container({ kind: 'freezer' })];
    const rack = await lab.container({ kind: 'rack', parentId: f1.id });
    const elsewhere = await lab.container({ kind: 'rack', parentId: f1.id });
    const box = await lab.container({ kind: 'box', parentId: elsewhere.id, grid: { rows: 2, cols: 2 } });
    const tube = await lab.register({ containerId: box.id, position: 'A1' });
    // The box's move stalls on its tube (held here) after it has read where the rack is.
    const hold = await t.sql.connect();
    let boxMove;
    let rackMove;
    try {
      await hold.query('begin');
      await hold.query('select 1 from specimen where id = $1 for update', [tube.id]);
      boxMove = lab.post(`/v1/containers/${box.id}/move`, { parentId: rack.id });
      await until(() => waitingOn('specimen'));
      rackMove = lab.post(`/v1/containers/${rack.id}/move`, { parentId: f2.id });
      // The rack's move either waits for the box's (it must) or finishes at once (the race).
      await Promise.race([until(() => waitingOn('container')), rackMove]);
    } finally {
      await hold.query('rollback');
      hold.release();
    }
    expect((await boxMove).statusCode).toBe(200);
    expect((await rackMove).statusCode).toBe(200);
    const scanned = await lab.get(`/v1/specimens/by-barcode/${tube.barcode}`, { role: 'technician' });
    expect(scanned.json<SpecimenBody>().location?.path).toBe(
      `Freezer ${f2.barcode} / Rack ${rack.barcode} / Box ${box.barcode} / A1`,
    );
    await checkChains([scanned.json<SpecimenBody>()]);
  });

  it(
    'keep every location chain equal to the one the parent links give, under random interleavings',
    { timeout: 90_000 },
    async () => {
      const freezers: ContainerBody[] = [];
      for (let i = 0; i < 3; i++) freezers.push(await lab.container({ kind: 'freezer' }));
      const racks: ContainerBody[] = [];
      for (let i = 0; i < 6; i++)
        racks.push(await lab.container({ kind: 'rack', parentId: freezers[i % 3]!.id }));
      const boxes: ContainerBody[] = [];
      const tubes: SpecimenBody[] = [];
      for (let i = 0; i < 12; i++) {
        const box = await lab.container({
          kind: 'box',
          parentId: racks[i % 6]!.id,
          grid: { rows: 2, cols: 2 },
        });
        boxes.push(box);
        tubes.push(await lab.register({ containerId: box.id, position: 'A1' }));
      }

      for (let round = 0; round < 6; round++) {
        const pick = random(1000 + round);
        // Six clients at once, each sending a few moves in a row: racks between freezers, boxes
        // between racks, and now and then a new box under a rack that may be moving.
        const clients = Array.from({ length: 6 }, async () => {
          const statuses: number[] = [];
          for (let op = 0; op < 5; op++) {
            const kind = pick(10);
            let res;
            if (kind < 4) {
              const rack = racks[pick(racks.length)]!;
              res = await lab.post(`/v1/containers/${rack.id}/move`, { parentId: freezers[pick(3)]!.id });
            } else if (kind < 9) {
              const box = boxes[pick(boxes.length)]!;
              res = await lab.post(`/v1/containers/${box.id}/move`, {
                parentId: racks[pick(racks.length)]!.id,
              });
            } else {
              res = await lab.post('/v1/containers', {
                kind: 'box',
                barcode: `NB-${round}-${pick(1e9)}`,
                parentId: racks[pick(racks.length)]!.id,
              });
            }
            statuses.push(res.statusCode);
          }
          return statuses;
        });
        const statuses = (await Promise.all(clients)).flat();
        // Tubes keep their box; the boxes moved.
        const current = await Promise.all(
          tubes.map(async (tube) => (await lab.get(`/v1/specimens/${tube.id}`)).json<SpecimenBody>()),
        );
        await checkChains(current);
        // Locks taken in one order: no request lost to a deadlock.
        expect(statuses.filter((s) => s !== 200 && s !== 201)).toEqual([]);
      }
    },
  );
});

describe('concurrent container edits', () => {
  it('let a tube move within a box while the box is held for a move (no lock order to deadlock on)', async () => {
    const box = await lab.box({ rows: 2, cols: 2 });
    const tube = await lab.register({ containerId: box.id, position: 'A1' });
    // A container move holds the box (FOR NO KEY UPDATE) before it locks the tubes inside, while
    // an action on a tube locks the tube before it reads its place: the place must not wait.
    const hold = await t.sql.connect();
    try {
      await hold.query('begin');
      await hold.query('select 1 from container where id = $1 for no key update', [box.id]);
      const moved = await lab.post(`/v1/specimens/${tube.id}/store`, { containerId: box.id, position: 'B2' });
      expect(moved.statusCode, moved.body).toBe(200);
    } finally {
      await hold.query('rollback');
      hold.release();
    }
  });

  it('never leave a box allowing fewer types than it holds, when its restriction races tubes stored in it', async () => {
    // A race: each round either refuses the restriction or refuses the tubes; never both pass.
    for (let round = 0; round < 4; round++) {
      const box = await lab.box({ rows: 2, cols: 2 });
      const narrow = lab.call(
        'PATCH',
        `/v1/containers/${box.id}`,
        { allowedTypes: ['dna'] },
        { headers: { 'if-match': '*' } },
      );
      const stores = ['A1', 'A2', 'B1', 'B2'].map((position) =>
        lab.post('/v1/specimens', {
          barcode: `RACE-${box.id.slice(-8)}-${position}`,
          type: 'serum',
          quantity: 1,
          containerId: box.id,
          position,
        }),
      );
      const [edit, ...placed] = await Promise.all([narrow, ...stores]);
      const { rows } = await t.sql.query<{ allowed_types: string[] | null; serum: number }>(
        `select c.allowed_types, (select count(*)::int from specimen s where s.container_id = c.id and s.type = 'serum') as serum
           from container c where c.id = $1`,
        [box.id],
      );
      const after = rows[0]!;
      if (edit.statusCode === 200) {
        expect(after.allowed_types).toEqual(['dna']);
        expect(after.serum, `round ${round}: ${placed.map((p) => p.statusCode).join(',')}`).toBe(0);
      } else {
        expect(edit.json<{ code: string }>().code).toBe('TYPE_NOT_ALLOWED');
        expect(after.allowed_types).toBeNull();
      }
    }
  });

  it('resolve If-Match: * to the version each edit replaces, so concurrent edits all apply', async () => {
    const box = await lab.box({ rows: 2, cols: 2 });
    const edits = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        lab.call(
          'PATCH',
          `/v1/containers/${box.id}`,
          { name: `edit ${i}` },
          { headers: { 'if-match': '*' } },
        ),
      ),
    );
    expect(edits.map((e) => e.statusCode)).toEqual(Array<number>(10).fill(200));
    const versions = edits.map((e) => e.json<{ version: number }>().version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 10 }, (_, i) => box.version + 1 + i));
  });
});
