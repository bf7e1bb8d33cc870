// Positions in a gridded container (box, plate, rack), DESIGN.md section 3. Rows and columns are
// 1-based. 'alphanumeric' labels follow ANSI/SLAS 4-2004 well positions (A1..H12 on a 96 grid),
// with rows past Z continuing AA, AB, ... as on 1536-well plates; 'numeric' labels
// number cells 1..rows*cols row by row, as many cryobox makers print them.

export const GRID_SCHEMES = ['alphanumeric', 'numeric'] as const;
export type GridScheme = (typeof GRID_SCHEMES)[number];

// The order positions are filled in (e.g. "next free position"); independent of the labels.
export const FILL_ORDERS = ['row_major', 'column_major'] as const;
export type FillOrder = (typeof FILL_ORDERS)[number];

export interface GridPosition {
  readonly row: number;
  readonly col: number;
}

// Longer labels cannot name a cell of any grid we accept; refusing them early keeps parsing
// bounded for scanner and import input.
const MAX_LABEL_LENGTH = 16;
const ALPHANUMERIC_LABEL = /^([A-Z]+)0*([1-9][0-9]*)$/;
const NUMERIC_LABEL = /^0*([1-9][0-9]*)$/;

function assertGrid(rows: number, cols: number): void {
  if (!Number.isSafeInteger(rows) || rows < 1 || !Number.isSafeInteger(cols) || cols < 1) {
    throw new RangeError(`grid must have positive integer rows and columns, got ${rows} x ${cols}`);
  }
}

function inGrid(rows: number, cols: number, row: number, col: number): boolean {
  return (
    Number.isSafeInteger(row) &&
    Number.isSafeInteger(col) &&
    row >= 1 &&
    row <= rows &&
    col >= 1 &&
    col <= cols
  );
}

function assertInGrid(rows: number, cols: number, row: number, col: number): void {
  assertGrid(rows, cols);
  if (!inGrid(rows, cols, row, col)) {
    throw new RangeError(`position row ${row}, column ${col} is outside a ${rows} x ${cols} grid`);
  }
}

/** Row letters in bijective base 26: 1 -> A, 26 -> Z, 27 -> AA, 28 -> AB, 703 -> AAA. */
export function rowLetters(row: number): string {
  if (!Number.isSafeInteger(row) || row < 1)
    throw new RangeError(`row must be a positive integer, got ${row}`);
  let letters = '';
  for (let n = row; n > 0; n = Math.floor((n - 1) / 26)) {
    letters = String.fromCharCode(65 + ((n - 1) % 26)) + letters;
  }
  return letters;
}

function rowFromLetters(letters: string): number {
  let row = 0;
  for (const ch of letters) row = row * 26 + (ch.charCodeAt(0) - 64);
  return row;
}

/** The label of a 1-based position. Throws RangeError outside the grid. */
export function positionLabel(
  scheme: GridScheme,
  rows: number,
  cols: number,
  row: number,
  col: number,
): string {
  assertInGrid(rows, cols, row, col);
  return scheme === 'alphanumeric' ? `${rowLetters(row)}${col}` : String((row - 1) * cols + col);
}

/**
 * The position a label names, or null when it is malformed or outside the grid. Case-insensitive
 * and tolerant of zero padding ('a01', '007'), as scanners and spreadsheets produce.
 */
export function parsePosition(
  scheme: GridScheme,
  rows: number,
  cols: number,
  label: string,
): GridPosition | null {
  assertGrid(rows, cols);
  const text = label.trim().toUpperCase();
  if (text.length === 0 || text.length > MAX_LABEL_LENGTH) return null;

  let position: GridPosition;
  if (scheme === 'alphanumeric') {
    const match = ALPHANUMERIC_LABEL.exec(text);
    if (match?.[1] === undefined || match[2] === undefined) return null;
    position = { row: rowFromLetters(match[1]), col: Number(match[2]) };
  } else {
    const match = NUMERIC_LABEL.exec(text);
    if (match?.[1] === undefined) return null;
    const index = Number(match[1]);
    if (!Number.isSafeInteger(index) || index > rows * cols) return null;
    position = { row: Math.floor((index - 1) / cols) + 1, col: ((index - 1) % cols) + 1 };
  }
  return inGrid(rows, cols, position.row, position.col) ? position : null;
}

/** Every position of the grid, in fill order. */
export function allPositions(rows: number, cols: number, fillOrder: FillOrder): GridPosition[] {
  assertGrid(rows, cols);
  const positions: GridPosition[] = [];
  if (fillOrder === 'row_major') {
    for (let row = 1; row <= rows; row++) for (let col = 1; col <= cols; col++) positions.push({ row, col });
  } else {
    for (let col = 1; col <= cols; col++) for (let row = 1; row <= rows; row++) positions.push({ row, col });
  }
  return positions;
}

/** The 0-based index of a position in fill order (its place in `allPositions`). Throws RangeError
 * outside the grid. */
export function fillOrderIndex(
  rows: number,
  cols: number,
  fillOrder: FillOrder,
  row: number,
  col: number,
): number {
  assertInGrid(rows, cols, row, col);
  return fillOrder === 'row_major' ? (row - 1) * cols + (col - 1) : (col - 1) * rows + (row - 1);
}

/** The position at a 0-based fill-order index, or null past the end of the grid. */
export function positionAtFillIndex(
  rows: number,
  cols: number,
  fillOrder: FillOrder,
  index: number,
): GridPosition | null {
  assertGrid(rows, cols);
  if (!Number.isSafeInteger(index) || index < 0 || index >= rows * cols) return null;
  return fillOrder === 'row_major'
    ? { row: Math.floor(index / cols) + 1, col: (index % cols) + 1 }
    : { row: (index % rows) + 1, col: Math.floor(index / rows) + 1 };
}
