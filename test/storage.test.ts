import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { expectProblem, fieldsOf, makeLab, uid, type ContainerBody, type Lab } from './helpers/inventory.js';

// The storage tree (site > freezer > rack > box), slots and positions, type restrictions, the
// box map and the free-position finder.

let t: TestApp;
let lab: Lab;

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
});
afterAll(() => t.close());

async function freezerAndRack(rackGrid = { rows: 2, cols: 2 }, rackExtra: Record<string, unknown> = {}) {
  const freezer = await lab.container({ kind: 'freezer', temperatureC: -80 });
  const rack = await lab.container({ kind: 'rack', parentId: freezer.id, grid: rackGrid, ...rackExtra });
  return { freezer, rack };
}

async function patchContainer(c: { id: string }, body: Record<string, unknown>) {
  const current = await lab.get(`/v1/containers/${c.id}`);
  expect(current.statusCode).toBe(200);
  return lab.call('PATCH', `/v1/containers/${c.id}`, body, {
    headers: { 'if-match': current.headers.etag as string },
  });
}

async function containerCount() {
  const { rows } = await t.sql.query<{ n: number }>(
    'select count(*)::int as n from container where institution_id = $1',
    [lab.institution.id],
  );
  return rows[0]!.n;
}

describe('container tree', () => {
  it('puts a box in a rack slot and reports its slot and path', async () => {
    const site = await lab.container({ kind: 'site', name: 'Main lab' });
    const freezer = await lab.container({ kind: 'freezer', parentId: site.id, temperatureC: -80 });
    const rack = await lab.container({ kind: 'rack', parentId: freezer.id, grid: { rows: 4, cols: 4 } });
    const box = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'c2',
      grid: { rows: 9, cols: 9 },
    });
    expect(box).toMatchObject({ parentId: rack.id, slot: 'C2' });
    expect(box.path).toBe(
      `Site Main lab / Freezer ${freezer.barcode} / Rack ${rack.barcode} / Box ${box.barcode}`,
    );
    const { rows } = await t.sql.query<{
      ancestor_ids: string[];
      slot_row: number;
      slot_col: number;
      temperature_c: string;
    }>('select ancestor_ids, slot_row, slot_col, temperature_c from container where id = $1', [box.id]);
    expect(rows[0]).toMatchObject({ ancestor_ids: [site.id, freezer.id, rack.id], slot_row: 3, slot_col: 2 });
    // The box inherits the freezer's temperature.
    expect(Number(rows[0]!.temperature_c)).toBe(-80);
  });

  it.each([
    { child: 'box', parent: 'site' },
    { child: 'rack', parent: 'site' },
    { child: 'freezer', parent: 'freezer' },
    { child: 'rack', parent: 'box' },
  ])(
    'refuses a $child inside a $parent with 422 INVALID_PARENT naming parentId',
    async ({ child, parent }) => {
      const p =
        parent === 'site'
          ? await lab.container({ kind: 'site' })
          : parent === 'freezer'
            ? await lab.container({ kind: 'freezer' })
            : await lab.box();
      const before = await containerCount();
      const res = await lab.post('/v1/containers', {
        kind: child,
        barcode: uid('X'),
        parentId: p.id,
        ...(child === 'rack' ? { grid: { rows: 2, cols: 2 } } : {}),
      });
      const problem = expectProblem(res, 422, 'INVALID_PARENT');
      expect(fieldsOf(problem)).toEqual(['parentId']);
      expect(await containerCount()).toBe(before);
    },
  );

  it('refuses a rack without a parent (422 INVALID_PARENT) and an unknown parent (404 naming parentId)', async () => {
    const orphan = await lab.post('/v1/containers', { kind: 'rack', barcode: uid('R') });
    expect(fieldsOf(expectProblem(orphan, 422, 'INVALID_PARENT'))).toEqual(['parentId']);
    const unknown = await lab.post('/v1/containers', {
      kind: 'box',
      barcode: uid('B'),
      parentId: '01900000-0000-7000-8000-000000000000',
    });
    expect(fieldsOf(expectProblem(unknown, 404, 'CONTAINER_NOT_FOUND'))).toEqual(['parentId']);
  });

  it('refuses a second box in an occupied rack slot with 409 SLOT_OCCUPIED, and a slot outside the rack grid with 400', async () => {
    const { rack } = await freezerAndRack();
    const first = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'A1',
      grid: { rows: 9, cols: 9 },
    });
    const before = await containerCount();
    const second = await lab.post('/v1/containers', {
      kind: 'box',
      barcode: uid('BOX'),
      parentId: rack.id,
      slot: 'A1',
      grid: { rows: 9, cols: 9 },
    });
    const problem = expectProblem(second, 409, 'SLOT_OCCUPIED');
    expect(problem.detail).toContain(first.barcode);
    expect(fieldsOf(problem)).toEqual(['slot']);

    const outside = await lab.post('/v1/containers', {
      kind: 'box',
      barcode: uid('BOX'),
      parentId: rack.id,
      slot: 'C1',
    });
    expect(fieldsOf(expectProblem(outside, 400, 'POSITION_OUTSIDE_GRID'))).toEqual(['slot']);
    const none = await lab.post('/v1/containers', { kind: 'box', barcode: uid('BOX'), parentId: rack.id });
    expect(fieldsOf(expectProblem(none, 400, 'SLOT_REQUIRED'))).toEqual(['slot']);
    expect(await containerCount()).toBe(before);

    // Moving another box into the taken slot is refused the same way.
    const elsewhere = await lab.box();
    const move = await lab.post(`/v1/containers/${elsewhere.id}/move`, { parentId: rack.id, slot: 'A1' });
    expectProblem(move, 409, 'SLOT_OCCUPIED');
  });

  it('lets exactly one of 30 concurrent boxes into one rack slot; the rest get 409 SLOT_OCCUPIED', async () => {
    const { rack } = await freezerAndRack();
    const answers = await Promise.all(
      Array.from({ length: 30 }, () =>
        lab.post('/v1/containers', {
          kind: 'box',
          barcode: uid('BOX'),
          parentId: rack.id,
          slot: 'B2',
          grid: { rows: 9, cols: 9 },
        }),
      ),
    );
    const codes = answers.map((a) => a.statusCode).sort();
    expect(codes.filter((c) => c === 201)).toHaveLength(1);
    expect(codes.filter((c) => c === 409)).toHaveLength(29);
    for (const a of answers.filter((x) => x.statusCode === 409)) expectProblem(a, 409, 'SLOT_OCCUPIED');
    const { rows } = await t.sql.query<{ n: number }>(
      'select count(*)::int as n from container where parent_id = $1 and slot_row = 2 and slot_col = 2',
      [rack.id],
    );
    expect(rows[0]!.n).toBe(1);
  });

  it('refuses a box moved inside itself and a box moved under a site', async () => {
    const box = await lab.box();
    const site = await lab.container({ kind: 'site' });
    expectProblem(
      await lab.post(`/v1/containers/${box.id}/move`, { parentId: site.id }),
      422,
      'INVALID_PARENT',
    );
    const { freezer, rack } = await freezerAndRack();
    expectProblem(
      await lab.post(`/v1/containers/${freezer.id}/move`, { parentId: rack.id, slot: 'A1' }),
      422,
      'CONTAINER_CYCLE',
    );
  });

  it('writes nothing for a box moved again to the slot it holds, and still records a move elsewhere', async () => {
    const { freezer, rack } = await freezerAndRack();
    const box = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'A1',
      grid: { rows: 3, cols: 3 },
    });
    const tube = await lab.register({ containerId: box.id, position: 'A1' });
    const bag = await lab.container({ kind: 'box', parentId: freezer.id });
    const counts = await lab.counts();
    for (const body of [
      { parentId: rack.id, slot: 'A1' },
      { parentId: rack.id, slot: 'a1' },
    ]) {
      const again = await lab.post(`/v1/containers/${box.id}/move`, body);
      expect(again.statusCode, again.body).toBe(200);
      expect(again.json<{ version: number }>().version).toBe(box.version);
    }
    const bagAgain = await lab.post(`/v1/containers/${bag.id}/move`, { parentId: freezer.id });
    expect(bagAgain.json<{ version: number }>().version).toBe(bag.version);
    expect(await lab.counts()).toEqual(counts);
    const moved = await lab.post(`/v1/containers/${box.id}/move`, { parentId: rack.id, slot: 'B2' });
    expect(moved.json<{ version: number }>().version).toBe(box.version + 1);
    const events = await t.sql.query<{ type: string }>(
      'select type from custody_event where specimen_id = $1 order by seq',
      [tube.id],
    );
    expect(events.rows.map((e) => e.type).filter((e) => e === 'moved')).toHaveLength(1);
  });

  it('records one move when the same box move is sent three times at once', async () => {
    const { rack } = await freezerAndRack();
    const box = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'A1',
      grid: { rows: 3, cols: 3 },
    });
    const tube = await lab.register({ containerId: box.id, position: 'B2' });
    const counts = await lab.counts();
    const all = await Promise.all(
      [0, 1, 2].map(() => lab.post(`/v1/containers/${box.id}/move`, { parentId: rack.id, slot: 'B2' })),
    );
    expect(all.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    expect(all.map((r) => r.json<{ version: number }>().version)).toEqual(
      [2, 2, 2].map(() => box.version + 1),
    );
    // The subtree lock queues the others, which find the box already there and write nothing.
    // One move: one custody event for the tube, one audit row for the box and one for the tube.
    expect(await lab.counts()).toEqual({ ...counts, custody: counts.custody + 1, audit: counts.audit + 2 });
    const verify = await lab.get(`/v1/specimens/${tube.id}/custody/verify`);
    expect(verify.json<{ valid: boolean }>().valid).toBe(true);
  });
});

describe('allowed specimen types', () => {
  it('refuses a type a box does not allow with 422 TYPE_NOT_ALLOWED, when registering and when storing', async () => {
    const box = await lab.box({ rows: 9, cols: 9 }, { allowedTypes: ['plasma', 'serum'] });
    const before = await lab.counts();
    const reg = await lab.post('/v1/specimens', {
      barcode: uid('S'),
      type: 'whole_blood',
      quantity: 4,
      containerId: box.id,
      position: 'A1',
    });
    const problem = expectProblem(reg, 422, 'TYPE_NOT_ALLOWED');
    expect(problem.detail).toContain('whole_blood');
    expect(problem.detail).toContain(box.barcode);
    expect(fieldsOf(problem)).toEqual(['containerId']);
    expect(await lab.counts()).toEqual(before);

    const pending = await lab.register({ type: 'whole_blood' });
    expectProblem(
      await lab.post(`/v1/specimens/${pending.id}/store`, { containerId: box.id, position: 'A1' }),
      422,
      'TYPE_NOT_ALLOWED',
    );
    const serum = await lab.register({ type: 'serum', containerId: box.id, position: 'A1' });
    expect(serum.location?.position).toBe('A1');
  });

  it('inherits a rack’s restriction in the boxes below it', async () => {
    const { rack } = await freezerAndRack({ rows: 2, cols: 2 }, { allowedTypes: ['dna', 'rna'] });
    const box = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'A1',
      grid: { rows: 9, cols: 9 },
    });
    const refused = await lab.post('/v1/specimens', {
      barcode: uid('S'),
      type: 'plasma',
      quantity: 1,
      containerId: box.id,
      position: 'A1',
    });
    const problem = expectProblem(refused, 422, 'TYPE_NOT_ALLOWED');
    expect(problem.detail).toContain(rack.barcode);
    await lab.register({ type: 'dna', quantity: 50, containerId: box.id, position: 'A1' });
    // A box of plasma cannot be moved into the DNA rack either.
    const plasmaBox = await lab.box();
    await lab.register({ type: 'plasma', containerId: plasmaBox.id, position: 'A1' });
    expectProblem(
      await lab.post(`/v1/containers/${plasmaBox.id}/move`, { parentId: rack.id, slot: 'A2' }),
      422,
      'TYPE_NOT_ALLOWED',
    );
  });

  it('refuses restricting a box (or a rack above it) when a tube inside breaks the restriction', async () => {
    const { rack } = await freezerAndRack();
    const box = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'A1',
      grid: { rows: 9, cols: 9 },
    });
    await lab.register({ type: 'whole_blood', containerId: box.id, position: 'B2' });

    for (const target of [box, rack]) {
      const before = (await lab.get(`/v1/containers/${target.id}`)).json<ContainerBody>();
      const res = await patchContainer(target, { allowedTypes: ['plasma'] });
      const problem = expectProblem(res, 422, 'TYPE_NOT_ALLOWED');
      expect(fieldsOf(problem)).toEqual(['allowedTypes']);
      const after = (await lab.get(`/v1/containers/${target.id}`)).json<ContainerBody>();
      expect(after).toMatchObject({ allowedTypes: before.allowedTypes, version: before.version });
    }
    const ok = await patchContainer(box, { allowedTypes: ['whole_blood', 'plasma'] });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json<ContainerBody>().allowedTypes).toEqual(['whole_blood', 'plasma']);
    const cleared = await patchContainer(box, { allowedTypes: null });
    expect(cleared.json<ContainerBody>().allowedTypes).toBeNull();
  });
});

describe('box map and free positions', () => {
  it('maps a box with its tubes and a rack with its boxes', async () => {
    const { rack } = await freezerAndRack();
    const box = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'B1',
      grid: { rows: 2, cols: 3 },
    });
    const a = await lab.register({ type: 'serum', containerId: box.id, position: 'A2' });
    const b = await lab.register({ type: 'plasma', containerId: box.id, position: 'B3' });
    await lab.action(b.id, 'check-out');

    const res = await lab.get(`/v1/containers/${box.id}/map`, { role: 'technician' });
    expect(res.statusCode, res.body).toBe(200);
    const map = res.json<{
      rows: number;
      cols: number;
      occupied: number;
      positions: {
        position: string;
        occupant: { id: string; barcode: string; type?: string; status?: string } | null;
      }[];
    }>();
    expect(map).toMatchObject({ rows: 2, cols: 3, occupied: 2 });
    expect(map.positions.map((p) => p.position)).toEqual(['A1', 'A2', 'A3', 'B1', 'B2', 'B3']);
    expect(map.positions[1]!.occupant).toMatchObject({
      id: a.id,
      barcode: a.barcode,
      type: 'serum',
      status: 'available',
    });
    // A checked-out tube keeps its position for check-in.
    expect(map.positions[5]!.occupant).toMatchObject({ id: b.id, status: 'in_use' });
    expect(map.positions.filter((p) => p.occupant === null)).toHaveLength(4);

    const rackMap = (await lab.get(`/v1/containers/${rack.id}/map`)).json<typeof map>();
    expect(rackMap.occupied).toBe(1);
    expect(rackMap.positions.find((p) => p.position === 'B1')!.occupant).toMatchObject({
      id: box.id,
      barcode: box.barcode,
    });
  });

  it('lists free positions in fill order across two boxes (row-major, then column-major)', async () => {
    const { rack } = await freezerAndRack();
    const rowMajor = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'A1',
      grid: { rows: 2, cols: 3, fillOrder: 'row_major' },
    });
    const colMajor = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'A2',
      grid: { rows: 2, cols: 3, fillOrder: 'column_major' },
    });
    await lab.register({ containerId: rowMajor.id, position: 'A1' });
    await lab.register({ containerId: rowMajor.id, position: 'A3' });
    await lab.register({ containerId: colMajor.id, position: 'B1' });

    const res = await lab.get(`/v1/containers/${rack.id}/free-positions?count=8`, { role: 'technician' });
    expect(res.statusCode, res.body).toBe(200);
    const items = res.json<{ items: { containerId: string; position: string; path: string }[] }>().items;
    expect(items.map((i) => `${i.containerId === rowMajor.id ? 'R' : 'C'}:${i.position}`)).toEqual([
      'R:A2',
      'R:B1',
      'R:B2',
      'R:B3',
      'C:A1',
      'C:A2',
      'C:B2',
      'C:A3',
    ]);
    expect(items[0]!.path).toBe(`${rack.path} / Box ${rowMajor.barcode} / A2`);

    // Counting stops where asked; one box alone answers from its own grid.
    const two = (await lab.get(`/v1/containers/${colMajor.id}/free-positions?count=2`)).json<{
      items: { position: string }[];
    }>();
    expect(two.items.map((i) => i.position)).toEqual(['A1', 'A2']);
  });

  it('skips boxes that do not allow the type asked for', async () => {
    const { rack } = await freezerAndRack();
    await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'A1',
      grid: { rows: 1, cols: 2 },
      allowedTypes: ['dna'],
    });
    const open = await lab.container({
      kind: 'box',
      parentId: rack.id,
      slot: 'A2',
      grid: { rows: 1, cols: 2 },
    });
    const res = await lab.get(`/v1/containers/${rack.id}/free-positions?count=5&type=plasma`);
    const items = res.json<{ items: { containerId: string; position: string }[] }>().items;
    expect(items).toEqual([
      expect.objectContaining({ containerId: open.id, position: 'A1' }),
      expect.objectContaining({ containerId: open.id, position: 'A2' }),
    ]);
  });

  it('uses numeric labels for a numeric grid', async () => {
    const box = await lab.box({ rows: 2, cols: 5, scheme: 'numeric' });
    const s = await lab.register({ containerId: box.id, position: '7' });
    expect(s.location?.position).toBe('7');
    const { rows } = await t.sql.query<{ position_row: number; position_col: number }>(
      'select position_row, position_col from specimen where id = $1',
      [s.id],
    );
    expect(rows[0]).toEqual({ position_row: 2, position_col: 2 });
    const outside = await lab.post('/v1/specimens', {
      barcode: uid('S'),
      type: 'serum',
      quantity: 1,
      containerId: box.id,
      position: '11',
    });
    expect(fieldsOf(expectProblem(outside, 400, 'POSITION_OUTSIDE_GRID'))).toEqual(['position']);
  });
});

describe('positions outside the grid', () => {
  it.each(['J1', 'A10', 'A0', '0', 'AA1', '?'])(
    'refuses position %s of a 9 x 9 box with 400 POSITION_OUTSIDE_GRID naming the field',
    async (position) => {
      const box = await lab.box({ rows: 9, cols: 9 });
      const before = await lab.counts();
      const reg = await lab.post('/v1/specimens', {
        barcode: uid('S'),
        type: 'serum',
        quantity: 1,
        containerId: box.id,
        position,
      });
      const problem = expectProblem(reg, 400, 'POSITION_OUTSIDE_GRID');
      expect(fieldsOf(problem)).toEqual(['position']);
      expect(problem.detail).toContain(position);

      const pending = await lab.register();
      const counts = await lab.counts();
      const store = await lab.post(`/v1/specimens/${pending.id}/store`, { containerId: box.id, position });
      expect(fieldsOf(expectProblem(store, 400, 'POSITION_OUTSIDE_GRID'))).toEqual(['position']);
      expect(await lab.counts()).toEqual(counts);
      expect(counts.specimen).toBe(before.specimen + 1);
    },
  );

  it('refuses a tube placed on a rack or freezer (no positions for tubes there)', async () => {
    const { freezer, rack } = await freezerAndRack();
    for (const c of [freezer, rack]) {
      const res = await lab.post('/v1/specimens', {
        barcode: uid('S'),
        type: 'serum',
        quantity: 1,
        containerId: c.id,
        position: 'A1',
      });
      expect(fieldsOf(expectProblem(res, 422, 'NOT_A_SPECIMEN_CONTAINER'))).toEqual(['containerId']);
    }
  });
});
