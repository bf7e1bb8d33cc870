// ISBER SPREC code tables (v2.0: Biopreserv Biobank 2012 10(4):366; v3.0: Biopreserv Biobank
// 2018 16(1); v4.0: doi 10.1089/bio.2024.0010). Each entry records the version that introduced it,
// so a code is validated against the vocabulary of the version stored next to it (reading a v3 or
// v4 code with v2 tables gives wrong answers). Entries marked `unverified` are carried over from
// secondary sources and must be checked against the ISBER publication before being relied on.

export const SPREC_VERSIONS = ['2.0', '3.0', '4.0'] as const;
export type SprecVersion = (typeof SPREC_VERSIONS)[number];

export const SPREC_KINDS = ['fluid', 'solid'] as const;
export type SprecKind = (typeof SPREC_KINDS)[number];

// X/XXX, Z/ZZZ and N are kept apart: scoring tools treat X and Z as "not scored", never as zero,
// and N (not applicable / not done) is a statement about the specimen, not missing data.
export const SPREC_SENTINELS = ['unknown', 'other', 'notApplicable'] as const;
export type SprecSentinel = (typeof SPREC_SENTINELS)[number];

export const SPREC_FLUID_FIELDS = [
  'typeOfSample',
  'primaryContainer',
  'preCentrifugation',
  'centrifugation',
  'secondCentrifugation',
  'postCentrifugation',
  'longTermStorage',
] as const;
export type SprecFluidField = (typeof SPREC_FLUID_FIELDS)[number];

export const SPREC_SOLID_FIELDS = [
  'typeOfSample',
  'typeOfCollection',
  'warmIschaemia',
  'coldIschaemia',
  'fixationType',
  'fixationTime',
  'longTermStorage',
] as const;
export type SprecSolidField = (typeof SPREC_SOLID_FIELDS)[number];

export type SprecField = SprecFluidField | SprecSolidField;

export const SPREC_FIELD_LABELS: Readonly<Record<SprecField, string>> = {
  typeOfSample: 'type of sample',
  primaryContainer: 'type of primary container',
  preCentrifugation: 'pre-centrifugation delay',
  centrifugation: 'centrifugation',
  secondCentrifugation: 'second centrifugation',
  postCentrifugation: 'post-centrifugation delay',
  longTermStorage: 'long-term storage',
  typeOfCollection: 'type of collection',
  warmIschaemia: 'warm ischaemia time',
  coldIschaemia: 'cold ischaemia time',
  fixationType: 'fixation/stabilisation type',
  fixationTime: 'fixation time',
};

/**
 * A numeric interval. `min` is inclusive; `max` is inclusive only when `maxInclusive`.
 * `null` bounds are open. Elapsed-time bands are half-open ([2 h, 4 h) for "2–4 h") so every
 * duration falls in exactly one band: a delay of exactly 2 h is "2–4 h", not "<2 h".
 */
export interface SprecRange {
  readonly min: number | null;
  readonly max: number | null;
  readonly maxInclusive: boolean;
}

function halfOpen(min: number, max: number | null): SprecRange {
  return { min, max, maxInclusive: false };
}

function closed(min: number | null, max: number | null): SprecRange {
  return { min, max, maxInclusive: true };
}

export function isInSprecRange(value: number, range: SprecRange): boolean {
  if (range.min !== null && value < range.min) return false;
  if (range.max === null) return true;
  return range.maxInclusive ? value <= range.max : value < range.max;
}

export const SPREC_PROCESSING_TEMPERATURES = ['RT', '2-10C', '35-38C'] as const;
export type SprecProcessingTemperature = (typeof SPREC_PROCESSING_TEMPERATURES)[number];

// SPREC names the bands but gives no numeric room temperature; 15–25 °C follows the MIABIS
// storage-temperature code system (also used by the MII biobank module). Values between bands
// (e.g. 12 °C) are "other" (Z), not the nearest band.
export const SPREC_PROCESSING_TEMPERATURE_RANGES: Readonly<Record<SprecProcessingTemperature, SprecRange>> = {
  RT: closed(15, 25),
  '2-10C': closed(2, 10),
  '35-38C': closed(35, 38),
};

// Storage bands from the long-term storage table (v2.0 onwards). Liquid nitrogen and "below
// −135 °C" share the cryogenic band; −135 °C itself is counted as cryogenic.
export const SPREC_STORAGE_TEMPERATURE_RANGES = {
  ultraLowFreezer: closed(-85, -60),
  freezer: closed(-35, -18),
  cryogenic: closed(null, -135),
  refrigerated: SPREC_PROCESSING_TEMPERATURE_RANGES['2-10C'],
  roomTemperature: SPREC_PROCESSING_TEMPERATURE_RANGES.RT,
} as const satisfies Record<string, SprecRange>;

export interface SprecDelayData {
  readonly delayMinutes: SprecRange;
  readonly temperature: SprecProcessingTemperature;
}

export interface SprecCentrifugationData {
  readonly temperature: 'RT' | '2-10C';
  readonly speedG: SprecRange;
  readonly durationMinutes: SprecRange;
  readonly brake: boolean;
  /** M (30 min, <1000 g) exists only for the first centrifugation. */
  readonly firstOnly: boolean;
}

export const SPREC_LONG_TERM_CONTAINER_KINDS = [
  'ppTube05To2mL',
  'ppTube40To500uL',
  'ppTube5mLPlus',
  'cryotube1To2mL',
  'straw',
  'microplate',
  'originalPrimaryContainer',
  'paraffinBlock',
  'bag',
  'dryTechnologyMedium',
] as const;
export type SprecLongTermContainerKind = (typeof SPREC_LONG_TERM_CONTAINER_KINDS)[number];

export const SPREC_STORAGE_PROTOCOLS = [
  'standard',
  'programmableFreezing',
  'liquidNitrogenAfterUltraLowFreezer',
] as const;
export type SprecStorageProtocol = (typeof SPREC_STORAGE_PROTOCOLS)[number];

export interface SprecLongTermStorageData {
  readonly container: SprecLongTermContainerKind;
  /** Any of these bands qualifies; empty when the conditions are not known. */
  readonly temperaturesC: readonly SprecRange[];
  readonly protocol: SprecStorageProtocol;
}

export const SPREC_COLLECTION_PROCEDURES = [
  'autopsy',
  'biopsy',
  'surgicalExcision',
  'fineNeedleAspirate',
  'puncture',
  'swab',
] as const;
export type SprecCollectionProcedure = (typeof SPREC_COLLECTION_PROCEDURES)[number];

export interface SprecCollectionData {
  readonly procedure: SprecCollectionProcedure;
  readonly medium: 'cultureMedium' | 'saline' | 'lowTemperatureTransportMedium' | 'vacuum' | null;
  readonly postMortemIntervalHours: SprecRange | null;
}

export interface SprecDurationData {
  readonly durationMinutes: SprecRange;
}

interface SprecEntryBase {
  readonly code: string;
  readonly meaning: string;
  readonly since: SprecVersion;
  /** Meaning changes in later versions (e.g. CPT becomes "CPT citrate" in v4.0). */
  readonly laterMeanings?: readonly { readonly since: SprecVersion; readonly meaning: string }[];
  /** Why the entry is doubtful; absent when two sources agree. */
  readonly unverified?: string;
}

export interface SprecValueEntry<D> extends SprecEntryBase {
  readonly sentinel: null;
  readonly data: D;
}

export interface SprecSentinelEntry extends SprecEntryBase {
  readonly sentinel: SprecSentinel;
}

export type SprecEntry<D> = SprecValueEntry<D> | SprecSentinelEntry;

export interface SprecFluidDataMap {
  typeOfSample: null;
  primaryContainer: null;
  preCentrifugation: SprecDelayData;
  centrifugation: SprecCentrifugationData;
  secondCentrifugation: SprecCentrifugationData;
  postCentrifugation: SprecDelayData;
  longTermStorage: SprecLongTermStorageData;
}

export interface SprecSolidDataMap {
  typeOfSample: null;
  typeOfCollection: SprecCollectionData;
  warmIschaemia: SprecDurationData;
  coldIschaemia: SprecDurationData;
  fixationType: null;
  fixationTime: SprecDurationData;
  longTermStorage: SprecLongTermStorageData;
}

export type SprecTables<M> = { readonly [F in keyof M]: readonly SprecEntry<M[F]>[] };
export type SprecFluidTables = SprecTables<SprecFluidDataMap>;
export type SprecSolidTables = SprecTables<SprecSolidDataMap>;

interface EntryOptions {
  since?: SprecVersion;
  unverified?: string;
  laterMeanings?: readonly { readonly since: SprecVersion; readonly meaning: string }[];
}

function value<D>(code: string, meaning: string, data: D, opts: EntryOptions = {}): SprecValueEntry<D> {
  return {
    code,
    meaning,
    since: opts.since ?? '2.0',
    sentinel: null,
    data,
    ...(opts.unverified === undefined ? {} : { unverified: opts.unverified }),
    ...(opts.laterMeanings === undefined ? {} : { laterMeanings: opts.laterMeanings }),
  };
}

function plain(code: string, meaning: string, opts: EntryOptions = {}): SprecValueEntry<null> {
  return value(code, meaning, null, opts);
}

function sentinel(code: string, kind: SprecSentinel, meaning: string): SprecSentinelEntry {
  return { code, meaning, since: '2.0', sentinel: kind };
}

const UNKNOWN_1 = sentinel('X', 'unknown', 'Unknown');
const OTHER_1 = sentinel('Z', 'other', 'Other');
const UNKNOWN_3 = sentinel('XXX', 'unknown', 'Unknown');
const OTHER_3 = sentinel('ZZZ', 'other', 'Other');

// ---- Fluid (SPREC v2.0 tables; additions tagged with the version that introduced them) ----

// MII "SPREC 3.0 Sample Type Mapping" lists BON, HAR, NAL, PLC and TTH; EBC, FNA, PTF and SWT
// appear only in the later MII SPREC 4.0 map, so they are dated 4.0 until checked.
const V4_OR_V3 = 'SPREC.md lists it as a v3/v4 addition; dated 4.0 because only the MII SPREC 4.0 map has it';

const FLUID_TYPE_OF_SAMPLE: readonly SprecEntry<null>[] = [
  plain('ASC', 'Ascites fluid'),
  plain('AMN', 'Amniotic fluid'),
  plain('BAL', 'Bronchoalveolar lavage'),
  plain('BLD', 'Blood (whole)'),
  plain('BMA', 'Bone marrow aspirate'),
  plain('BMK', 'Breast milk'),
  plain('BUC', 'Buccal cells'),
  plain('BUF', 'Buffy coat (non-Ficoll), viable'),
  plain('BFF', 'Buffy coat (non-Ficoll), non-viable'),
  plain('CEL', 'Ficoll mononuclear cells, viable'),
  plain('CEN', 'Fresh cells from non-blood specimen type'),
  plain('CLN', 'Cells from non-blood specimen type, viable'),
  plain('CRD', 'Cord blood'),
  plain('CSF', 'Cerebrospinal fluid'),
  plain('DWB', 'Dried whole blood'),
  plain('NAS', 'Nasal washing'),
  plain('PEL', 'Ficoll mononuclear cells, non-viable'),
  plain('PEN', 'Cells from non-blood specimen type, non-viable'),
  plain('PFL', 'Pleural fluid'),
  plain('PL1', 'Plasma, single spun'),
  plain('PL2', 'Plasma, double spun'),
  plain('RBC', 'Red blood cells'),
  plain('SAL', 'Saliva'),
  plain('SEM', 'Semen'),
  plain('SER', 'Serum'),
  plain('SPT', 'Sputum'),
  plain('STL', 'Stool'),
  plain('SYN', 'Synovial fluid'),
  plain('TER', 'Tears'),
  plain('U24', '24 h urine'),
  plain('URN', 'Urine, random ("spot")'),
  plain('URM', 'Urine, first morning'),
  plain('URT', 'Urine, timed'),
  plain('BON', 'Bone', { since: '3.0' }),
  plain('HAR', 'Hair', { since: '3.0' }),
  plain('NAL', 'Nails', { since: '3.0' }),
  plain('PLC', 'Placenta', { since: '3.0' }),
  plain('TTH', 'Teeth', { since: '3.0' }),
  plain('EBC', 'Exhaled breath condensate', { since: '4.0', unverified: V4_OR_V3 }),
  plain('FNA', 'Cells from fine-needle aspirate', { since: '4.0', unverified: V4_OR_V3 }),
  plain('PTF', 'Peritoneal fluid', { since: '4.0', unverified: V4_OR_V3 }),
  plain('SWT', 'Sweat', { since: '4.0', unverified: V4_OR_V3 }),
  plain('EXO', 'Isolated/enriched exosomes', {
    since: '4.0',
    unverified: 'only the MIABIS mapping lists it (as v4.0)',
  }),
  OTHER_3,
];

// SPREC.md dates CIF, CPH, CSV, GLS, LHB and OMN to v4.0; note the MII map titled "SPREC 3.0
// Primary Container Mapping" already lists all but CIF.
const V4_CONTAINER = 'dated 4.0 per SPREC.md; the MII "SPREC 3.0" container map already lists it';

const PRIMARY_CONTAINER: readonly SprecEntry<null>[] = [
  plain('ACD', 'Acid citrate dextrose'),
  plain('ADD', 'Chemical additives/stabilisers'),
  plain('CAT', 'Serum tube without clot activator'),
  plain('CPD', 'Citrate phosphate dextrose'),
  plain('CPT', 'Cell Preparation Tube', {
    laterMeanings: [{ since: '4.0', meaning: 'Cell Preparation Tube, citrate' }],
  }),
  plain('EDG', 'EDTA and gel'),
  plain('HEP', 'Lithium heparin'),
  plain('HIR', 'Hirudin'),
  plain('LHG', 'Lithium heparin and gel'),
  plain('ORG', 'Oragene collection container'),
  plain('PAX', 'PAXgene blood RNA'),
  plain('PED', 'Potassium EDTA'),
  plain('PET', 'Polyethylene tube, sterile'),
  plain('PI1', 'S8820 protease inhibitor tablets or equivalent'),
  plain('PIX', 'Protease inhibitors'),
  plain('PPS', 'Polypropylene tube, sterile'),
  plain('PXD', 'PAXgene blood DNA'),
  plain('PXR', 'PAXgene bone marrow RNA'),
  plain('SCI', 'Sodium citrate'),
  plain('SED', 'Sodium EDTA'),
  plain('SHP', 'Sodium heparin'),
  plain('SPO', 'Sodium fluoride/potassium oxalate'),
  plain('SST', 'Serum separator tube with clot activator'),
  plain('TEM', 'Tempus tube'),
  plain('TRC', 'Trace element tube'),
  plain('CIF', 'Citrate fluoride', { since: '4.0' }),
  plain('CPH', 'Cell Preparation Tube, heparin', { since: '4.0', unverified: V4_CONTAINER }),
  plain('CSV', 'Aldehyde-based stabiliser for CTCs', { since: '4.0', unverified: V4_CONTAINER }),
  plain('GLS', 'Glass', { since: '4.0', unverified: V4_CONTAINER }),
  plain('LHB', 'Lithium heparin and rubber plug', { since: '4.0', unverified: V4_CONTAINER }),
  plain('OMN', 'Stool collection container with DNA stabiliser', {
    since: '4.0',
    unverified: V4_CONTAINER,
  }),
  UNKNOWN_3,
  OTHER_3,
];

const HOUR = 60;

function delay(
  code: string,
  temperature: SprecProcessingTemperature,
  fromHours: number,
  toHours: number | null,
  label: string,
): SprecValueEntry<SprecDelayData> {
  const temperatureLabel =
    temperature === 'RT' ? 'room temperature' : temperature === '2-10C' ? '2–10 °C' : '35–38 °C';
  return value(code, `${label} at ${temperatureLabel}`, {
    delayMinutes: halfOpen(fromHours * HOUR, toHours === null ? null : toHours * HOUR),
    temperature,
  });
}

// Pre-centrifugation N is "2–10 °C, >48 h", not the not-applicable sentinel.
const PRE_CENTRIFUGATION: readonly SprecEntry<SprecDelayData>[] = [
  delay('A', 'RT', 0, 2, '<2 h'),
  delay('B', '2-10C', 0, 2, '<2 h'),
  delay('C', 'RT', 2, 4, '2–4 h'),
  delay('D', '2-10C', 2, 4, '2–4 h'),
  delay('E', 'RT', 4, 8, '4–8 h'),
  delay('F', '2-10C', 4, 8, '4–8 h'),
  delay('G', 'RT', 8, 12, '8–12 h'),
  delay('H', '2-10C', 8, 12, '8–12 h'),
  delay('I', 'RT', 12, 24, '12–24 h'),
  delay('J', '2-10C', 12, 24, '12–24 h'),
  delay('K', 'RT', 24, 48, '24–48 h'),
  delay('L', '2-10C', 24, 48, '24–48 h'),
  delay('M', 'RT', 48, null, '>48 h'),
  delay('N', '2-10C', 48, null, '>48 h'),
  delay('O', '35-38C', 0, 2, '<2 h'),
  UNKNOWN_1,
  OTHER_1,
];

const SPEED_BELOW_3000 = halfOpen(0, 3000);
const SPEED_3000_6000 = halfOpen(3000, 6000);
const SPEED_6000_10000 = halfOpen(6000, 10000);
const SPEED_ABOVE_10000 = halfOpen(10000, null);
const RUN_10_15_MIN = closed(10, 15);

function spin(
  code: string,
  temperature: 'RT' | '2-10C',
  speedG: SprecRange,
  speedLabel: string,
  brake: boolean,
): SprecValueEntry<SprecCentrifugationData> {
  const t = temperature === 'RT' ? 'room temperature' : '2–10 °C';
  return value(code, `${t}, 10–15 min, ${speedLabel}, ${brake ? 'with' : 'no'} braking`, {
    temperature,
    speedG,
    durationMinutes: RUN_10_15_MIN,
    brake,
    firstOnly: false,
  });
}

// The A–J sequence is confirmed by two mappings; one open SPREC library prints "F" for the
// 2–10 °C 6000–10 000 g run, which is H. SPREC 4.0 adds runs (<10 min, 15–60 min,
// 10 000–80 000 g, ultracentrifugation) whose letters are not verified and are not held here.
const CENTRIFUGATION: readonly SprecEntry<SprecCentrifugationData>[] = [
  spin('A', 'RT', SPEED_BELOW_3000, '<3000 g', false),
  spin('B', 'RT', SPEED_BELOW_3000, '<3000 g', true),
  spin('C', '2-10C', SPEED_BELOW_3000, '<3000 g', false),
  spin('D', '2-10C', SPEED_BELOW_3000, '<3000 g', true),
  spin('E', 'RT', SPEED_3000_6000, '3000–6000 g', true),
  spin('F', '2-10C', SPEED_3000_6000, '3000–6000 g', true),
  spin('G', 'RT', SPEED_6000_10000, '6000–10 000 g', true),
  spin('H', '2-10C', SPEED_6000_10000, '6000–10 000 g', true),
  spin('I', 'RT', SPEED_ABOVE_10000, '>10 000 g', true),
  spin('J', '2-10C', SPEED_ABOVE_10000, '>10 000 g', true),
  value('M', 'room temperature, 30 min, <1000 g, no braking (first centrifugation only)', {
    temperature: 'RT',
    speedG: halfOpen(0, 1000),
    durationMinutes: closed(30, 30),
    brake: false,
    firstOnly: true,
  }),
  sentinel('N', 'notApplicable', 'No centrifugation'),
  UNKNOWN_1,
  OTHER_1,
];

const SECOND_CENTRIFUGATION: readonly SprecEntry<SprecCentrifugationData>[] = CENTRIFUGATION.filter(
  (entry) => entry.sentinel !== null || !entry.data.firstOnly,
);

// Post-centrifugation lists 2–10 °C first (A) and room temperature second (B), the reverse of
// the pre-centrifugation table.
const POST_CENTRIFUGATION: readonly SprecEntry<SprecDelayData>[] = [
  delay('A', '2-10C', 0, 1, '<1 h'),
  delay('B', 'RT', 0, 1, '<1 h'),
  delay('C', '2-10C', 1, 2, '1–2 h'),
  delay('D', 'RT', 1, 2, '1–2 h'),
  delay('E', '2-10C', 2, 8, '2–8 h'),
  delay('F', 'RT', 2, 8, '2–8 h'),
  delay('G', '2-10C', 8, 24, '8–24 h'),
  delay('H', 'RT', 8, 24, '8–24 h'),
  delay('I', '2-10C', 24, null, '>24 h'),
  delay('J', 'RT', 24, null, '>24 h'),
  sentinel('N', 'notApplicable', 'Not applicable'),
  UNKNOWN_1,
  OTHER_1,
];

const T = SPREC_STORAGE_TEMPERATURE_RANGES;

function store(
  code: string,
  meaning: string,
  container: SprecLongTermContainerKind,
  temperaturesC: readonly SprecRange[],
  protocol: SprecStorageProtocol = 'standard',
  opts: EntryOptions = {},
): SprecValueEntry<SprecLongTermStorageData> {
  return value(code, meaning, { container, temperaturesC, protocol }, opts);
}

// Shared by fluid and solid. Long-term storage N is "cryotube, liquid nitrogen after −85 to
// −60 °C", not the not-applicable sentinel.
const LONG_TERM_STORAGE: readonly SprecEntry<SprecLongTermStorageData>[] = [
  store('A', 'PP tube 0.5–2 mL, −85 to −60 °C', 'ppTube05To2mL', [T.ultraLowFreezer]),
  store('B', 'PP tube 0.5–2 mL, −35 to −18 °C', 'ppTube05To2mL', [T.freezer]),
  store('C', 'Cryotube 1–2 mL in liquid nitrogen', 'cryotube1To2mL', [T.cryogenic]),
  store('D', 'Cryotube 1–2 mL, −85 to −60 °C', 'cryotube1To2mL', [T.ultraLowFreezer]),
  store(
    'E',
    'Cryotube 1–2 mL, programmable freezing to <−135 °C',
    'cryotube1To2mL',
    [T.cryogenic],
    'programmableFreezing',
  ),
  store('F', 'Plastic cryo-straw in liquid nitrogen', 'straw', [T.cryogenic]),
  store('G', 'Straw, −85 to −60 °C', 'straw', [T.ultraLowFreezer]),
  store('H', 'Straw, −35 to −18 °C', 'straw', [T.freezer]),
  store('I', 'Straw, programmable freezing to <−135 °C', 'straw', [T.cryogenic], 'programmableFreezing'),
  store('J', 'PP tube ≥5 mL, −85 to −60 °C', 'ppTube5mLPlus', [T.ultraLowFreezer]),
  store('K', 'PP tube ≥5 mL, −35 to −18 °C', 'ppTube5mLPlus', [T.freezer]),
  store('L', 'Microplate, −85 to −60 °C', 'microplate', [T.ultraLowFreezer]),
  store('M', 'Microplate, −35 to −18 °C', 'microplate', [T.freezer]),
  store(
    'N',
    'Cryotube 1–2 mL in liquid nitrogen after −85 to −60 °C',
    'cryotube1To2mL',
    [T.cryogenic],
    'liquidNitrogenAfterUltraLowFreezer',
  ),
  store(
    'O',
    'Straw in liquid nitrogen after −85 to −60 °C',
    'straw',
    [T.cryogenic],
    'liquidNitrogenAfterUltraLowFreezer',
  ),
  store('P', 'Paraffin block, room temperature or 2–10 °C', 'paraffinBlock', [
    T.roomTemperature,
    T.refrigerated,
  ]),
  store('Q', 'Bag in liquid nitrogen', 'bag', [T.cryogenic]),
  store('R', 'Dry technology medium, room temperature', 'dryTechnologyMedium', [T.roomTemperature]),
  store('S', 'PP tube 40–500 µL, −85 to −60 °C', 'ppTube40To500uL', [T.ultraLowFreezer]),
  store('T', 'PP tube 40–500 µL, −35 to −18 °C', 'ppTube40To500uL', [T.freezer]),
  // Conditions unknown, so no temperature band: computation never yields U.
  store('U', 'Paraffin block (conditions not verified)', 'paraffinBlock', [], 'standard', {
    since: '3.0',
    unverified: 'SPREC.md lists U as a v3/v4 paraffin-block code without its storage conditions',
  }),
  store('V', 'PP tube 0.5–2 mL, <−135 °C', 'ppTube05To2mL', [T.cryogenic]),
  store('W', 'PP tube 40–500 µL, <−135 °C', 'ppTube40To500uL', [T.cryogenic]),
  store('Y', 'Original primary container, −85 to −60 °C or −35 to −18 °C', 'originalPrimaryContainer', [
    T.ultraLowFreezer,
    T.freezer,
  ]),
  UNKNOWN_1,
  OTHER_1,
];

// ---- Solid (SPREC v2.0 tables) ----

const SOLID_TYPE_OF_SAMPLE: readonly SprecEntry<null>[] = [
  plain('CEN', 'Fresh cells from non-blood specimen type'),
  plain('CLN', 'Cells from non-blood specimen type, viable'),
  plain('FNA', 'Cells from fine-needle aspirate'),
  plain('HAR', 'Hair'),
  plain('LCM', 'Cells from laser-capture microdissected tissue'),
  plain('PEN', 'Cells from non-blood specimen type, non-viable'),
  plain('PLC', 'Placenta'),
  plain('TIS', 'Solid tissue'),
  plain('TCM', 'Disrupted tissue, non-viable'),
  // v3/v4 add further solid types ("among others") that are not listed in SPREC.md.
  plain('BON', 'Bone', { since: '3.0' }),
  plain('TTH', 'Teeth', { since: '3.0' }),
  OTHER_3,
];

function autopsy(
  code: string,
  fromHours: number,
  toHours: number,
  label: string,
): SprecValueEntry<SprecCollectionData> {
  return value(code, `Autopsy, ${label} post mortem`, {
    procedure: 'autopsy',
    medium: null,
    postMortemIntervalHours: halfOpen(fromHours, toHours),
  });
}

function collection(
  code: string,
  meaning: string,
  procedure: SprecCollectionProcedure,
  medium: SprecCollectionData['medium'] = null,
  opts: EntryOptions = {},
): SprecValueEntry<SprecCollectionData> {
  return value(code, meaning, { procedure, medium, postMortemIntervalHours: null }, opts);
}

const TYPE_OF_COLLECTION: readonly SprecEntry<SprecCollectionData>[] = [
  autopsy('A06', 0, 6, '<6 h'),
  autopsy('A12', 6, 12, '6–12 h'),
  autopsy('A24', 12, 24, '12–24 h'),
  autopsy('A48', 24, 48, '24–48 h'),
  autopsy('A72', 48, 72, '48–72 h'),
  collection('BPS', 'Biopsy', 'biopsy'),
  collection('BCM', 'Biopsy in culture medium', 'biopsy', 'cultureMedium'),
  collection('BSL', 'Biopsy in normal saline or PBS', 'biopsy', 'saline'),
  collection(
    'BTM',
    'Biopsy in low-temperature tissue transport medium',
    'biopsy',
    'lowTemperatureTransportMedium',
  ),
  collection('SRG', 'Surgical excision', 'surgicalExcision'),
  collection('SCM', 'Surgical excision in culture medium', 'surgicalExcision', 'cultureMedium'),
  collection('SSL', 'Surgical excision in normal saline or PBS', 'surgicalExcision', 'saline'),
  collection(
    'STM',
    'Surgical excision in low-temperature tissue transport medium',
    'surgicalExcision',
    'lowTemperatureTransportMedium',
  ),
  collection('VAC', 'Surgical excision in vacuum container', 'surgicalExcision', 'vacuum'),
  collection('ASN', 'Fine-needle aspirate', 'fineNeedleAspirate', null, {
    unverified: 'spelling of the fine-needle aspirate collection code is not verified',
  }),
  collection('PUN', 'Puncture', 'puncture'),
  collection('SWB', 'Swab', 'swab'),
  OTHER_3,
];

function duration(
  code: string,
  fromMinutes: number,
  toMinutes: number | null,
  label: string,
  opts: EntryOptions = {},
): SprecValueEntry<SprecDurationData> {
  return value(code, label, { durationMinutes: halfOpen(fromMinutes, toMinutes) }, opts);
}

// v2.0 bands for warm and cold ischaemia. SPREC v3.0 revised the ischaemia ranges; those revisions
// are not in SPREC.md, so v3.0/v4.0 validate against these letters only (see SPREC_VOCABULARY_GAPS).
const ISCHAEMIA: readonly SprecEntry<SprecDurationData>[] = [
  duration('A', 0, 2, '<2 min'),
  duration('B', 2, 10, '2–10 min'),
  duration('C', 10, 20, '10–20 min'),
  duration('D', 20, 30, '20–30 min'),
  duration('E', 30, 60, '30–60 min'),
  duration('F', 60, null, '>60 min'),
  sentinel('N', 'notApplicable', 'Not applicable'),
  UNKNOWN_1,
  OTHER_1,
];

const FIXATION_TYPE: readonly SprecEntry<null>[] = [
  plain('ACA', 'Non-aldehyde with acetic acid'),
  plain('ALD', 'Aldehyde-based'),
  plain('ALL', 'Allprotect tissue reagent'),
  plain('ETH', 'Alcohol-based'),
  plain('FOR', 'Non-buffered formalin'),
  plain('HST', 'Heat stabilisation'),
  plain('NAA', 'Non-aldehyde without acetic acid'),
  plain('NBF', 'Neutral buffered formalin'),
  plain('OCT', 'Optimum cutting temperature medium'),
  plain('PXT', 'PAXgene tissue'),
  plain('RNL', 'RNAlater'),
  plain('SNP', 'Snap freezing'),
  UNKNOWN_3,
  OTHER_3,
];

const FIXATION_TIME: readonly SprecEntry<SprecDurationData>[] = [
  duration('A', 0, 15, '<15 min'),
  duration('B', 15, 60, '15 min–1 h'),
  duration('C', 1 * HOUR, 4 * HOUR, '1–4 h'),
  duration('D', 4 * HOUR, 8 * HOUR, '4–8 h'),
  duration('E', 8 * HOUR, 24 * HOUR, '8–24 h'),
  duration('F', 24 * HOUR, 48 * HOUR, '24–48 h'),
  duration('G', 48 * HOUR, 72 * HOUR, '48–72 h'),
  sentinel('N', 'notApplicable', 'Not applicable'),
  UNKNOWN_1,
  OTHER_1,
];

/** Every entry of every version, each tagged with `since`. */
export const SPREC_FLUID_CODE_TABLES: SprecFluidTables = {
  typeOfSample: FLUID_TYPE_OF_SAMPLE,
  primaryContainer: PRIMARY_CONTAINER,
  preCentrifugation: PRE_CENTRIFUGATION,
  centrifugation: CENTRIFUGATION,
  secondCentrifugation: SECOND_CENTRIFUGATION,
  postCentrifugation: POST_CENTRIFUGATION,
  longTermStorage: LONG_TERM_STORAGE,
};

export const SPREC_SOLID_CODE_TABLES: SprecSolidTables = {
  typeOfSample: SOLID_TYPE_OF_SAMPLE,
  typeOfCollection: TYPE_OF_COLLECTION,
  warmIschaemia: ISCHAEMIA,
  coldIschaemia: ISCHAEMIA,
  fixationType: FIXATION_TYPE,
  fixationTime: FIXATION_TIME,
  longTermStorage: LONG_TERM_STORAGE,
};

/**
 * Long-term storage letters whose every temperature band lies at or below `celsius` (e.g. -60:
 * ultra-low freezers and liquid nitrogen, but not Y, which also covers -35 to -18 °C, nor U, whose
 * conditions are unknown). Partners ask for material by these (fitness-for-purpose criteria).
 */
export function longTermStorageCodesAtOrBelow(celsius: number): string[] {
  return LONG_TERM_STORAGE.filter(
    (e): e is SprecValueEntry<SprecLongTermStorageData> =>
      e.sentinel === null &&
      e.data.temperaturesC.length > 0 &&
      e.data.temperaturesC.every((r) => r.max !== null && r.max <= celsius),
  ).map((e) => e.code);
}

export function isSprecVersion(candidate: unknown): candidate is SprecVersion {
  return typeof candidate === 'string' && (SPREC_VERSIONS as readonly string[]).includes(candidate);
}

/** True when `version` contains everything introduced in `since`. */
export function sprecVersionIncludes(version: SprecVersion, since: SprecVersion): boolean {
  return SPREC_VERSIONS.indexOf(since) <= SPREC_VERSIONS.indexOf(version);
}

function meaningIn<D>(entry: SprecEntry<D>, version: SprecVersion): string {
  let meaning = entry.meaning;
  for (const later of entry.laterMeanings ?? []) {
    if (sprecVersionIncludes(version, later.since)) meaning = later.meaning;
  }
  return meaning;
}

function tablesFor<M>(tables: SprecTables<M>, version: SprecVersion): SprecTables<M> {
  const out: Partial<Record<keyof M, readonly SprecEntry<unknown>[]>> = {};
  for (const field of Object.keys(tables) as (keyof M)[]) {
    out[field] = tables[field]
      .filter((entry) => sprecVersionIncludes(version, entry.since))
      .map((entry) => ({ ...entry, meaning: meaningIn(entry, version) }));
  }
  return out as SprecTables<M>;
}

export interface SprecVersionVocabulary {
  readonly fluid: SprecFluidTables;
  readonly solid: SprecSolidTables;
}

/** The code tables as they stand in each version, with that version's meanings. */
export const SPREC_VOCABULARY: Readonly<Record<SprecVersion, SprecVersionVocabulary>> = {
  '2.0': {
    fluid: tablesFor(SPREC_FLUID_CODE_TABLES, '2.0'),
    solid: tablesFor(SPREC_SOLID_CODE_TABLES, '2.0'),
  },
  '3.0': {
    fluid: tablesFor(SPREC_FLUID_CODE_TABLES, '3.0'),
    solid: tablesFor(SPREC_SOLID_CODE_TABLES, '3.0'),
  },
  '4.0': {
    fluid: tablesFor(SPREC_FLUID_CODE_TABLES, '4.0'),
    solid: tablesFor(SPREC_SOLID_CODE_TABLES, '4.0'),
  },
};

export interface SprecVocabularyGap {
  readonly versions: readonly SprecVersion[];
  readonly kind: SprecKind;
  readonly fields: readonly SprecField[];
  readonly note: string;
}

/** Places where a version's published table is known to hold more than this vocabulary. */
export const SPREC_VOCABULARY_GAPS: readonly SprecVocabularyGap[] = [
  {
    versions: ['4.0'],
    kind: 'fluid',
    fields: ['centrifugation', 'secondCentrifugation'],
    note: 'SPREC 4.0 centrifugation letters for runs <10 min, 15–60 min, 10 000–80 000 g and ultracentrifugation are not verified and not supported',
  },
  {
    versions: ['3.0', '4.0'],
    kind: 'solid',
    fields: ['warmIschaemia', 'coldIschaemia'],
    note: 'SPREC 3.0 revised the ischaemia ranges; only the v2.0 letters are supported',
  },
  {
    versions: ['3.0', '4.0'],
    kind: 'solid',
    fields: ['typeOfSample'],
    note: 'SPREC 3.0/4.0 add solid sample types beyond BON and TTH that are not yet in this vocabulary',
  },
];

export function sprecVocabularyGap(
  version: SprecVersion,
  kind: SprecKind,
  field: SprecField,
): SprecVocabularyGap | undefined {
  return SPREC_VOCABULARY_GAPS.find(
    (gap) => gap.kind === kind && gap.versions.includes(version) && gap.fields.includes(field),
  );
}

export function sprecTable(
  kind: SprecKind,
  field: SprecField,
  version: SprecVersion,
): readonly SprecEntry<unknown>[] | undefined {
  const vocabulary = SPREC_VOCABULARY[version];
  if (kind === 'fluid') {
    return isFluidField(field) ? vocabulary.fluid[field] : undefined;
  }
  return isSolidField(field) ? vocabulary.solid[field] : undefined;
}

export function isFluidField(field: string): field is SprecFluidField {
  return (SPREC_FLUID_FIELDS as readonly string[]).includes(field);
}

export function isSolidField(field: string): field is SprecSolidField {
  return (SPREC_SOLID_FIELDS as readonly string[]).includes(field);
}

export function findSprecEntry<F extends SprecFluidField>(
  kind: 'fluid',
  field: F,
  code: string,
  version: SprecVersion,
): SprecEntry<SprecFluidDataMap[F]> | undefined;
export function findSprecEntry<F extends SprecSolidField>(
  kind: 'solid',
  field: F,
  code: string,
  version: SprecVersion,
): SprecEntry<SprecSolidDataMap[F]> | undefined;
export function findSprecEntry(
  kind: SprecKind,
  field: SprecField,
  code: string,
  version: SprecVersion,
): SprecEntry<unknown> | undefined {
  return sprecTable(kind, field, version)?.find((entry) => entry.code === code);
}
