import { describe, expect, it } from 'vitest';
import type { LocationChainEntry } from '../storage/index.js';
import { pickLocation, pickOrder, type PickFacts } from './sharing.pick-list.js';

const entry = (kind: LocationChainEntry['kind'], name: string, grid = false): LocationChainEntry => ({
  id: `${kind}-${name}`,
  kind,
  name,
  barcode: `BC-${name}`,
  gridRows: grid ? 9 : null,
  gridCols: grid ? 9 : null,
  gridScheme: grid ? 'alphanumeric' : null,
});

const tube = (sampleCode: string, at: [string, string, string] | null, row = 1, col = 1): PickFacts => ({
  sampleCode,
  chain: at && [
    entry('site', 'Main'),
    entry('freezer', at[0]),
    entry('rack', at[1]),
    entry('box', at[2], true),
  ],
  positionRow: at ? row : null,
  positionCol: at ? col : null,
});

describe('pick list', () => {
  it('walks freezer, rack, box, then row and column, reading numbers in names as numbers', () => {
    const tubes = [
      tube('S1', ['F-2', 'R-1', 'B-1']),
      tube('S2', ['F-1', 'R-10', 'B-1']),
      tube('S3', ['F-1', 'R-2', 'B-2']),
      tube('S4', ['F-1', 'R-2', 'B-1'], 2, 1),
      tube('S5', ['F-1', 'R-2', 'B-1'], 1, 4),
      tube('S6', null),
      tube('S7', ['F-1', 'R-2', 'B-1'], 1, 2),
    ];
    expect(tubes.sort(pickOrder).map((t) => t.sampleCode)).toEqual([
      'S7',
      'S5',
      'S4',
      'S3',
      'S2',
      'S1',
      'S6',
    ]);
  });

  it('names where a tube is in the words a technician walks by', () => {
    expect(pickLocation(tube('S1', ['F-1', 'R-2', 'B-3'], 2, 5))).toEqual({
      freezer: 'F-1',
      rack: 'R-2',
      box: 'B-3 (BC-B-3)',
      position: 'B5',
      path: 'Site Main / Freezer F-1 / Rack R-2 / Box B-3 / B5',
    });
    expect(pickLocation(tube('S2', null))).toEqual({
      freezer: null,
      rack: null,
      box: null,
      position: null,
      path: null,
    });
  });
});
