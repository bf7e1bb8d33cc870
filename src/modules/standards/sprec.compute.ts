// SPREC from the record (ISBER SPREC v2.0+; SPREC.md section 4, rules 3 and 4): the code the
// recorded pre-analytical events imply, position by position, each with the basis it was derived
// from, and the positions where it disagrees with the stated code. Pure: no I/O.
//
// What the record holds and what is assumed:
// - Type of sample: from the specimen type (specimen-types.ts). Where SPREC distinguishes variants
//   the record cannot (BUF/BFF viable or not, URN/U24/URM/URT urine timing, CEL/PEL), the stated
//   variant is accepted.
// - Primary container and type of collection are not recorded: X (XXX). A fluid derived from a
//   collection tube (plasma from blood) takes the primary container of the root's stated code.
// - Pre-centrifugation delay: collectedAt -> processedAt at room temperature, unless
//   `quality.preCentrifugationTempC` records the temperature (SPREC_PROCESS_FIELDS).
// - Centrifugation and second centrifugation: X unless the run is recorded in full (speed, minutes,
//   temperature, brake). Whole blood (BLD, CRD, DWB) is never spun: N; single-spun plasma (PL1)
//   has no second spin: N.
// - Post-centrifugation delay: processedAt -> frozenAt at room temperature unless
//   `quality.postCentrifugationTempC` says otherwise; N when nothing was spun; X when the record
//   cannot tell whether the specimen was spun (e.g. urine).
// - Ischaemia and fixation time (solid): from `quality.warmIschaemiaMin`, `coldIschaemiaMin`,
//   `fixationMin` when present, else X. Fixation type follows the specimen type (fresh frozen
//   tissue: SNP, OCT-embedded: OCT); FFPE could be NBF or FOR: XXX.
// - Long-term storage: the temperature of the container holding the specimen (nearest container up
//   the tree with a temperature). The letter also encodes the tube kind, which the record does not
//   hold, so the kind (and freezing protocol) is read from the stated letter and the temperature
//   from the container: a stated B (PP tube, -35 to -18 °C) in a -80 °C freezer implies A.
// - Aliquots inherit positions 1-6 from the parent: the nearest ancestor that is not an aliquot
//   or that states a code; its stated code when valid, else the code its own record implies.
//
// X in either the stated or the computed code is unknown, never a disagreement (SPREC.md 4.5).

import {
  SPECIMEN_TYPE_INFO,
  type SpecimenType,
  type SpecimenTypeInfo,
} from '../../vocabulary/specimen-types.js';
import type { SprecDecodeSuccess } from './sprec.js';
import {
  centrifugationCode,
  classifyProcessingTemperature,
  fixationTimeCode,
  ischaemiaCode,
  longTermStorageCode,
  postCentrifugationCode,
  preCentrifugationCode,
  type SprecCentrifugationRun,
  type SprecTemperatureInput,
} from './sprec.letters.js';
import {
  SPREC_FIELD_LABELS,
  findSprecEntry,
  sprecTable,
  type SprecField,
  type SprecKind,
  type SprecVersion,
} from './sprec.vocabulary.js';

export const DEFAULT_SPREC_VERSION: SprecVersion = '3.0';

/**
 * Pre-analytical facts a lab may record as numbers in `specimen.quality`, beside the quality
 * metrics, so the SPREC positions they decide can be computed rather than left unknown.
 */
export const SPREC_PROCESS_FIELDS = {
  preCentrifugationTempC:
    'temperature between collection and centrifugation, °C (room temperature when absent)',
  centrifugationG: 'first centrifugation speed, g',
  centrifugationMin: 'first centrifugation duration, minutes',
  centrifugationTempC: 'first centrifugation temperature, °C',
  centrifugationBrake: 'first centrifugation braking: 1 with brake, 0 without',
  secondCentrifugationG: 'second centrifugation speed, g',
  secondCentrifugationMin: 'second centrifugation duration, minutes',
  secondCentrifugationTempC: 'second centrifugation temperature, °C',
  secondCentrifugationBrake: 'second centrifugation braking: 1 with brake, 0 without',
  postCentrifugationTempC:
    'temperature between centrifugation and freezing, °C (room temperature when absent)',
  warmIschaemiaMin: 'warm ischaemia time, minutes (solid tissue)',
  coldIschaemiaMin: 'cold ischaemia time, minutes (solid tissue)',
  fixationMin: 'fixation time, minutes (solid tissue)',
} as const;
export type SprecProcessField = keyof typeof SPREC_PROCESS_FIELDS;

// Variants SPREC distinguishes and the record cannot: any of them agrees with the type.
const TYPE_VARIANTS: Partial<Record<SpecimenType, readonly string[]>> = {
  buffy_coat: ['BUF', 'BFF'],
  pbmc: ['CEL', 'PEL'],
  urine: ['URN', 'U24', 'URM', 'URT'],
};
/** Whole blood is not centrifuged by definition. */
const NEVER_SPUN: ReadonlySet<string> = new Set(['BLD', 'CRD', 'DWB']);
/** Separated by centrifugation by definition (so a post-centrifugation delay applies). */
const SPUN: ReadonlySet<string> = new Set(['PL1', 'PL2', 'SER', 'BUF', 'BFF', 'CEL', 'PEL', 'RBC']);
/** Plasma, single spun: no second centrifugation. */
const SINGLE_SPUN: ReadonlySet<string> = new Set(['PL1']);
const FIXATION_BY_TYPE: Partial<Record<SpecimenType, string>> = {
  fresh_frozen_tissue: 'SNP',
  oct_tissue: 'OCT',
};

export interface SprecRecord {
  type: SpecimenType;
  lineage: 'primary' | 'aliquot' | 'derivative';
  collectedAt: Date | null;
  processedAt: Date | null;
  frozenAt: Date | null;
  quality: Readonly<Record<string, number>>;
}

export interface SprecInputs {
  record: SprecRecord;
  /** the specimen's own stated code, when it decodes (it names the tube kind for long-term storage) */
  stated: SprecDecodeSuccess | null;
  /** temperature of the container holding the specimen, null when not stored or not recorded */
  storageTemperatureC: number | null;
  /** for aliquots: the ancestor positions 1-6 come from, with its stated code when valid */
  source: { record: SprecRecord; stated: SprecDecodeSuccess | null } | null;
  /** the lineage root's stated code, when valid (its primary container applies to derived fluids) */
  root: SprecDecodeSuccess | null;
  version: SprecVersion;
}

export interface ComputedPosition {
  position: number;
  field: SprecField;
  value: string;
  /** where the value comes from, in words */
  basis: string;
}

export interface SprecComputation {
  kind: SprecKind;
  version: SprecVersion;
  code: string;
  positions: ComputedPosition[];
  /** inconsistencies in the record found on the way (e.g. processed before collected) */
  notes: string[];
}

export interface SprecDisagreement {
  position: number;
  field: SprecField;
  stated: string;
  statedMeaning: string | null;
  computed: string;
  computedMeaning: string | null;
  basis: string;
}

export interface SprecComparison {
  disagreements: SprecDisagreement[];
  /** positions where both codes are known (compared) */
  compared: number;
  /** positions unknown (X) in the stated or the computed code */
  unknown: number;
}

/** The SPREC kind of a specimen type, or null for extracted analytes (SPREC does not code them). */
export function sprecKindOf(type: SpecimenType): SprecKind | null {
  const info: SpecimenTypeInfo = SPECIMEN_TYPE_INFO[type];
  if (info.sprecTypeOfSample === null || info.category === 'derivative') return null;
  return info.category;
}

/** Type-of-sample codes that agree with the specimen type. */
export function acceptedTypeCodes(type: SpecimenType): readonly string[] {
  const main = SPECIMEN_TYPE_INFO[type].sprecTypeOfSample;
  return TYPE_VARIANTS[type] ?? (main ? [main] : []);
}

export const isUnknownSprecValue = (value: string) => /^X+$/.test(value);

/** "5 h 0 min", "45 min", "3 d 2 h". */
export function formatMinutes(minutes: number): string {
  const m = Math.round(minutes);
  if (m < 60) return `${m} min`;
  if (m < 48 * 60) return `${Math.floor(m / 60)} h ${m % 60} min`;
  return `${Math.floor(m / 1440)} d ${Math.floor((m % 1440) / 60)} h`;
}

const TEMPERATURE_WORDS: Record<Exclude<SprecTemperatureInput, null>, string> = {
  RT: 'room temperature',
  '2-10C': '2–10 °C',
  '35-38C': '35–38 °C',
  other: 'a temperature outside the SPREC bands',
};

const recorded = (q: Readonly<Record<string, number>>, key: SprecProcessField): number | null => {
  const v = q[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};

function minutesBetween(from: Date | null, to: Date | null): number | null {
  if (!from || !to) return null;
  return (to.getTime() - from.getTime()) / 60_000;
}

function temperatureOf(
  q: Readonly<Record<string, number>>,
  key: SprecProcessField,
): { temperature: SprecTemperatureInput; words: string } {
  const c = recorded(q, key);
  if (c === null) return { temperature: 'RT', words: 'room temperature (assumed: no temperature recorded)' };
  const t = classifyProcessingTemperature(c);
  return { temperature: t, words: `${c} °C recorded (${TEMPERATURE_WORDS[t ?? 'other']})` };
}

/** A delay position: X with a note when a time is missing or the times run backwards. */
function delayPosition(
  position: number,
  field: SprecField,
  from: { at: Date | null; name: string },
  to: { at: Date | null; name: string },
  temperature: { temperature: SprecTemperatureInput; words: string },
  code: (minutes: number, t: SprecTemperatureInput) => string,
  notes: string[],
): ComputedPosition {
  const minutes = minutesBetween(from.at, to.at);
  if (minutes === null) {
    const missing = [from.at ? null : from.name, to.at ? null : to.name].filter(Boolean).join(' and ');
    return { position, field, value: 'X', basis: `${missing} not recorded` };
  }
  if (minutes < 0) {
    notes.push(`${to.name} is recorded before ${from.name}`);
    return { position, field, value: 'X', basis: `${to.name} is recorded before ${from.name}` };
  }
  return {
    position,
    field,
    value: code(minutes, temperature.temperature),
    basis: `${formatMinutes(minutes)} from ${from.name} to ${to.name} at ${temperature.words}`,
  };
}

function recordedRun(
  q: Readonly<Record<string, number>>,
  which: 'first' | 'second',
): SprecCentrifugationRun | null {
  const p = which === 'first' ? 'centrifugation' : 'secondCentrifugation';
  const speedG = recorded(q, `${p}G` as SprecProcessField);
  const durationMinutes = recorded(q, `${p}Min` as SprecProcessField);
  const tempC = recorded(q, `${p}TempC` as SprecProcessField);
  const brake = recorded(q, `${p}Brake` as SprecProcessField);
  if (speedG === null || durationMinutes === null || tempC === null || brake === null) return null;
  if (speedG < 0 || durationMinutes < 0) return null;
  return { speedG, durationMinutes, temperature: classifyProcessingTemperature(tempC), brake: brake !== 0 };
}

function centrifugationPosition(
  position: number,
  field: SprecField,
  typeCode: string,
  q: Readonly<Record<string, number>>,
  which: 'first' | 'second',
  version: SprecVersion,
): ComputedPosition {
  if (NEVER_SPUN.has(typeCode))
    return { position, field, value: 'N', basis: `${typeCode} (whole blood) is not centrifuged` };
  if (which === 'second' && SINGLE_SPUN.has(typeCode))
    return { position, field, value: 'N', basis: `${typeCode} is plasma spun once` };
  const run = recordedRun(q, which);
  if (!run) return { position, field, value: 'X', basis: 'centrifugation not recorded' };
  return {
    position,
    field,
    value: centrifugationCode(run, version, which),
    basis: `recorded run: ${run.speedG} g, ${run.durationMinutes} min, ${run.brake ? 'with' : 'no'} brake`,
  };
}

/** Positions 1-6 from one specimen's own record. */
function ownLeadingPositions(
  record: SprecRecord,
  kind: SprecKind,
  statedTypeCode: string | null,
  root: SprecDecodeSuccess | null,
  version: SprecVersion,
  notes: string[],
): ComputedPosition[] {
  const accepted = acceptedTypeCodes(record.type);
  const typeCode =
    statedTypeCode && accepted.includes(statedTypeCode) ? statedTypeCode : (accepted[0] ?? 'ZZZ');
  const q = record.quality;
  const typeOfSample: ComputedPosition = {
    position: 1,
    field: 'typeOfSample',
    value: typeCode,
    basis: `specimen type ${record.type}`,
  };
  if (kind === 'solid') {
    const duration = (
      position: number,
      field: SprecField,
      key: SprecProcessField,
      code: (m: number) => string,
    ) => {
      const m = recorded(q, key);
      return m === null || m < 0
        ? { position, field, value: 'X', basis: `${key} not recorded` }
        : { position, field, value: code(m), basis: `${formatMinutes(m)} recorded` };
    };
    const fixation = FIXATION_BY_TYPE[record.type];
    return [
      typeOfSample,
      { position: 2, field: 'typeOfCollection', value: 'XXX', basis: 'type of collection not recorded' },
      duration(3, 'warmIschaemia', 'warmIschaemiaMin', (m) => ischaemiaCode(m, 'warm', version)),
      duration(4, 'coldIschaemia', 'coldIschaemiaMin', (m) => ischaemiaCode(m, 'cold', version)),
      fixation
        ? { position: 5, field: 'fixationType', value: fixation, basis: `specimen type ${record.type}` }
        : { position: 5, field: 'fixationType', value: 'XXX', basis: 'fixation not recorded' },
      duration(6, 'fixationTime', 'fixationMin', (m) => fixationTimeCode(m, version)),
    ];
  }
  const container: ComputedPosition =
    record.lineage === 'derivative' && root?.kind === 'fluid' && root.fields[1]
      ? {
          position: 2,
          field: 'primaryContainer',
          value: root.fields[1].value,
          basis: `collection tube of the lineage root (${root.code})`,
        }
      : { position: 2, field: 'primaryContainer', value: 'XXX', basis: 'primary container not recorded' };
  const pre = delayPosition(
    3,
    'preCentrifugation',
    { at: record.collectedAt, name: 'collection' },
    { at: record.processedAt, name: 'processing' },
    temperatureOf(q, 'preCentrifugationTempC'),
    (m, t) => preCentrifugationCode(m, t, version),
    notes,
  );
  const first = centrifugationPosition(4, 'centrifugation', typeCode, q, 'first', version);
  const second = centrifugationPosition(5, 'secondCentrifugation', typeCode, q, 'second', version);
  let post: ComputedPosition;
  if (first.value === 'N') {
    post = { position: 6, field: 'postCentrifugation', value: 'N', basis: 'not centrifuged' };
  } else if (SPUN.has(typeCode) || !isUnknownSprecValue(first.value)) {
    post = delayPosition(
      6,
      'postCentrifugation',
      { at: record.processedAt, name: 'processing' },
      { at: record.frozenAt, name: 'freezing' },
      temperatureOf(q, 'postCentrifugationTempC'),
      (m, t) => postCentrifugationCode(m, t, version),
      notes,
    );
  } else {
    post = {
      position: 6,
      field: 'postCentrifugation',
      value: 'X',
      basis: 'the record does not say whether it was centrifuged',
    };
  }
  return [typeOfSample, container, pre, first, second, post];
}

function longTermStoragePosition(inputs: SprecInputs): ComputedPosition {
  const field: SprecField = 'longTermStorage';
  const temp = inputs.storageTemperatureC;
  if (temp === null) return { position: 7, field, value: 'X', basis: 'storage temperature not recorded' };
  const letter = inputs.stated?.fields[6]?.value;
  const entry = letter ? findSprecEntry('fluid', 'longTermStorage', letter, inputs.version) : undefined;
  if (!entry || entry.sentinel !== null) {
    return {
      position: 7,
      field,
      value: 'X',
      basis: `stored at ${temp} °C; the tube kind is not recorded (no stated long-term storage letter)`,
    };
  }
  const { container, protocol } = entry.data;
  let value = longTermStorageCode(temp, container, { protocol, version: inputs.version });
  // A freezing protocol that cannot reach this temperature: the tube is simply stored there.
  if (value === 'Z' && protocol !== 'standard')
    value = longTermStorageCode(temp, container, { version: inputs.version });
  return {
    position: 7,
    field,
    value,
    basis: `stored at ${temp} °C in the tube kind the stated letter ${letter} names`,
  };
}

/**
 * The SPREC code the record implies, or null for types SPREC does not code (extracted analytes).
 * Never throws on odd data: missing or backwards times give X with a note.
 */
export function computeSprec(inputs: SprecInputs): SprecComputation | null {
  const { record, version } = inputs;
  const kind = sprecKindOf(record.type);
  if (!kind) return null;
  const notes: string[] = [];
  const statedType = inputs.stated?.kind === kind ? (inputs.stated.fields[0]?.value ?? null) : null;
  let leading: ComputedPosition[];
  const source = inputs.source;
  if (record.lineage === 'aliquot' && source) {
    const sourceStated = source.stated?.kind === kind ? source.stated : null;
    leading = sourceStated
      ? sourceStated.fields.slice(0, 6).map((f) => ({
          position: f.position,
          field: f.name,
          value: f.value,
          basis: `inherited from the parent's stated code ${sourceStated.code}`,
        }))
      : ownLeadingPositions(source.record, kind, statedType, inputs.root, version, notes).map((p) => ({
          ...p,
          basis: `inherited from the parent's record: ${p.basis}`,
        }));
  } else {
    leading = ownLeadingPositions(record, kind, statedType, inputs.root, version, notes);
  }
  const positions = [...leading, longTermStoragePosition(inputs)];
  return { kind, version, code: positions.map((p) => p.value).join('-'), positions, notes };
}

function meaningOf(kind: SprecKind, field: SprecField, value: string, version: SprecVersion): string | null {
  return sprecTable(kind, field, version)?.find((e) => e.code === value)?.meaning ?? null;
}

/**
 * Positions where the stated code and the computed one disagree. X on either side is unknown and
 * skipped; the stated type of sample agrees when it is a variant the specimen type allows.
 */
export function compareSprec(stated: SprecDecodeSuccess, computed: SprecComputation): SprecComparison {
  const disagreements: SprecDisagreement[] = [];
  let compared = 0;
  let unknown = 0;
  for (const c of computed.positions) {
    const s = stated.fields[c.position - 1];
    if (!s) continue;
    if (isUnknownSprecValue(s.value) || isUnknownSprecValue(c.value)) {
      unknown++;
      continue;
    }
    compared++;
    if (s.value === c.value) continue;
    disagreements.push({
      position: c.position,
      field: c.field,
      stated: s.value,
      statedMeaning: s.meaning,
      computed: c.value,
      computedMeaning: meaningOf(computed.kind, c.field, c.value, computed.version),
      basis: c.basis,
    });
  }
  return { disagreements, compared, unknown };
}

/** "position 3 (pre-centrifugation delay): stated A (<2 h at room temperature), the record implies E (...): basis". */
export function describeDisagreement(d: SprecDisagreement): string {
  const label = SPREC_FIELD_LABELS[d.field];
  const stated = d.statedMeaning ? `${d.stated} (${d.statedMeaning})` : d.stated;
  const computed = d.computedMeaning ? `${d.computed} (${d.computedMeaning})` : d.computed;
  return `position ${d.position} (${label}): stated ${stated}, the record implies ${computed}: ${d.basis}`;
}
