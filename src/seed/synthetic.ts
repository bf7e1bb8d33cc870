import type pg from 'pg';
import type { Container } from '../container.js';
import type { Ctx } from '../context.js';
import { ROLES, type Role } from '../auth/roles.js';
import { newId } from '../db/columns.js';
import { eventHash, type ChainedEventFields } from '../modules/custody/custody.chain.js';
import { findInstitutionByCode } from '../modules/institutions/index.js';
import type { ConsentTier } from '../vocabulary/consent-tiers.js';
import { SPECIMEN_TYPE_INFO, type SpecimenType } from '../vocabulary/specimen-types.js';
import {
  centrifugationCode,
  ischaemiaCode,
  longTermStorageCode,
  postCentrifugationCode,
  preCentrifugationCode,
  type SprecLongTermContainerKind,
} from '../modules/standards/index.js';
import { positionLabel, type GridScheme } from '../modules/storage/grid.js';

// Synthetic inventory for load tests and demos at scale (`seed --synthetic N`): one institution
// with sites > -80 °C freezers and LN2 tanks > racks (5 x 4 slots) > 9 x 9 cryoboxes or 8 x 12
// nucleic-acid boxes, protocols and participants, collections with realistic lineage (primaries,
// aliquots, plasma / serum / buffy coat / DNA / RNA / PBMC derivatives), every tube in a position
// of its own, and custody chains hashed with the ledger's own eventHash, so
// GET /v1/specimens/{id}/custody/verify holds for every tube.
//
// Everything below the institution, its protocols and keys is written with bulk
// `insert ... select from unnest(...)` statements in ONE transaction: a failed run leaves no
// inventory behind, and a run for an institution that already has specimens does nothing.
// Rows mirror what the services write (registerSpecimen with a position, aliquotSpecimen,
// deriveSpecimen); per-specimen audit rows are replaced by one summary audit row.

export interface SeedProgressLog {
  info(obj: object, msg: string): void;
}

export interface SyntheticSeedOptions {
  count: number;
  /** default SYN */
  institutionCode?: string;
  log: SeedProgressLog;
  /** specimens per bulk statement (default 5,000) */
  batchSize?: number;
  /** PRNG seed: the same seed and count give the same inventory shape (ids and keys differ) */
  seed?: number;
}

export interface SyntheticSeedResult {
  /** true when the institution already had specimens: nothing was written, no keys were made */
  skipped: boolean;
  institutionId: string;
  institutionCode: string;
  specimens: number;
  containers: number;
  participants: number;
  custodyEvents: number;
  seconds: number;
  /** one new key per role (empty when skipped; make one with `keys create`) */
  keys: { role: Role; token: string }[];
}

const ACTOR = 'system:seed-synthetic';
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = ReturnType<typeof mulberry32>;
const between = (rng: Rng, lo: number, hi: number) => lo + rng() * (hi - lo);
const intBetween = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const round = (v: number, decimals: number) => Math.round(v * 10 ** decimals) / 10 ** decimals;

function pick<T>(rng: Rng, weighted: readonly (readonly [T, number])[]): T {
  const total = weighted.reduce((s, [, w]) => s + w, 0);
  let r = rng() * total;
  for (const [v, w] of weighted) {
    r -= w;
    if (r < 0) return v;
  }
  return weighted[weighted.length - 1]![0];
}

// ---------------------------------------------------------------------------------------------
// Storage: where each type goes, and how containers are laid out

type StorageClass = 'minus80' | 'nucleic' | 'ln2';

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

const storageClassOf = (type: SpecimenType): StorageClass =>
  type === 'dna' || type === 'rna' || type === 'cfdna' || type === 'protein'
    ? 'nucleic'
    : type === 'pbmc' || type === 'fresh_frozen_tissue'
      ? 'ln2'
      : 'minus80';

interface ContainerSeed {
  id: string;
  parentId: string | null;
  ancestorIds: string[];
  kind: 'site' | 'freezer' | 'ln2_tank' | 'rack' | 'box';
  barcode: string;
  name: string;
  temperatureC: number | null;
  grid: { rows: number; cols: number; scheme: GridScheme } | null;
  allowedTypes: string[] | null;
  slot: { row: number; col: number } | null;
  createdAt: Date;
}

interface Slot {
  box: ContainerSeed;
  row: number;
  col: number;
  label: string;
}

/** Fills boxes position by position, racks box by box, units rack by rack (row-major). */
class StorageFiller {
  private unit: ContainerSeed | null = null;
  private rack: ContainerSeed | null = null;
  private box: ContainerSeed | null = null;
  private nextRackSlot = 0;
  private nextBoxSlot = 0;
  private nextPosition = 0;
  private units = 0;

  constructor(
    private readonly cls: StorageClass,
    private readonly world: InventoryWorld,
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

// ---------------------------------------------------------------------------------------------
// Protocols, donors and what a collection yields

interface ProtocolSeed {
  code: string;
  title: string;
  tiers: ConsentTier[];
  /** share of donors */
  weight: number;
  diagnoses: string[];
  collections: readonly (readonly [CollectionKind, number])[];
  tissueSites?: string[];
}

type CollectionKind = 'blood' | 'urine' | 'saliva' | 'tissue' | 'csf' | 'marrow' | 'stool';

const PROTOCOLS: readonly ProtocolSeed[] = [
  {
    code: 'GENPOP',
    title: 'Population cohort: blood, urine and saliva at baseline and follow-up',
    tiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH', 'EXTERNAL_SHARING', 'FUTURE_RESEARCH', 'RECONTACT'],
    weight: 30,
    diagnoses: [],
    collections: [
      ['blood', 75],
      ['urine', 20],
      ['saliva', 5],
    ],
  },
  {
    code: 'ONCO-SOLID',
    title: 'Solid tumour biobank: tumour / matched normal tissue and blood',
    tiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH', 'EXTERNAL_SHARING', 'COMMERCIAL_USE'],
    weight: 20,
    diagnoses: ['C50.9', 'C18.7', 'C34.1', 'C61', 'C64.9'],
    collections: [
      ['tissue', 55],
      ['blood', 45],
    ],
    tissueSites: ['breast', 'colon, sigmoid', 'lung, upper lobe', 'prostate', 'kidney'],
  },
  {
    code: 'CARDIO',
    title: 'Coronary artery disease cohort',
    tiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH', 'FUTURE_RESEARCH'],
    weight: 15,
    diagnoses: ['I25.1', 'I10', 'I21.9'],
    collections: [
      ['blood', 80],
      ['urine', 20],
    ],
  },
  {
    code: 'DIAB',
    title: 'Type 2 diabetes progression study',
    tiers: ['INTERNAL_RESEARCH', 'EXTERNAL_SHARING', 'FUTURE_RESEARCH', 'RECONTACT'],
    weight: 15,
    diagnoses: ['E11.9', 'E11.2'],
    collections: [
      ['blood', 70],
      ['urine', 30],
    ],
  },
  {
    code: 'NEURO',
    title: 'Neurodegeneration: CSF and blood biomarkers',
    tiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH', 'EXTERNAL_SHARING'],
    weight: 8,
    diagnoses: ['G30.9', 'G35', 'G20'],
    collections: [
      ['csf', 45],
      ['blood', 55],
    ],
  },
  {
    code: 'HEME',
    title: 'Haematological malignancies: marrow and blood',
    tiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH', 'COMMERCIAL_USE'],
    weight: 5,
    diagnoses: ['C92.0', 'C90.0', 'C91.1'],
    collections: [
      ['marrow', 60],
      ['blood', 40],
    ],
  },
  {
    code: 'IBD',
    title: 'Inflammatory bowel disease: stool, biopsies and blood',
    tiers: ['INTERNAL_RESEARCH', 'GENETIC_RESEARCH', 'FUTURE_RESEARCH'],
    weight: 7,
    diagnoses: ['K50.9', 'K51.9'],
    collections: [
      ['stool', 50],
      ['blood', 40],
      ['tissue', 10],
    ],
    tissueSites: ['colon, transverse', 'terminal ileum', 'rectum'],
  },
];

// SPREC 3.0 codes of the primaries. Positions 1-2 (type of sample, primary container or type of
// collection) and the tube kind are fixed per tube; the other letters are worked out from what the
// generator records (collection -> processing -> freezing times, the temperatures and centrifugation
// runs in `quality`, the temperature of the box the tube goes to) with the SPREC functions
// standardization uses (sprec.ts), so the stated code agrees position by position with the code
// sprec.compute.ts derives from the record. A few (SPREC_SLIP_RATE) carry a realistic mistake,
// so standardization has something to flag.
//
// Uncentrifuged tubes (whole blood, urine, saliva, marrow, stool) state N at positions 4-6 and
// their collection -> processing delay at position 3; N at position 3 would mean ">48 h at
// 2-10 °C". The long-term storage letter names the tube kind and the box temperature, e.g. the
// original collection tube at -80 °C is Y, never E (programmable freezing below -135 °C).

type SprecProcessing =
  /** not centrifuged before storage: positions 4-6 N */
  | { kind: 'unspun' }
  /** CSF: spun cold at <3000 g with brake, transported on ice in `onIceShare` of collections */
  | { kind: 'spunCold'; onIceShare: number }
  /** snap-frozen tissue: warm ischaemia drawn in minutes, cold ischaemia = collection -> freezing */
  | { kind: 'snapFrozen'; warmIschaemiaMin: readonly [number, number] };

interface PrimarySprec {
  /** positions 1-2, e.g. `BLD-PED`, `TIS-SRG` */
  head: string;
  processing: SprecProcessing;
  /** the tube the primary is stored in (long-term storage letter, with the box temperature) */
  tube: SprecLongTermContainerKind;
}

const PRIMARY_SPREC = {
  // 10 mL EDTA / 8.5 mL SST / marrow / Oragene / stool: stored in the original collection tube.
  whole_blood: { head: 'BLD-PED', processing: { kind: 'unspun' }, tube: 'originalPrimaryContainer' },
  serumTube: { head: 'BLD-SST', processing: { kind: 'unspun' }, tube: 'originalPrimaryContainer' },
  bone_marrow: { head: 'BMA-PED', processing: { kind: 'unspun' }, tube: 'originalPrimaryContainer' },
  saliva: { head: 'SAL-ORG', processing: { kind: 'unspun' }, tube: 'originalPrimaryContainer' },
  stool: { head: 'STL-PPS', processing: { kind: 'unspun' }, tube: 'originalPrimaryContainer' },
  // 20 mL urine and 5 mL CSF: transferred to a >=5 mL polypropylene tube.
  urine: { head: 'URN-PPS', processing: { kind: 'unspun' }, tube: 'ppTube5mLPlus' },
  csf: { head: 'CSF-PPS', processing: { kind: 'spunCold', onIceShare: 0.6 }, tube: 'ppTube5mLPlus' },
  // Snap-frozen tissue in 2 mL tubes in the LN2 tanks.
  surgicalTissue: {
    head: 'TIS-SRG',
    processing: { kind: 'snapFrozen', warmIschaemiaMin: [5, 45] },
    tube: 'ppTube05To2mL',
  },
  biopsy: {
    head: 'TIS-BPS',
    processing: { kind: 'snapFrozen', warmIschaemiaMin: [0, 1] },
    tube: 'ppTube05To2mL',
  },
} as const satisfies Record<string, PrimarySprec>;

const SPREC_VERSION = '3.0';
/** Share of primaries stated with a mistake (a letter the record contradicts). */
const SPREC_SLIP_RATE = 0.02;
/** CSF run: 2000 g, 10 min, 4 °C, with brake (SPREC centrifugation D). */
const CSF_RUN = {
  centrifugationG: 2000,
  centrifugationMin: 10,
  centrifugationTempC: 4,
  centrifugationBrake: 1,
};

/** Pre- and post-centrifugation letters for the same delay at the other temperature (RT <-> 2-10 °C). */
const OTHER_TEMPERATURE: Record<string, string> = {
  A: 'B',
  B: 'A',
  C: 'D',
  D: 'C',
  E: 'F',
  F: 'E',
  G: 'H',
  H: 'G',
  I: 'J',
  J: 'I',
  K: 'L',
  L: 'K',
  M: 'N',
  N: 'M',
};
/** Long-term storage letters for the same tube at another temperature (stored at -80 °C, stated -20 °C...). */
const OTHER_STORAGE: Record<string, string> = { A: 'B', J: 'K', V: 'A', C: 'D', D: 'B' };
/** Ischaemia one band shorter than recorded (an optimistic estimate). */
const SHORTER_ISCHAEMIA: Record<string, string> = { B: 'A', C: 'B', D: 'C', E: 'D', F: 'E' };

/**
 * The stated SPREC code of a primary and the process facts recorded with it (`quality` keys that
 * sprec.compute.ts reads), from its times and the temperature of the box it is stored in.
 */
function primarySprec(
  rng: Rng,
  spec: PrimarySprec,
  times: { collectedAt: Date; processedAt: Date; frozenAt: Date },
  storageTemperatureC: number | null,
): { code: string; quality: Record<string, number> } {
  const minutes = (from: Date, to: Date) => (to.getTime() - from.getTime()) / MINUTE;
  const storage =
    storageTemperatureC === null
      ? 'X'
      : longTermStorageCode(storageTemperatureC, spec.tube, { version: SPREC_VERSION });
  const p = spec.processing;
  let quality: Record<string, number> = {};
  let letters: string[];
  // Positions (1-based) a slip may change, each with the wrong letter it would state.
  const slips: [number, string | undefined][] = [];
  if (p.kind === 'snapFrozen') {
    const warm = intBetween(rng, p.warmIschaemiaMin[0], p.warmIschaemiaMin[1]);
    const cold = minutes(times.collectedAt, times.frozenAt);
    quality = { warmIschaemiaMin: warm, coldIschaemiaMin: cold };
    letters = [
      ischaemiaCode(warm, 'warm', SPREC_VERSION),
      ischaemiaCode(cold, 'cold', SPREC_VERSION),
      'SNP',
      // Fixation time does not apply to snap freezing.
      'N',
      storage,
    ];
    slips.push([3, SHORTER_ISCHAEMIA[letters[0]!]], [4, SHORTER_ISCHAEMIA[letters[1]!]]);
  } else {
    const delay = minutes(times.collectedAt, times.processedAt);
    if (p.kind === 'unspun') {
      letters = [preCentrifugationCode(delay, 'RT', SPREC_VERSION), 'N', 'N', 'N', storage];
    } else {
      const onIce = rng() < p.onIceShare;
      quality = { ...(onIce ? { preCentrifugationTempC: 4 } : {}), ...CSF_RUN, postCentrifugationTempC: 4 };
      letters = [
        preCentrifugationCode(delay, onIce ? '2-10C' : 'RT', SPREC_VERSION),
        centrifugationCode(
          {
            speedG: CSF_RUN.centrifugationG,
            durationMinutes: CSF_RUN.centrifugationMin,
            temperature: '2-10C',
            brake: true,
          },
          SPREC_VERSION,
          'first',
        ),
        'N',
        postCentrifugationCode(minutes(times.processedAt, times.frozenAt), '2-10C', SPREC_VERSION),
        storage,
      ];
      // Post-centrifugation stated at room temperature although the tube stayed cold.
      slips.push([6, OTHER_TEMPERATURE[letters[3]!]]);
    }
    // The SOP's "<2 h at RT" stated whatever the delay, or the transport temperature misrecorded.
    slips.push([3, letters[0] === 'A' ? OTHER_TEMPERATURE.A : 'A'], [3, OTHER_TEMPERATURE[letters[0]!]]);
  }
  slips.push([7, OTHER_STORAGE[storage]]);
  if (rng() < SPREC_SLIP_RATE) {
    const possible = slips.filter(
      (s): s is [number, string] =>
        s[1] !== undefined && s[1] !== letters[s[0] - 3] && letters[s[0] - 3] !== 'X',
    );
    const slip = possible.length ? possible[Math.floor(rng() * possible.length)] : undefined;
    if (slip) letters[slip[0] - 3] = slip[1];
  }
  return { code: `${spec.head}-${letters.join('-')}`, quality };
}

/** A tube to create, and what is later drawn from it. */
interface PlanNode {
  type: SpecimenType;
  quantity: number;
  quality?: Record<string, number>;
  /** primaries: how the SPREC code is stated */
  sprec?: PrimarySprec;
  anatomicSite?: string;
  pathologyStatus?: PathologyStatus;
  ops: PlanOp[];
}

interface PlanOp {
  kind: 'aliquot' | 'derivative';
  /** drawn from the parent, in the parent's unit */
  drawn: number;
  children: PlanNode[];
}

type PathologyStatus = 'normal' | 'malignant' | 'not_applicable' | 'unknown';

const aliquots = (type: SpecimenType, n: number, each: number, quality?: Record<string, number>): PlanOp => ({
  kind: 'aliquot',
  drawn: round(n * each, 4),
  children: Array.from({ length: n }, () => ({
    type,
    quantity: each,
    ops: [],
    ...(quality ? { quality } : {}),
  })),
});

const derive = (drawn: number, child: PlanNode): PlanOp => ({ kind: 'derivative', drawn, children: [child] });

function dnaNode(rng: Rng, withAliquots: boolean): PlanNode {
  const quality = {
    concentrationNgUl: round(between(rng, 15, 180), 1),
    a260a280: round(between(rng, 1.7, 2.0), 2),
  };
  return {
    type: 'dna',
    quantity: 200,
    quality,
    ops: withAliquots ? [aliquots('dna', 2, 50, quality)] : [],
  };
}

function rnaNode(rng: Rng): PlanNode {
  return {
    type: 'rna',
    quantity: 50,
    quality: { rin: round(between(rng, 5.5, 9.6), 1), concentrationNgUl: round(between(rng, 20, 400), 1) },
    ops: [],
  };
}

/** The tubes one collection yields: primaries with their processing tree. */
function planCollection(rng: Rng, kind: CollectionKind, protocol: ProtocolSeed): PlanNode[] {
  switch (kind) {
    case 'blood': {
      // EDTA tube: plasma (aliquoted), buffy coat (-> DNA), sometimes RNA / PBMC, whole-blood aliquots.
      const edtaOps: PlanOp[] = [
        derive(6, { type: 'plasma', quantity: 3, ops: [aliquots('plasma', 5, 0.5)] }),
        derive(1, {
          type: 'buffy_coat',
          quantity: 0.5,
          ops: rng() < 0.5 ? [derive(0.3, dnaNode(rng, rng() < 0.5))] : [],
        }),
      ];
      if (rng() < 0.15) edtaOps.push(derive(1, rnaNode(rng)));
      if (rng() < 0.15)
        edtaOps.push(derive(1, { type: 'pbmc', quantity: round(between(rng, 3e6, 1e7), 0), ops: [] }));
      else if (rng() < 0.6) edtaOps.push(aliquots('whole_blood', 2, 0.5));
      const tubes: PlanNode[] = [
        { type: 'whole_blood', quantity: 10, sprec: PRIMARY_SPREC.whole_blood, ops: edtaOps },
      ];
      // Serum tube (SST): serum derived, then aliquoted.
      if (rng() < 0.5)
        tubes.push({
          type: 'whole_blood',
          quantity: 8.5,
          sprec: PRIMARY_SPREC.serumTube,
          ops: [derive(8, { type: 'serum', quantity: 4, ops: [aliquots('serum', 6, 0.5)] })],
        });
      return tubes;
    }
    case 'urine':
      return [{ type: 'urine', quantity: 20, sprec: PRIMARY_SPREC.urine, ops: [aliquots('urine', 4, 1)] }];
    case 'saliva':
      return [
        {
          type: 'saliva',
          quantity: 2,
          sprec: PRIMARY_SPREC.saliva,
          ops: rng() < 0.8 ? [derive(1, { ...dnaNode(rng, false), quantity: 100 })] : [],
        },
      ];
    case 'csf':
      return [{ type: 'csf', quantity: 5, sprec: PRIMARY_SPREC.csf, ops: [aliquots('csf', 4, 0.5)] }];
    case 'marrow':
      return [
        {
          type: 'bone_marrow',
          quantity: 3,
          sprec: PRIMARY_SPREC.bone_marrow,
          ops: [derive(1.5, { type: 'buffy_coat', quantity: 0.5, ops: [derive(0.3, dnaNode(rng, true))] })],
        },
      ];
    case 'stool':
      return [
        {
          type: 'stool',
          quantity: 2000,
          sprec: PRIMARY_SPREC.stool,
          ops: [aliquots('stool', 3, 200)],
        },
      ];
    case 'tissue': {
      const site = pick(
        rng,
        (protocol.tissueSites ?? ['unspecified']).map((s) => [s, 1] as const),
      );
      const biopsy = protocol.code === 'IBD';
      // Tumour and (usually) matched normal, each cut into pieces with extracts from some.
      const piece = (pathologyStatus: PathologyStatus): PlanNode => {
        const mass = biopsy ? round(between(rng, 10, 30), 1) : round(between(rng, 60, 200), 1);
        const pieces = biopsy ? 1 : intBetween(rng, 2, 3);
        const each = round(mass / (pieces + 2), 1);
        const ops: PlanOp[] = [aliquots('fresh_frozen_tissue', pieces, each)];
        if (rng() < 0.4) ops.push(derive(round(each / 2, 1), dnaNode(rng, false)));
        if (rng() < 0.4) ops.push(derive(round(each / 2, 1), rnaNode(rng)));
        return {
          type: 'fresh_frozen_tissue',
          quantity: mass,
          sprec: biopsy ? PRIMARY_SPREC.biopsy : PRIMARY_SPREC.surgicalTissue,
          anatomicSite: site,
          pathologyStatus,
          ops,
        };
      };
      const tumour = piece(biopsy ? 'unknown' : 'malignant');
      return rng() < 0.7 ? [tumour, piece('normal')] : [tumour];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Rows in column arrays, ready for `unnest`

interface SpecimenSeed {
  id: string;
  barcode: string;
  type: SpecimenType;
  lineage: 'primary' | 'aliquot' | 'derivative';
  parentId: string | null;
  rootId: string;
  participantId: string;
  protocolId: string;
  anatomicSite: string | null;
  pathologyStatus: PathologyStatus;
  collectedAt: Date;
  receivedAt: Date;
  processedAt: Date;
  frozenAt: Date | null;
  sprecCode: string | null;
  unit: string;
  initialQuantity: number;
  availableQuantity: number;
  quality: Record<string, number>;
  slot: Slot;
  externalIds: { system: string; value: string }[];
  custodySeq: number;
  custodyHead: string | null;
  createdAt: Date;
  updatedAt: Date;
  version: number;
  children: number;
}

interface ParticipantSeed {
  id: string;
  protocol: number;
  protocolId: string;
  pid: string;
  sex: 'female' | 'male' | 'other' | 'unknown';
  birthYear: number;
  diagnoses: string[];
  createdAt: Date;
}

class Batch {
  containers: ContainerSeed[] = [];
  participants: ParticipantSeed[] = [];
  specimens: SpecimenSeed[] = [];
  events: {
    specimenId: string[];
    seq: number[];
    type: string[];
    occurredAt: string[];
    recordedAt: string[];
    requestId: string[];
    fromContainerId: (string | null)[];
    fromPosition: (string | null)[];
    toContainerId: (string | null)[];
    toPosition: (string | null)[];
    quantityChange: (string | null)[];
    details: string[];
    prevHash: (string | null)[];
    hash: string[];
  } = {
    specimenId: [],
    seq: [],
    type: [],
    occurredAt: [],
    recordedAt: [],
    requestId: [],
    fromContainerId: [],
    fromPosition: [],
    toContainerId: [],
    toPosition: [],
    quantityChange: [],
    details: [],
    prevHash: [],
    hash: [],
  };
}

/** The generator's state: what exists so far, and the batch not yet written. */
class InventoryWorld {
  batch = new Batch();
  sites: ContainerSeed[] = [];
  boxCount = 0;
  containers = 0;
  participants: ParticipantSeed[] = [];
  specimens = 0;
  events = 0;
  primaries = 0;
  private readonly fillers: Record<StorageClass, StorageFiller>;

  constructor(
    readonly institutionId: string,
    readonly protocolIds: string[],
    readonly rng: Rng,
    /** SPREC details only, so they leave the inventory's shape for a seed as it was */
    readonly sprecRng: Rng,
  ) {
    this.fillers = {
      minus80: new StorageFiller('minus80', this),
      nucleic: new StorageFiller('nucleic', this),
      ln2: new StorageFiller('ln2', this),
    };
  }

  addContainer(c: Omit<ContainerSeed, 'id'>): ContainerSeed {
    const row = { id: newId(), ...c };
    this.batch.containers.push(row);
    this.containers++;
    return row;
  }

  addSites(at: Date) {
    for (const [barcode, name] of [
      ['SITE-MAIN', 'Main campus biorepository'],
      ['SITE-OFF', 'Off-site disaster-recovery store'],
    ] as const) {
      this.sites.push(
        this.addContainer({
          parentId: null,
          ancestorIds: [],
          kind: 'site',
          barcode,
          name,
          temperatureC: null,
          grid: null,
          allowedTypes: null,
          slot: null,
          createdAt: at,
        }),
      );
    }
  }

  /** A donor: a new one (60 %) or a return visit of an earlier one. */
  donor(at: Date): ParticipantSeed {
    const rng = this.rng;
    if (this.participants.length > 0 && rng() < 0.4) {
      return this.participants[Math.floor(rng() * this.participants.length)]!;
    }
    const protocol = PROTOCOLS.indexOf(
      pick(
        rng,
        PROTOCOLS.map((p) => [p, p.weight] as const),
      ),
    );
    const p = PROTOCOLS[protocol]!;
    const n = this.participants.length + 1;
    const diagnoses = p.diagnoses.length ? [p.diagnoses[Math.floor(rng() * p.diagnoses.length)]!] : [];
    const row: ParticipantSeed = {
      id: newId(),
      protocol,
      protocolId: this.protocolIds[protocol]!,
      pid: `${p.code}-${String(n).padStart(7, '0')}`,
      sex: pick(rng, [
        ['female', 49],
        ['male', 49],
        ['other', 0.5],
        ['unknown', 1.5],
      ] as const),
      birthYear: intBetween(rng, 1930, 2004),
      diagnoses,
      createdAt: at,
    };
    this.participants.push(row);
    this.batch.participants.push(row);
    return row;
  }

  private event(
    s: SpecimenSeed,
    e: {
      type: string;
      occurredAt: Date;
      recordedAt: Date;
      requestId: string;
      toContainerId?: string;
      toPosition?: string;
      quantityChange?: number;
      details: Record<string, unknown>;
    },
  ): number {
    const fields: ChainedEventFields = {
      specimenId: s.id,
      institutionId: this.institutionId,
      seq: s.custodySeq + 1,
      type: e.type,
      occurredAt: e.occurredAt,
      recordedAt: e.recordedAt,
      actor: ACTOR,
      requestId: e.requestId,
      fromContainerId: null,
      fromPosition: null,
      toContainerId: e.toContainerId ?? null,
      toPosition: e.toPosition ?? null,
      quantityChange: e.quantityChange ?? null,
      details: e.details,
    };
    const hash = eventHash(s.custodyHead, fields);
    const ev = this.batch.events;
    ev.specimenId.push(s.id);
    ev.seq.push(fields.seq);
    ev.type.push(e.type);
    ev.occurredAt.push(e.occurredAt.toISOString());
    ev.recordedAt.push(e.recordedAt.toISOString());
    ev.requestId.push(e.requestId);
    ev.fromContainerId.push(null);
    ev.fromPosition.push(null);
    ev.toContainerId.push(fields.toContainerId);
    ev.toPosition.push(fields.toPosition);
    ev.quantityChange.push(e.quantityChange === undefined ? null : e.quantityChange.toFixed(4));
    ev.details.push(JSON.stringify(e.details));
    ev.prevHash.push(s.custodyHead);
    ev.hash.push(hash);
    s.custodySeq = fields.seq;
    s.custodyHead = hash;
    s.updatedAt = e.recordedAt;
    this.events++;
    return fields.seq;
  }

  /**
   * One collection from one donor visit: primaries registered straight into box positions, then
   * processed (aliquots and derivatives, each stored on creation). Stops at `budget` tubes.
   */
  collection(index: number, at: Date, budget: number): number {
    const rng = this.rng;
    const donor = this.donor(at);
    const protocol = PROTOCOLS[donor.protocol]!;
    const kind = pick(rng, protocol.collections);
    const plan = planCollection(rng, kind, protocol);
    const collectedAt = at;
    const receivedAt = new Date(collectedAt.getTime() + intBetween(rng, 20, 240) * MINUTE);
    const processedAt = new Date(receivedAt.getTime() + intBetween(rng, 15, 120) * MINUTE);
    const frozenAt = new Date(processedAt.getTime() + intBetween(rng, 10, 60) * MINUTE);
    let made = 0;
    let clock = processedAt.getTime();
    const tick = () => new Date((clock += intBetween(rng, 1, 4) * MINUTE));

    const create = (
      node: PlanNode,
      parent: SpecimenSeed | null,
      lineage: SpecimenSeed['lineage'],
      when: Date,
      requestId: string,
      childNo: number,
    ): SpecimenSeed => {
      const id = newId();
      const barcode = parent
        ? `${parent.barcode}-${lineage === 'aliquot' ? 'A' : 'D'}${String(childNo).padStart(2, '0')}`
        : `${this.primaries.toString(36).toUpperCase().padStart(7, '0')}`;
      if (!parent) this.primaries++;
      const slot = this.fillers[storageClassOf(node.type)].next(when);
      const s: SpecimenSeed = {
        id,
        barcode: parent ? barcode : `SY${barcode}`,
        type: node.type,
        lineage,
        parentId: parent?.id ?? null,
        rootId: parent?.rootId ?? id,
        participantId: donor.id,
        protocolId: this.protocolIds[donor.protocol]!,
        anatomicSite: parent ? parent.anatomicSite : (node.anatomicSite ?? null),
        pathologyStatus: parent
          ? parent.pathologyStatus
          : (node.pathologyStatus ?? (node.type === 'fresh_frozen_tissue' ? 'unknown' : 'not_applicable')),
        collectedAt,
        receivedAt,
        processedAt: parent ? when : processedAt,
        frozenAt: parent ? null : frozenAt,
        sprecCode: null,
        unit: lineage === 'aliquot' && parent ? parent.unit : SPECIMEN_TYPE_INFO[node.type].defaultUnit,
        initialQuantity: node.quantity,
        availableQuantity: node.quantity,
        quality: node.quality ?? (lineage === 'aliquot' && parent ? parent.quality : {}),
        slot,
        externalIds:
          !parent && rng() < 0.7
            ? [{ system: 'LIS', value: `L${collectedAt.getUTCFullYear()}-${index}` }]
            : [],
        custodySeq: 0,
        custodyHead: null,
        createdAt: when,
        updatedAt: when,
        version: 1,
        children: 0,
      };
      this.batch.specimens.push(s);
      this.specimens++;
      made++;
      return s;
    };

    const store = (s: SpecimenSeed, when: Date, requestId: string) =>
      this.event(s, {
        type: 'stored',
        occurredAt: when,
        recordedAt: when,
        requestId,
        toContainerId: s.slot.box.id,
        toPosition: s.slot.label,
        details: {},
      });

    const processNode = (parent: SpecimenSeed, node: PlanNode) => {
      for (const op of node.ops) {
        const n = Math.min(op.children.length, budget - made);
        if (n <= 0) return;
        const when = tick();
        const requestId = `syn-${index}-${parent.custodySeq + 1}-${parent.barcode}`;
        const parentSeq = parent.custodySeq + 1;
        const created: [SpecimenSeed, PlanNode][] = [];
        for (const childNode of op.children.slice(0, n)) {
          const child = create(childNode, parent, op.kind, when, requestId, ++parent.children);
          this.event(child, {
            type: 'created_from_parent',
            occurredAt: when,
            recordedAt: when,
            requestId,
            quantityChange: child.initialQuantity,
            details: {
              parentId: parent.id,
              parentBarcode: parent.barcode,
              lineage: op.kind,
              type: child.type,
              parentCustodySeq: parentSeq,
            },
          });
          store(child, when, requestId);
          created.push([child, childNode]);
        }
        const drawn = op.kind === 'aliquot' ? round(op.drawn * (n / op.children.length), 4) : op.drawn;
        parent.availableQuantity = round(parent.availableQuantity - drawn, 4);
        parent.version++;
        this.event(parent, {
          type: op.kind === 'aliquot' ? 'aliquoted' : 'derived',
          occurredAt: when,
          recordedAt: when,
          requestId,
          quantityChange: -drawn,
          details: { children: created.map(([c]) => ({ id: c.id, barcode: c.barcode })) },
        });
        for (const [child, childNode] of created) processNode(child, childNode);
      }
    };

    for (const node of plan) {
      if (made >= budget) break;
      const registeredAt = new Date(receivedAt.getTime() + intBetween(rng, 1, 10) * MINUTE);
      const requestId = `syn-${index}-register`;
      const primary = create(node, null, 'primary', registeredAt, requestId, 0);
      if (node.sprec) {
        const stated = primarySprec(
          this.sprecRng,
          node.sprec,
          { collectedAt, processedAt, frozenAt },
          primary.slot.box.temperatureC,
        );
        primary.sprecCode = stated.code;
        primary.quality = { ...primary.quality, ...stated.quality };
      }
      this.event(primary, {
        type: 'collected',
        occurredAt: collectedAt,
        recordedAt: registeredAt,
        requestId,
        quantityChange: primary.initialQuantity,
        details: { barcode: primary.barcode, type: primary.type },
      });
      store(primary, registeredAt, requestId);
      processNode(primary, node);
    }
    return made;
  }

  takeBatch(): Batch {
    const b = this.batch;
    this.batch = new Batch();
    return b;
  }
}

// ---------------------------------------------------------------------------------------------
// Bulk writes

const iso = (d: Date | null) => (d ? d.toISOString() : null);
// Array parameters go as ready-made array literals, cheaper than letting pg escape every element:
// A() for values that need no quoting (uuids, numbers, enum labels, ISO times, hex), Q() for text.
const quote = (v: string) => `"${v.replace(/["\\]/g, '\\$&')}"`;
const pgArray = (values: readonly string[]) => `{${values.map(quote).join(',')}}`;
const A = (values: readonly (string | number | null)[]) =>
  `{${values.map((v) => (v === null ? 'NULL' : v)).join(',')}}`;
const Q = (values: readonly (string | null)[]) =>
  `{${values.map((v) => (v === null ? 'NULL' : quote(v))).join(',')}}`;

async function writeBatch(client: pg.PoolClient, institutionId: string, b: Batch): Promise<void> {
  if (b.containers.length) {
    const c = b.containers;
    await client.query(
      `insert into container (id, institution_id, parent_id, ancestor_ids, kind, barcode, name, temperature_c,
         grid_rows, grid_cols, grid_scheme, fill_order, allowed_types, slot_row, slot_col, created_at, updated_at)
       select u.id, $1, u.parent_id, u.ancestor_ids::uuid[], u.kind, u.barcode, u.name, u.temperature_c,
              u.grid_rows, u.grid_cols, u.grid_scheme, 'row_major', u.allowed_types::text[], u.slot_row, u.slot_col,
              u.created_at, u.created_at
         from unnest($2::uuid[], $3::uuid[], $4::text[], $5::container_kind[], $6::text[], $7::text[], $8::numeric[],
                     $9::int[], $10::int[], $11::grid_scheme[], $12::text[], $13::int[], $14::int[], $15::timestamptz[])
           as u(id, parent_id, ancestor_ids, kind, barcode, name, temperature_c, grid_rows, grid_cols, grid_scheme,
                allowed_types, slot_row, slot_col, created_at)`,
      [
        institutionId,
        A(c.map((x) => x.id)),
        A(c.map((x) => x.parentId)),
        Q(c.map((x) => pgArray(x.ancestorIds))),
        A(c.map((x) => x.kind)),
        Q(c.map((x) => x.barcode)),
        Q(c.map((x) => x.name)),
        A(c.map((x) => x.temperatureC)),
        A(c.map((x) => x.grid?.rows ?? null)),
        A(c.map((x) => x.grid?.cols ?? null)),
        A(c.map((x) => x.grid?.scheme ?? null)),
        Q(c.map((x) => (x.allowedTypes ? pgArray(x.allowedTypes) : null))),
        A(c.map((x) => x.slot?.row ?? null)),
        A(c.map((x) => x.slot?.col ?? null)),
        A(c.map((x) => x.createdAt.toISOString())),
      ],
    );
  }
  if (b.participants.length) {
    const p = b.participants;
    await client.query(
      `insert into participant (id, institution_id, protocol_id, protocol_participant_id, sex, birth_year, diagnoses,
         created_at, updated_at)
       select u.id, $1, u.protocol_id, u.pid, u.sex, u.birth_year, u.diagnoses::text[], u.created_at, u.created_at
         from unnest($2::uuid[], $3::uuid[], $4::text[], $5::participant_sex[], $6::int[], $7::text[],
                     $8::timestamptz[]) as u(id, protocol_id, pid, sex, birth_year, diagnoses, created_at)`,
      [
        institutionId,
        A(p.map((x) => x.id)),
        A(p.map((x) => x.protocolId)),
        Q(p.map((x) => x.pid)),
        A(p.map((x) => x.sex)),
        A(p.map((x) => x.birthYear)),
        Q(p.map((x) => pgArray(x.diagnoses))),
        A(p.map((x) => x.createdAt.toISOString())),
      ],
    );
  }
  const s = b.specimens;
  if (s.length) {
    await client.query(
      `insert into specimen (id, institution_id, barcode, type, lineage, parent_id, root_id, participant_id,
         protocol_id, anatomic_site, pathology_status, collected_at, received_at, processed_at, frozen_at, sprec_code,
         sprec_version, unit, initial_quantity, available_quantity, quality, freeze_thaw_count, status, holds,
         qc_status, container_id, position_row, position_col, external_ids, custody_seq, custody_head, created_at,
         updated_at, version)
       select u.id, $1, u.barcode, u.type, u.lineage, u.parent_id, u.root_id, u.participant_id, u.protocol_id,
              u.anatomic_site, u.pathology_status, u.collected_at, u.received_at, u.processed_at, u.frozen_at,
              u.sprec_code, '3.0', u.unit, u.initial_quantity, u.available_quantity, u.quality::jsonb, 0,
              'available', '{}', 'unchecked', u.container_id, u.position_row, u.position_col,
              u.external_ids::jsonb, u.custody_seq, u.custody_head, u.created_at, u.updated_at, u.version
         from unnest($2::uuid[], $3::text[], $4::specimen_type[], $5::specimen_lineage[], $6::uuid[], $7::uuid[],
                     $8::uuid[], $9::uuid[], $10::text[], $11::pathology_status[], $12::timestamptz[],
                     $13::timestamptz[], $14::timestamptz[], $15::timestamptz[], $16::text[], $17::quantity_unit[],
                     $18::numeric[], $19::numeric[], $20::text[], $21::uuid[], $22::int[], $23::int[], $24::text[],
                     $25::int[], $26::text[], $27::timestamptz[], $28::timestamptz[], $29::int[])
           as u(id, barcode, type, lineage, parent_id, root_id, participant_id, protocol_id, anatomic_site,
                pathology_status, collected_at, received_at, processed_at, frozen_at, sprec_code, unit,
                initial_quantity, available_quantity, quality, container_id, position_row, position_col,
                external_ids, custody_seq, custody_head, created_at, updated_at, version)`,
      [
        institutionId,
        A(s.map((x) => x.id)),
        Q(s.map((x) => x.barcode)),
        A(s.map((x) => x.type)),
        A(s.map((x) => x.lineage)),
        A(s.map((x) => x.parentId)),
        A(s.map((x) => x.rootId)),
        A(s.map((x) => x.participantId)),
        A(s.map((x) => x.protocolId)),
        Q(s.map((x) => x.anatomicSite)),
        A(s.map((x) => x.pathologyStatus)),
        A(s.map((x) => iso(x.collectedAt))),
        A(s.map((x) => iso(x.receivedAt))),
        A(s.map((x) => iso(x.processedAt))),
        A(s.map((x) => iso(x.frozenAt))),
        Q(s.map((x) => x.sprecCode)),
        A(s.map((x) => x.unit)),
        A(s.map((x) => x.initialQuantity)),
        A(s.map((x) => x.availableQuantity)),
        Q(s.map((x) => JSON.stringify(x.quality))),
        A(s.map((x) => x.slot.box.id)),
        A(s.map((x) => x.slot.row)),
        A(s.map((x) => x.slot.col)),
        Q(s.map((x) => JSON.stringify(x.externalIds))),
        A(s.map((x) => x.custodySeq)),
        A(s.map((x) => x.custodyHead)),
        A(s.map((x) => x.createdAt.toISOString())),
        A(s.map((x) => x.updatedAt.toISOString())),
        A(s.map((x) => x.version)),
      ],
    );
  }
  const e = b.events;
  if (e.hash.length) {
    await client.query(
      `insert into custody_event (specimen_id, institution_id, seq, type, occurred_at, recorded_at, actor, request_id,
         from_container_id, from_position, to_container_id, to_position, quantity_change, details, prev_hash, hash)
       select u.specimen_id, $1, u.seq, u.type, u.occurred_at, u.recorded_at, $2, u.request_id, u.from_container_id,
              u.from_position, u.to_container_id, u.to_position, u.quantity_change, u.details::jsonb, u.prev_hash, u.hash
         from unnest($3::uuid[], $4::int[], $5::custody_event_type[], $6::timestamptz[], $7::timestamptz[],
                     $8::text[], $9::uuid[], $10::text[], $11::uuid[], $12::text[], $13::numeric[], $14::text[],
                     $15::text[], $16::text[])
           as u(specimen_id, seq, type, occurred_at, recorded_at, request_id, from_container_id, from_position,
                to_container_id, to_position, quantity_change, details, prev_hash, hash)`,
      [
        institutionId,
        ACTOR,
        A(e.specimenId),
        A(e.seq),
        A(e.type),
        A(e.occurredAt),
        A(e.recordedAt),
        Q(e.requestId),
        A(e.fromContainerId),
        Q(e.fromPosition),
        A(e.toContainerId),
        Q(e.toPosition),
        A(e.quantityChange),
        Q(e.details),
        A(e.prevHash),
        A(e.hash),
      ],
    );
  }
}

// ---------------------------------------------------------------------------------------------

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

function systemCtx(name: string, institutionId: string | null, log: Ctx['log']): Ctx {
  return { actor: { kind: 'system', name, institutionId }, requestId: `${name}-${Date.now()}`, log };
}

/**
 * Seeds `count` synthetic specimens for one institution (default SYN), creating it, its
 * protocols and one API key per role through the real services. Skips (writes nothing, makes no
 * keys) when that institution already has specimens. Progress goes to `opts.log.info`.
 */
export async function seedSynthetic(c: Container, opts: SyntheticSeedOptions): Promise<SyntheticSeedResult> {
  const count = opts.count;
  if (!Number.isSafeInteger(count) || count < 1 || count > 20_000_000)
    throw new RangeError(`count must be an integer between 1 and 20,000,000, got ${count}`);
  const code = opts.institutionCode ?? 'SYN';
  const batchSize = opts.batchSize ?? 5_000;
  const log = opts.log;
  const started = Date.now();
  const rootCtx = systemCtx('seed-synthetic', null, c.log);

  const institution =
    (await findInstitutionByCode(c.db, code)) ??
    (await c.services.institutions.createInstitution(rootCtx, {
      code,
      name: `Synthetic biobank ${code}`,
      kind: 'biobank',
    }));
  const counts = async () => {
    const r = await c.database.pool.query<{ specimens: number; containers: number; participants: number }>(
      `select (select count(*) from specimen where institution_id = $1)::int as specimens,
              (select count(*) from container where institution_id = $1)::int as containers,
              (select count(*) from participant where institution_id = $1)::int as participants`,
      [institution.id],
    );
    return r.rows[0]!;
  };
  const hasSpecimens = async (q: Pick<pg.Pool, 'query'>) =>
    (await q.query('select 1 from specimen where institution_id = $1 limit 1', [institution.id])).rowCount !==
    0;
  const skipped = async (): Promise<SyntheticSeedResult> => {
    const n = await counts();
    log.info({ institution: code, ...n }, 'synthetic seed skipped: the institution already has specimens');
    return {
      skipped: true,
      institutionId: institution.id,
      institutionCode: code,
      ...n,
      custodyEvents: 0,
      seconds: (Date.now() - started) / 1000,
      keys: [],
    };
  };
  if (await hasSpecimens(c.database.pool)) return skipped();

  // Protocols through the service (reused when a failed run already made them).
  const ctx = systemCtx('seed-synthetic', institution.id, c.log);
  const existing = new Map(
    (await c.services.participants.listProtocols(ctx)).map((p) => [p.code, p.id] as const),
  );
  const protocolIds: string[] = [];
  for (const p of PROTOCOLS) {
    const id =
      existing.get(p.code) ??
      (
        await c.services.participants.createProtocol(ctx, {
          code: p.code,
          title: p.title,
          ethicsApprovalRef: `EC-${p.code}-2018-${String(PROTOCOLS.indexOf(p) + 11).padStart(3, '0')}`,
          consentTiers: p.tiers,
        })
      ).id;
    protocolIds.push(id);
  }

  log.info({ institution: code, count, batchSize }, 'synthetic seed: generating');
  const client = await c.database.pool.connect();
  let released = false;
  const seed = opts.seed ?? 20_240_601;
  const world = new InventoryWorld(institution.id, protocolIds, mulberry32(seed), mulberry32(seed ^ 0x5e7c));
  try {
    await client.query('begin');
    // Nothing is lost on a crash but the seed itself, which rolls back anyway.
    await client.query('set local synchronous_commit = off');
    // Two concurrent seeds of one institution: the second waits, then finds the specimens.
    await client.query('select pg_advisory_xact_lock(7302, hashtext($1))', [institution.id]);
    if (await hasSpecimens(client)) {
      await client.query('rollback');
      client.release();
      released = true;
      return skipped();
    }

    // Collections spread over six years, oldest first, so freezers fill in time order.
    const end = Date.now() - DAY;
    const start = end - 6 * 365 * DAY;
    const expectedCollections = Math.max(1, Math.round(count / 11));
    const step = (end - start) / expectedCollections;
    world.addSites(new Date(start - 30 * DAY));

    let pending: Promise<void> | null = null;
    let written = 0;
    let collection = 0;
    let lastReport = Date.now();
    while (world.specimens < count) {
      const at = Math.min(end, start + (collection + world.rng()) * step);
      world.collection(collection++, new Date(Math.floor(at / 1000) * 1000), count - world.specimens);
      if (collection % 100 === 0) await yieldToIo();
      if (world.batch.specimens.length >= batchSize || world.specimens >= count) {
        const batch = world.takeBatch();
        if (pending) await pending;
        // Written while the next batch is generated; one batch in flight at a time.
        const p: Promise<void> = writeBatch(client, institution.id, batch).then(() => {
          written += batch.specimens.length;
        });
        p.catch(() => undefined);
        pending = p;
        if (Date.now() - lastReport > 5_000 || world.specimens >= count) {
          lastReport = Date.now();
          const seconds = (Date.now() - started) / 1000;
          log.info(
            {
              generated: world.specimens,
              written,
              of: count,
              percent: Math.floor((world.specimens / count) * 100),
              perSecond: Math.round(world.specimens / seconds),
              seconds: Math.round(seconds),
            },
            'synthetic seed progress',
          );
        }
      }
    }
    if (pending) await pending;
    await client.query(
      `insert into audit_log (institution_id, actor, action, entity_type, entity_id, after, request_id)
       values ($1, $2, 'seedSynthetic', 'institution', $5, $3::jsonb, $4)`,
      [
        institution.id,
        ACTOR,
        JSON.stringify({
          specimens: world.specimens,
          containers: world.containers,
          participants: world.participants.length,
          custodyEvents: world.events,
        }),
        ctx.requestId,
        institution.id,
      ],
    );
    log.info({ specimens: world.specimens }, 'synthetic seed: committing');
    await client.query('commit');
  } catch (err) {
    if (!released) {
      await client.query('rollback').catch(() => undefined);
      // The connection may be what failed: discard it rather than return it to the pool.
      client.release(true);
      released = true;
    }
    throw err;
  } finally {
    if (!released) client.release();
  }
  // Fresh statistics, so the planner sees a million rows rather than an empty table.
  await c.database.pool.query('analyze container, participant, specimen, custody_event');

  const keys: SyntheticSeedResult['keys'] = [];
  for (const role of ROLES) {
    const { token } = await c.services.apiKeys.createApiKey(rootCtx, {
      institutionId: institution.id,
      role,
      name: `synthetic ${role}`,
    });
    keys.push({ role, token });
  }
  const seconds = (Date.now() - started) / 1000;
  log.info(
    {
      institution: code,
      specimens: world.specimens,
      containers: world.containers,
      participants: world.participants.length,
      custodyEvents: world.events,
      seconds: Math.round(seconds * 10) / 10,
    },
    'synthetic seed done',
  );
  return {
    skipped: false,
    institutionId: institution.id,
    institutionCode: code,
    specimens: world.specimens,
    containers: world.containers,
    participants: world.participants.length,
    custodyEvents: world.events,
    seconds,
    keys,
  };
}
