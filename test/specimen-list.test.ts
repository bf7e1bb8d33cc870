import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/test-app.js';
import { makeLab, type ContainerBody, type Lab, type SpecimenBody } from './helpers/inventory.js';

// GET /v1/specimens filters, each answering exactly its matches in key order, a page at a time,
// however the query reaches them (a subtree's and a collection window's id bounds, the sparse
// state indexes).

let t: TestApp;
let lab: Lab;
let freezer: ContainerBody;
let boxA: ContainerBody;
let boxB: ContainerBody;
let outside: ContainerBody;
const tubes: SpecimenBody[] = [];
const collected = new Map<string, string>();

interface ListBody {
  items: { id: string }[];
  nextCursor: string | null;
}

async function all(query: string, limit = 2): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let guard = 0; guard < 50; guard++) {
    const res = await lab.get(
      `/v1/specimens?limit=${limit}&${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<ListBody>();
    ids.push(...body.items.map((i) => i.id));
    cursor = body.nextCursor;
    if (!cursor) return ids;
  }
  throw new Error('too many pages');
}

const sorted = (ids: string[]) => [...ids].sort();

beforeAll(async () => {
  t = await createTestApp();
  lab = await makeLab(t);
  const made = await lab.freezerWithRack();
  freezer = made.freezer;
  boxA = await lab.container({ kind: 'box', parentId: made.rack.id, slot: 'A1', grid: { rows: 4, cols: 4 } });
  boxB = await lab.container({ kind: 'box', parentId: made.rack.id, slot: 'A2', grid: { rows: 4, cols: 4 } });
  outside = await lab.box({ rows: 4, cols: 4 });
  // Interleaved in key order: outside, A, B, outside, A, B, ...
  for (let i = 0; i < 9; i++) {
    const box = [outside, boxA, boxB][i % 3]!;
    const at = new Date(Date.UTC(2024, 0, 1 + i * 7)).toISOString();
    const tube = await lab.register({
      containerId: box.id,
      position: `A${Math.floor(i / 3) + 1}`,
      collectedAt: at,
    });
    tubes.push(tube);
    collected.set(tube.id, at);
  }
});
afterAll(() => t.close());

describe('GET /v1/specimens filters', () => {
  it('lists a freezer subtree page by page in key order, and nothing past its last tube', async () => {
    const inFreezer = tubes.filter((_, i) => i % 3 !== 0).map((s) => s.id);
    expect(await all(`containerId=${freezer.id}`)).toEqual(sorted(inFreezer));
    expect(await all(`containerId=${boxB.id}`, 1)).toEqual(
      sorted(tubes.filter((_, i) => i % 3 === 2).map((s) => s.id)),
    );
    const last = sorted(inFreezer).at(-1)!;
    const past = Buffer.from(JSON.stringify(last)).toString('base64url');
    const res = await lab.get(`/v1/specimens?containerId=${freezer.id}&cursor=${past}`);
    expect(res.json<ListBody>()).toEqual({ items: [], nextCursor: null });
    const empty = await lab.box({ rows: 2, cols: 2 });
    expect(await all(`containerId=${empty.id}`)).toEqual([]);
  });

  it('lists a collection window with both ends, and with one', async () => {
    const from = '2024-01-10T00:00:00.000Z';
    const to = '2024-02-01T00:00:00.000Z';
    const within = tubes
      .filter((s) => collected.get(s.id)! >= from && collected.get(s.id)! <= to)
      .map((s) => s.id);
    expect(within).toHaveLength(3);
    expect(await all(`collectedFrom=${from}&collectedTo=${to}`, 1)).toEqual(sorted(within));
    expect(await all(`containerId=${freezer.id}&collectedFrom=${from}&collectedTo=${to}`)).toEqual(
      sorted(within.filter((id) => tubes.findIndex((s) => s.id === id) % 3 !== 0)),
    );
    const after = tubes.filter((s) => collected.get(s.id)! >= from).map((s) => s.id);
    expect(await all(`collectedFrom=${from}&containerId=${freezer.id}`)).toEqual(
      sorted(after.filter((id) => tubes.findIndex((s) => s.id === id) % 3 !== 0)),
    );
    expect(await all(`collectedFrom=2030-01-01T00:00:00Z&collectedTo=2030-02-01T00:00:00Z`)).toEqual([]);
  });

  it('lists held, missing and other states from their own sets', async () => {
    const [held, missing] = [tubes[1]!, tubes[5]!];
    await lab.action(held.id, 'place-hold', { reason: 'QUARANTINE' });
    await lab.action(missing.id, 'mark-missing', {});
    expect(await all(`held=true&containerId=${freezer.id}`)).toEqual([held.id]);
    // A missing tube has left its position, so it is found by its state alone.
    expect(await all(`status=missing`)).toEqual([missing.id]);
    expect(await all(`held=false&containerId=${freezer.id}`)).toEqual(
      sorted(tubes.filter((s, i) => i % 3 !== 0 && s.id !== held.id && s.id !== missing.id).map((s) => s.id)),
    );
    expect(await all(`status=destroyed&containerId=${freezer.id}`)).toEqual([]);
    expect(await all(`qcStatus=fail&containerId=${freezer.id}`)).toEqual([]);
  });
});
