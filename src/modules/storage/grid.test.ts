import { describe, expect, it } from 'vitest';
import {
  allPositions,
  fillOrderIndex,
  parsePosition,
  positionAtFillIndex,
  positionLabel,
  rowLetters,
} from './grid.js';

describe('alphanumeric labels', () => {
  it('labels a 96 grid A1..H12 row by row', () => {
    const labels = allPositions(8, 12, 'row_major').map((p) =>
      positionLabel('alphanumeric', 8, 12, p.row, p.col),
    );
    expect(labels).toHaveLength(96);
    expect(labels.slice(0, 13)).toEqual([
      'A1',
      'A2',
      'A3',
      'A4',
      'A5',
      'A6',
      'A7',
      'A8',
      'A9',
      'A10',
      'A11',
      'A12',
      'B1',
    ]);
    expect(labels.at(-1)).toBe('H12');
    expect(new Set(labels).size).toBe(96);
  });

  it('continues rows past Z with AA, AB', () => {
    expect(rowLetters(1)).toBe('A');
    expect(rowLetters(26)).toBe('Z');
    expect(rowLetters(27)).toBe('AA');
    expect(rowLetters(28)).toBe('AB');
    expect(rowLetters(52)).toBe('AZ');
    expect(rowLetters(53)).toBe('BA');
    expect(rowLetters(702)).toBe('ZZ');
    expect(rowLetters(703)).toBe('AAA');
    // 1536-well plate: 32 rows x 48 columns, last well AF48.
    expect(positionLabel('alphanumeric', 32, 48, 32, 48)).toBe('AF48');
    expect(parsePosition('alphanumeric', 32, 48, 'AF48')).toEqual({ row: 32, col: 48 });
  });

  it('parses every label of a 96 grid back to its position', () => {
    for (const p of allPositions(8, 12, 'row_major')) {
      expect(
        parsePosition('alphanumeric', 8, 12, positionLabel('alphanumeric', 8, 12, p.row, p.col)),
      ).toEqual(p);
    }
  });

  it('parses case-insensitively and tolerates zero padding and surrounding spaces', () => {
    expect(parsePosition('alphanumeric', 8, 12, 'a1')).toEqual({ row: 1, col: 1 });
    expect(parsePosition('alphanumeric', 8, 12, 'A01')).toEqual({ row: 1, col: 1 });
    expect(parsePosition('alphanumeric', 8, 12, 'h012')).toEqual({ row: 8, col: 12 });
    expect(parsePosition('alphanumeric', 8, 12, ' C7 ')).toEqual({ row: 3, col: 7 });
  });

  it('rejects labels outside the grid', () => {
    expect(parsePosition('alphanumeric', 8, 12, 'I1')).toBeNull();
    expect(parsePosition('alphanumeric', 8, 12, 'A13')).toBeNull();
    expect(parsePosition('alphanumeric', 8, 12, 'AA1')).toBeNull();
    expect(parsePosition('alphanumeric', 8, 12, 'A0')).toBeNull();
    expect(parsePosition('alphanumeric', 8, 12, 'A00')).toBeNull();
  });

  it('rejects malformed labels', () => {
    for (const label of [
      '',
      ' ',
      'A',
      '1',
      '1A',
      'A-1',
      'A 1',
      'A1.5',
      'Ä1',
      'A1B',
      'A+1',
      'ZZZZZZZZZZZZZZZZZZ1',
    ]) {
      expect(parsePosition('alphanumeric', 8, 12, label)).toBeNull();
    }
  });
});

describe('numeric labels', () => {
  it('numbers a 10x10 box 1..100 row by row', () => {
    expect(positionLabel('numeric', 10, 10, 1, 1)).toBe('1');
    expect(positionLabel('numeric', 10, 10, 1, 10)).toBe('10');
    expect(positionLabel('numeric', 10, 10, 2, 1)).toBe('11');
    expect(positionLabel('numeric', 10, 10, 10, 10)).toBe('100');
    const labels = allPositions(10, 10, 'row_major').map((p) =>
      positionLabel('numeric', 10, 10, p.row, p.col),
    );
    expect(labels).toEqual(Array.from({ length: 100 }, (_, i) => String(i + 1)));
  });

  it('numbers row by row even on a non-square grid', () => {
    expect(positionLabel('numeric', 9, 9, 2, 1)).toBe('10');
    expect(positionLabel('numeric', 4, 6, 3, 2)).toBe('14');
    expect(parsePosition('numeric', 4, 6, '14')).toEqual({ row: 3, col: 2 });
  });

  it('parses labels back, tolerating zero padding', () => {
    expect(parsePosition('numeric', 10, 10, '1')).toEqual({ row: 1, col: 1 });
    expect(parsePosition('numeric', 10, 10, '055')).toEqual({ row: 6, col: 5 });
    expect(parsePosition('numeric', 10, 10, '100')).toEqual({ row: 10, col: 10 });
  });

  it('rejects labels outside the grid or malformed', () => {
    for (const label of ['0', '000', '101', '-1', '1.0', 'A1', '', '1e2', '99999999999999999999']) {
      expect(parsePosition('numeric', 10, 10, label)).toBeNull();
    }
  });
});

describe('fill order', () => {
  it('fills column by column in column-major order', () => {
    const positions = allPositions(8, 12, 'column_major');
    const labels = positions.map((p) => positionLabel('alphanumeric', 8, 12, p.row, p.col));
    expect(labels.slice(0, 10)).toEqual(['A1', 'B1', 'C1', 'D1', 'E1', 'F1', 'G1', 'H1', 'A2', 'B2']);
    expect(labels.at(-1)).toBe('H12');
  });

  it('gives each position its place in allPositions, and back', () => {
    for (const fillOrder of ['row_major', 'column_major'] as const) {
      allPositions(3, 5, fillOrder).forEach((p, i) => {
        expect(fillOrderIndex(3, 5, fillOrder, p.row, p.col)).toBe(i);
        expect(positionAtFillIndex(3, 5, fillOrder, i)).toEqual(p);
      });
      expect(positionAtFillIndex(3, 5, fillOrder, 15)).toBeNull();
      expect(positionAtFillIndex(3, 5, fillOrder, -1)).toBeNull();
    }
    expect(fillOrderIndex(8, 12, 'row_major', 2, 1)).toBe(12);
    expect(fillOrderIndex(8, 12, 'column_major', 2, 1)).toBe(1);
    expect(fillOrderIndex(8, 12, 'column_major', 1, 2)).toBe(8);
  });
});

describe('bad grids and positions', () => {
  it('refuses to label a position outside the grid', () => {
    expect(() => positionLabel('alphanumeric', 8, 12, 9, 1)).toThrow(RangeError);
    expect(() => positionLabel('numeric', 10, 10, 1, 11)).toThrow(RangeError);
    expect(() => positionLabel('numeric', 10, 10, 0, 1)).toThrow(RangeError);
    expect(() => fillOrderIndex(8, 12, 'row_major', 1, 1.5)).toThrow(RangeError);
  });

  it('refuses grids without positive integer dimensions', () => {
    expect(() => allPositions(0, 12, 'row_major')).toThrow(RangeError);
    expect(() => parsePosition('numeric', 10, 2.5, '1')).toThrow(RangeError);
  });
});
