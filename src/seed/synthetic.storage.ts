// Where the synthetic inventory keeps its tubes: two sites, -80 °C freezers, a DNA/RNA bank and
// LN2 tanks, each filled rack by rack and box by box in time order, every tube in a position of
// its own.
import { positionLabel, type BulkContainer } from '../modules/storage/index.js';
import type { SpecimenType } from '../vocabulary/specimen-types.js';

type GridScheme = NonNullable<BulkContainer['grid']>['scheme'];

export type StorageClass = 'minus80' | 'nucleic' | 'ln2';

interface StorageLayout {
  unitKind: 'freezer' | 'ln2_tank';
  unitPrefix: string;
  /** how the unit's name qualifies it, e.g. `NA-001 (DNA/RNA, -80 °C)` */
  unitNote: string;
  temperatureC: number;
  /** racks per freezer / tank (its grid) */
  unitGrid: { rows: number; cols: number };
  box: { rows: number; cols: number; scheme: GridScheme };
  allowedTypes: string[] | null;
}

const RACK_GRID = { rows: 5, cols: 4 } as const;

const LAYOUTS: Record<StorageClass, StorageLayout> = {
  // Upright -80 °C freezers: 5 shelves x 4 racks; 2 mL cryovials in 9 x 9 boxes numbered 1..81.
  minus80: {
    unitKind: 'freezer',
    unitPrefix: 'FZ',
    unitNote: '',
    temperatureC: -80,
    unitGrid: { rows: 5, cols: 4 },
    box: { rows: 9, cols: 9, scheme: 'numeric' },
    allowedTypes: null,
  },
  // The DNA/RNA bank: -80 °C freezers restricted to extracts, SBS-format 8 x 12 boxes (A1..H12).
  nucleic: {
    unitKind: 'freezer',
    unitPrefix: 'NA',
    unitNote: 'DNA/RNA, ',
    temperatureC: -80,
    unitGrid: { rows: 5, cols: 4 },
    box: { rows: 8, cols: 12, scheme: 'alphanumeric' },
    allowedTypes: ['dna', 'rna', 'cfdna', 'protein'],
  },
  // LN2 vapour-phase tanks for viable cells and frozen tissue: 2 x 5 rack positions.
  ln2: {
    unitKind: 'ln2_tank',
    unitPrefix: 'LN',
    unitNote: 'vapour phase, ',
    temperatureC: -190,
    unitGrid: { rows: 2, cols: 5 },
    box: { rows: 9, cols: 9, scheme: 'numeric' },
    allowedTypes: null,
  },
};

export const storageClassOf = (type: SpecimenType): StorageClass =>
  type === 'dna' || type === 'rna' || type === 'cfdna' || type === 'protein'
    ? 'nucleic'
    : type === 'pbmc' || type === 'fresh_frozen_tissue'
      ? 'ln2'
      : 'minus80';

/** What the fillers build on: the sites, the running box number and where new containers go. */
export interface StorageTree {
  readonly sites: readonly BulkContainer[];
  boxCount: number;
  addContainer(c: Omit<BulkContainer, 'id'>): BulkContainer;
}

export interface Slot {
  box: BulkContainer;
  row: number;
  col: number;
  label: string;
}

/** Fills boxes position by position, racks box by box, units rack by rack (row-major). */
export class StorageFiller {
  private unit: BulkContainer | null = null;
  private rack: BulkContainer | null = null;
  private box: BulkContainer | null = null;
  private nextRackSlot = 0;
  private nextBoxSlot = 0;
  private nextPosition = 0;
  private units = 0;

  constructor(
    private readonly cls: StorageClass,
    private readonly world: StorageTree,
  ) {}

  next(at: Date): Slot {
    const layout = LAYOUTS[this.cls];
    const perBox = layout.box.rows * layout.box.cols;
    if (!this.box || this.nextPosition >= perBox) this.newBox(at);
    const i = this.nextPosition++;
    const row = Math.floor(i / layout.box.cols) + 1;
    const col = (i % layout.box.cols) + 1;
    return {
      box: this.box!,
      row,
      col,
      label: positionLabel(layout.box.scheme, layout.box.rows, layout.box.cols, row, col),
    };
  }

  private newBox(at: Date) {
    const layout = LAYOUTS[this.cls];
    if (!this.rack || this.nextBoxSlot >= RACK_GRID.rows * RACK_GRID.cols) this.newRack(at);
    const rack = this.rack!;
    const s = this.nextBoxSlot++;
    const n = ++this.world.boxCount;
    const barcode = `BX-${String(n).padStart(6, '0')}`;
    this.box = this.world.addContainer({
      parentId: rack.id,
      ancestorIds: [...rack.ancestorIds, rack.id],
      kind: 'box',
      barcode,
      name: barcode,
      temperatureC: layout.temperatureC,
      grid: layout.box,
      allowedTypes: null,
      slot: { row: Math.floor(s / RACK_GRID.cols) + 1, col: (s % RACK_GRID.cols) + 1 },
      createdAt: at,
    });
    this.nextPosition = 0;
  }

  private newRack(at: Date) {
    const layout = LAYOUTS[this.cls];
    if (!this.unit || this.nextRackSlot >= layout.unitGrid.rows * layout.unitGrid.cols) this.newUnit(at);
    const unit = this.unit!;
    const s = this.nextRackSlot++;
    const name = `R${String(s + 1).padStart(2, '0')}`;
    this.rack = this.world.addContainer({
      parentId: unit.id,
      ancestorIds: [...unit.ancestorIds, unit.id],
      kind: 'rack',
      barcode: `${unit.barcode}-${name}`,
      name,
      temperatureC: layout.temperatureC,
      grid: { ...RACK_GRID, scheme: 'alphanumeric' },
      allowedTypes: null,
      slot: { row: Math.floor(s / layout.unitGrid.cols) + 1, col: (s % layout.unitGrid.cols) + 1 },
      createdAt: at,
    });
    this.nextBoxSlot = 0;
  }

  private newUnit(at: Date) {
    const layout = LAYOUTS[this.cls];
    const n = ++this.units;
    const site = this.world.sites[(n - 1) % this.world.sites.length]!;
    const barcode = `${layout.unitPrefix}-${String(n).padStart(3, '0')}`;
    this.unit = this.world.addContainer({
      parentId: site.id,
      ancestorIds: [site.id],
      kind: layout.unitKind,
      barcode,
      name: `${barcode} (${layout.unitNote}${layout.temperatureC} °C)`,
      temperatureC: layout.temperatureC,
      grid: { ...layout.unitGrid, scheme: 'alphanumeric' },
      allowedTypes: layout.allowedTypes,
      slot: null,
      createdAt: at,
    });
    this.nextRackSlot = 0;
  }
}
