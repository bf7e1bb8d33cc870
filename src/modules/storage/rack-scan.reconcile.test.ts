import { describe, expect, it } from 'vitest';
import { DomainError } from '../../errors.js';
import {
  parseReadings,
  reconcile,
  refusedMoves,
  stillRecordedAtTarget,
  type RecordedTube,
} from './rack-scan.reconcile.js';
import type { ContainerRow } from './storage.table.js';

function container(
  over: Partial<ContainerRow> & Pick<ContainerRow, 'id' | 'kind' | 'barcode'>,
): ContainerRow {
  return {
    institutionId: 'inst',
    parentId: null,
    ancestorIds: [],
    name: over.barcode,
    temperatureC: -80,
    gridRows: null,
    gridCols: null,
    gridScheme: null,
    fillOrder: 'row_major',
    allowedTypes: null,
    slotRow: null,
    slotCol: null,
    locationChain: [],
    locationChainVersion: 1,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    version: 1,
    ...over,
  };
}

const freezer = container({ id: 'f', kind: 'freezer', barcode: 'F-01' });
const box = container({
  id: 'bx1',
  kind: 'box',
  barcode: 'BX-1',
  parentId: 'f',
  ancestorIds: ['f'],
  gridRows: 3,
  gridCols: 3,
  gridScheme: 'alphanumeric',
});
const otherBox = container({
  id: 'bx2',
  kind: 'box',
  barcode: 'BX-2',
  parentId: 'f',
  ancestorIds: ['f'],
  gridRows: 3,
  gridCols: 3,
  gridScheme: 'alphanumeric',
});
const containers = new Map([freezer, box, otherBox].map((c) => [c.id, c]));
const grid = { gridRows: 3, gridCols: 3, gridScheme: 'alphanumeric' as const };

let n = 0;
function tube(barcode: string, at: [ContainerRow, number, number] | null, over: Partial<RecordedTube> = {}) {
  n += 1;
  return {
    id: `s${n}`,
    barcode,
    type: 'plasma',
    status: 'available',
    containerId: at ? at[0].id : null,
    positionRow: at ? at[1] : null,
    positionCol: at ? at[2] : null,
    ...over,
  } satisfies RecordedTube;
}

/** Reconciles readings against tubes recorded in BX-1 (`expected`) and any found elsewhere. */
function scan(
  readings: Record<string, string | null>,
  expected: RecordedTube[],
  elsewhere: RecordedTube[] = [],
) {
  const read = parseReadings(
    grid,
    Object.entries(readings).map(([position, barcode]) => ({ position, barcode })),
  );
  const all = [...expected, ...elsewhere];
  const found = all.filter((t) => read.some((r) => r.barcode === t.barcode));
  return { read, result: reconcile(box, read, found, expected, containers) };
}

function invalidReading(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected INVALID_READING');
}

describe('parseReadings', () => {
  it('keeps positions read with a tube, in the box labels, and drops empty ones', () => {
    const read = parseReadings(grid, [
      { position: 'a1', barcode: 'T1' },
      { position: 'A2', barcode: null },
      { position: 'A3', barcode: '' },
      { position: 'C03', barcode: 'T2' },
    ]);
    expect(read).toEqual([
      { row: 1, col: 1, label: 'A1', barcode: 'T1', reading: 0 },
      { row: 3, col: 3, label: 'C3', barcode: 'T2', reading: 3 },
    ]);
  });

  it('refuses positions outside the grid, naming each one', () => {
    const err = invalidReading(() =>
      parseReadings(grid, [
        { position: 'D1', barcode: null },
        { position: 'A4', barcode: 'T1' },
        { position: 'A1', barcode: 'T2' },
      ]),
    );
    expect(err.code).toBe('INVALID_READING');
    expect(err.message).toBe('D1 is not in the 3 x 3 grid');
    expect(err.errors).toEqual([
      { field: 'readings.0.position', message: 'D1 is not in the 3 x 3 grid' },
      { field: 'readings.1.position', message: 'A4 is not in the 3 x 3 grid' },
    ]);
  });

  it('refuses a position read twice, even spelled differently', () => {
    const err = invalidReading(() =>
      parseReadings(grid, [
        { position: 'B2', barcode: 'T1' },
        { position: 'b02', barcode: null },
      ]),
    );
    expect(err.errors).toEqual([{ field: 'readings.1.position', message: 'B2 is read twice' }]);
  });

  it('refuses one barcode read at two positions', () => {
    const err = invalidReading(() =>
      parseReadings(grid, [
        { position: 'A1', barcode: 'T1' },
        { position: 'A2', barcode: 'T1' },
      ]),
    );
    expect(err.errors).toEqual([{ field: 'readings.1.barcode', message: 'T1 is read at two positions' }]);
  });
});

describe('reconcile', () => {
  it('matches tubes read where they are recorded', () => {
    const t1 = tube('T1', [box, 1, 1]);
    const t2 = tube('T2', [box, 2, 3]);
    const { result } = scan({ A1: 'T1', B3: 'T2', C1: null }, [t1, t2]);
    expect(result.matched).toEqual([
      { position: 'A1', barcode: 'T1', specimenId: t1.id },
      { position: 'B3', barcode: 'T2', specimenId: t2.id },
    ]);
    expect(result.movedIn).toEqual([]);
    expect(result.missing).toEqual([]);
    expect(result.moves).toEqual([]);
  });

  it('reports two swapped tubes as moved in from their recorded positions, not missing', () => {
    const t1 = tube('T1', [box, 1, 1]);
    const t2 = tube('T2', [box, 1, 2]);
    const { result, read } = scan({ A1: 'T2', A2: 'T1' }, [t1, t2]);
    expect(result.matched).toEqual([]);
    expect(result.movedIn).toEqual([
      { position: 'A1', barcode: 'T2', specimenId: t2.id, from: 'Freezer F-01 / Box BX-1 / A2' },
      { position: 'A2', barcode: 'T1', specimenId: t1.id, from: 'Freezer F-01 / Box BX-1 / A1' },
    ]);
    expect(result.missing).toEqual([]);
    expect(result.moves.map((m) => [m.specimen.barcode, m.label])).toEqual([
      ['T2', 'A1'],
      ['T1', 'A2'],
    ]);
    // Each target is vacated by a tube that moves in the same scan: nothing blocks the swap.
    expect(stillRecordedAtTarget(result.moves, [t1, t2], read)).toEqual([]);
  });

  it('reports barcodes the records do not know as unknown', () => {
    const { result } = scan({ A1: 'NOPE', B2: 'ALSO-NOPE' }, []);
    expect(result.unknown).toEqual([
      { position: 'A1', barcode: 'NOPE' },
      { position: 'B2', barcode: 'ALSO-NOPE' },
    ]);
    expect(result.moves).toEqual([]);
  });

  it('reports a tube recorded in another box as moved in, with the path it comes from', () => {
    const stray = tube('T9', [otherBox, 3, 2]);
    const { result } = scan({ B1: 'T9' }, [], [stray]);
    expect(result.movedIn).toEqual([
      { position: 'B1', barcode: 'T9', specimenId: stray.id, from: 'Freezer F-01 / Box BX-2 / C2' },
    ]);
    expect(result.moves).toEqual([{ specimen: stray, row: 2, col: 1, label: 'B1', reading: 0 }]);
  });

  it('reports a tube that had no place yet as moved in from nowhere', () => {
    const pending = tube('T5', null, { status: 'pending' });
    const { result } = scan({ C3: 'T5' }, [], [pending]);
    expect(result.movedIn).toEqual([{ position: 'C3', barcode: 'T5', specimenId: pending.id, from: null }]);
  });

  it('counts a recorded tube not read as missing, but not one checked out in use', () => {
    const gone = tube('T1', [box, 1, 1]);
    const inUse = tube('T2', [box, 1, 2], { status: 'in_use' });
    const { result } = scan({ A3: null }, [gone, inUse]);
    expect(result.missing).toEqual([{ position: 'A1', barcode: 'T1', specimenId: gone.id }]);
  });
});

describe('applying moves', () => {
  it('refuses a tube whose type the box does not allow, and one the lifecycle refuses', () => {
    const serumOnly = container({ ...box, allowedTypes: ['serum'] });
    const byId = new Map(containers).set(box.id, serumOnly);
    const plasma = tube('T1', [otherBox, 1, 1]);
    const serum = tube('T2', [otherBox, 1, 2], { type: 'serum', status: 'destroyed' });
    const { result } = scan({ A1: 'T1', A2: 'T2' }, [], [plasma, serum]);
    const errors = refusedMoves(serumOnly, byId, result.moves, (m) => {
      if (m.specimen.status === 'destroyed')
        throw new DomainError('INVALID_TRANSITION', `cannot move specimen ${m.specimen.barcode}`);
    });
    expect(errors).toEqual([
      { position: 'A1', message: 'plasma is not allowed in BX-1', reading: 0 },
      { position: 'A2', message: 'cannot move specimen T2', reading: 1 },
    ]);
  });

  it('lets an error that is no refusal through: a bug, not a report', () => {
    const { result } = scan({ A1: 'T1' }, [], [tube('T1', [otherBox, 1, 1])]);
    expect(() =>
      refusedMoves(box, containers, result.moves, () => {
        throw new TypeError('boom');
      }),
    ).toThrow(TypeError);
  });

  it('refuses nothing when every tube may move in', () => {
    const { result } = scan({ A1: 'T1' }, [], [tube('T1', [otherBox, 1, 1])]);
    expect(refusedMoves(box, containers, result.moves, () => undefined)).toEqual([]);
  });

  it('finds a tube still recorded at a target position though it was not read', () => {
    const left = tube('T1', [box, 2, 2]);
    const incoming = tube('T2', [otherBox, 1, 1]);
    const { result, read } = scan({ B2: 'T2' }, [left], [incoming]);
    expect(result.missing).toEqual([{ position: 'B2', barcode: 'T1', specimenId: left.id }]);
    expect(stillRecordedAtTarget(result.moves, [left], read)).toEqual([
      { tube: left, move: result.moves[0] },
    ]);
  });

  it('lets a tube move into a position whose recorded tube was read elsewhere in the box', () => {
    const shifted = tube('T1', [box, 2, 2]);
    const incoming = tube('T2', [otherBox, 1, 1]);
    const { result, read } = scan({ B2: 'T2', C1: 'T1' }, [shifted], [incoming]);
    expect(stillRecordedAtTarget(result.moves, [shifted], read)).toEqual([]);
  });
});
