// Rack scan reconciliation, pure: a scanner's reading of a box against what the records say is in
// it. No I/O: the caller loads the box, the tubes read and the tubes expected, and applies moves.
import { parsePosition, positionLabel, type GridScheme } from './grid.js';
import { DomainError } from '../../errors.js';
import { invalidReading } from './storage.errors.js';
import { locationOf } from './storage.placement.js';
import { labelOf, typeAllowed } from './storage.rules.js';
import type { ContainerRow } from './storage.table.js';

export interface RackScanReport {
  containerId: string;
  applied: boolean;
  matched: { position: string; barcode: string; specimenId: string }[];
  movedIn: { position: string; barcode: string; specimenId: string; from: string | null }[];
  unknown: { position: string; barcode: string }[];
  missing: { position: string; barcode: string; specimenId: string }[];
  /**
   * what refuses the apply, also in a dry run: tubes read here that may not move here (type
   * restriction, lifecycle), and positions they would take that an unread tube still holds
   */
  errors: { position: string; message: string }[];
}

/** One position as the scanner read it; a null (or empty) barcode is an empty position. */
export interface Reading {
  position: string;
  barcode: string | null;
}

/** A position read with a tube in it. */
export interface TubeReading {
  row: number;
  col: number;
  /** the position in the box's own labels (`a1` read as `A1`) */
  label: string;
  barcode: string;
  /** its index in the readings sent */
  reading: number;
}

/** A tube as recorded: where it is and whether it is out in use. */
export interface RecordedTube {
  id: string;
  barcode: string;
  type: string;
  status: string;
  containerId: string | null;
  positionRow: number | null;
  positionCol: number | null;
}

/** A tube read here that the records place elsewhere (another box, another position, nowhere). */
export interface RackMove<T extends RecordedTube> {
  specimen: T;
  row: number;
  col: number;
  label: string;
  /** the index of the reading in the readings sent */
  reading: number;
}

export interface Reconciliation<T extends RecordedTube> {
  matched: RackScanReport['matched'];
  movedIn: RackScanReport['movedIn'];
  unknown: RackScanReport['unknown'];
  missing: RackScanReport['missing'];
  moves: RackMove<T>[];
}

type Grid = { gridScheme: GridScheme; gridRows: number; gridCols: number };

/**
 * The positions read with a tube, in reading order. Throws INVALID_READING listing every position
 * outside the grid, every position read twice and every barcode read at two positions.
 */
export function parseReadings(box: Grid, readings: readonly Reading[]): TubeReading[] {
  const { gridScheme: scheme, gridRows: rows, gridCols: cols } = box;
  const fieldErrors: { field: string; message: string }[] = [];
  const seenPos = new Set<string>();
  const seenBarcode = new Set<string>();
  const parsed = readings.map((r, i) => {
    const pos = parsePosition(scheme, rows, cols, r.position);
    if (!pos)
      fieldErrors.push({
        field: `readings.${i}.position`,
        message: `${r.position} is not in the ${rows} x ${cols} grid`,
      });
    const label = pos ? positionLabel(scheme, rows, cols, pos.row, pos.col) : r.position;
    if (seenPos.has(label))
      fieldErrors.push({ field: `readings.${i}.position`, message: `${label} is read twice` });
    seenPos.add(label);
    const barcode = r.barcode && r.barcode.length ? r.barcode : null;
    if (barcode && seenBarcode.has(barcode))
      fieldErrors.push({ field: `readings.${i}.barcode`, message: `${barcode} is read at two positions` });
    if (barcode) seenBarcode.add(barcode);
    return { pos, label, barcode };
  });
  if (fieldErrors.length) throw invalidReading(fieldErrors);
  return parsed.flatMap((r, i) =>
    r.pos && r.barcode
      ? [{ row: r.pos.row, col: r.pos.col, label: r.label, barcode: r.barcode, reading: i }]
      : [],
  );
}

/**
 * Sorts each tube read into matched (recorded right there), moved in (recorded elsewhere: another
 * box, another position of this one, or nowhere) or unknown (no such barcode); and each tube
 * recorded in the box but not read into missing, unless it is out in use (checked out tubes keep
 * their position while away).
 *
 * @param found the institution's tubes with the barcodes read
 * @param expected the tubes recorded in the box
 * @param containers the containers (with ancestors) the found tubes are recorded in, for `from`
 */
export function reconcile<T extends RecordedTube>(
  box: ContainerRow,
  read: readonly TubeReading[],
  found: readonly T[],
  expected: readonly RecordedTube[],
  containers: Map<string, ContainerRow>,
): Reconciliation<T> {
  const byBarcode = new Map(found.map((s) => [s.barcode, s]));
  const result: Reconciliation<T> = { matched: [], movedIn: [], unknown: [], missing: [], moves: [] };
  for (const r of read) {
    const s = byBarcode.get(r.barcode);
    if (!s) {
      result.unknown.push({ position: r.label, barcode: r.barcode });
    } else if (s.containerId === box.id && s.positionRow === r.row && s.positionCol === r.col) {
      result.matched.push({ position: r.label, barcode: s.barcode, specimenId: s.id });
    } else {
      result.movedIn.push({
        position: r.label,
        barcode: s.barcode,
        specimenId: s.id,
        from: locationOf(s, containers)?.path ?? null,
      });
      result.moves.push({ specimen: s, row: r.row, col: r.col, label: r.label, reading: r.reading });
    }
  }
  const readBarcodes = new Set(read.map((r) => r.barcode));
  for (const s of expected) {
    if (!readBarcodes.has(s.barcode) && s.status !== 'in_use') {
      result.missing.push({
        position: labelOf(box, s.positionRow, s.positionCol) ?? '',
        barcode: s.barcode,
        specimenId: s.id,
      });
    }
  }
  return result;
}

/** A move that may not be applied: where, why, and the reading that asked for it. */
export type RefusedMove = RackScanReport['errors'][number] & { reading: number };

/**
 * Why moves may not be applied, one entry per refused tube: a type restriction on the box or
 * above it, or the lifecycle (`checkMove` throws the refusal, e.g. a destroyed tube).
 *
 * @param containers the box with its ancestors
 */
export function refusedMoves<T extends RecordedTube>(
  box: ContainerRow,
  containers: Map<string, ContainerRow>,
  moves: readonly RackMove<T>[],
  checkMove: (move: RackMove<T>) => void,
): RefusedMove[] {
  const errors: RefusedMove[] = [];
  for (const m of moves) {
    const refuse = (message: string) => errors.push({ position: m.label, message, reading: m.reading });
    const blocker = typeAllowed(box, containers, m.specimen.type);
    if (blocker) {
      refuse(`${m.specimen.type} is not allowed in ${blocker.barcode}`);
      continue;
    }
    try {
      checkMove(m);
    } catch (err) {
      // The lifecycle's refusals only: anything else is a bug, not a report.
      if (!(err instanceof DomainError)) throw err;
      refuse(err.message);
    }
  }
  return errors;
}

/**
 * Tubes still recorded at a position a move targets, though not read anywhere in this scan and
 * not moving, each with the move it blocks: the technician must mark them missing or move them
 * before the scan applies.
 */
export function stillRecordedAtTarget<T extends RecordedTube>(
  moves: readonly RackMove<T>[],
  expected: readonly RecordedTube[],
  read: readonly TubeReading[],
): { tube: RecordedTube; move: RackMove<T> }[] {
  const occupiedBy = new Map(expected.map((s) => [`${s.positionRow}:${s.positionCol}`, s]));
  const moving = new Set(moves.map((m) => m.specimen.id));
  const readBarcodes = new Set(read.map((r) => r.barcode));
  return moves.flatMap((move) => {
    const tube = occupiedBy.get(`${move.row}:${move.col}`);
    return tube && !moving.has(tube.id) && !readBarcodes.has(tube.barcode) ? [{ tube, move }] : [];
  });
}
