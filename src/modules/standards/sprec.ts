// ISBER SPREC (v2.0 2012, v3.0 2018, v4.0 2024) decoding and computation of expected letters
// from recorded times and temperatures. Pure functions over sprec.vocabulary.ts.

import {
  SPREC_FIELD_LABELS,
  SPREC_PROCESSING_TEMPERATURE_RANGES,
  SPREC_PROCESSING_TEMPERATURES,
  SPREC_VERSIONS,
  SPREC_VOCABULARY,
  isInSprecRange,
  isSprecVersion,
  sprecTable,
  sprecVersionIncludes,
  sprecVocabularyGap,
  type SprecCentrifugationData,
  type SprecDelayData,
  type SprecDurationData,
  type SprecEntry,
  type SprecField,
  type SprecFluidField,
  type SprecKind,
  type SprecLongTermContainerKind,
  type SprecProcessingTemperature,
  type SprecSolidField,
  type SprecStorageProtocol,
  type SprecVersion,
} from './sprec.vocabulary.js';

/** Fluid: 17 characters, elements at characters 1–3, 5–7, 9, 11, 13, 15, 17. */
export const SPREC_FLUID_PATTERN = /^[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z]-[A-Z]-[A-Z]-[A-Z]-[A-Z]$/;
/** Solid: 19 characters; element 5 (fixation type) has three letters. */
export const SPREC_SOLID_PATTERN = /^[A-Z0-9]{3}-[A-Z0-9]{3}-[A-Z]-[A-Z]-[A-Z]{3}-[A-Z]-[A-Z]$/;

const ELEMENT_COUNT = 7;

interface ElementSpec<F extends SprecField> {
  readonly field: F;
  readonly length: 1 | 3;
}

const FLUID_LAYOUT: readonly ElementSpec<SprecFluidField>[] = [
  { field: 'typeOfSample', length: 3 },
  { field: 'primaryContainer', length: 3 },
  { field: 'preCentrifugation', length: 1 },
  { field: 'centrifugation', length: 1 },
  { field: 'secondCentrifugation', length: 1 },
  { field: 'postCentrifugation', length: 1 },
  { field: 'longTermStorage', length: 1 },
];

const SOLID_LAYOUT: readonly ElementSpec<SprecSolidField>[] = [
  { field: 'typeOfSample', length: 3 },
  { field: 'typeOfCollection', length: 3 },
  { field: 'warmIschaemia', length: 1 },
  { field: 'coldIschaemia', length: 1 },
  { field: 'fixationType', length: 3 },
  { field: 'fixationTime', length: 1 },
  { field: 'longTermStorage', length: 1 },
];

const LAYOUTS: Readonly<Record<SprecKind, readonly ElementSpec<SprecField>[]>> = {
  fluid: FLUID_LAYOUT,
  solid: SOLID_LAYOUT,
};

export interface SprecDecodedField {
  /** Element index, 1..7. */
  position: number;
  /** 1-based character offset of the element in the code. */
  charStart: number;
  name: SprecField;
  value: string;
  meaning: string;
  unknown: boolean;
  other: boolean;
  notApplicable: boolean;
}

export interface SprecDecodeError {
  position: number | null;
  charStart: number | null;
  field: SprecField | null;
  reason: string;
}

export interface SprecDecodeSuccess {
  valid: true;
  kind: SprecKind;
  version: SprecVersion;
  code: string;
  fields: SprecDecodedField[];
}

export interface SprecDecodeFailure {
  valid: false;
  code: string;
  version: SprecVersion;
  errors: SprecDecodeError[];
}

export type SprecDecodeResult = SprecDecodeSuccess | SprecDecodeFailure;

export interface SprecDecodeOptions {
  expectedKind?: SprecKind;
}

interface Segment {
  readonly text: string;
  readonly charStart: number;
}

function splitSegments(code: string): Segment[] {
  const segments: Segment[] = [];
  let charStart = 1;
  for (const text of code.split('-')) {
    segments.push({ text, charStart });
    charStart += text.length + 1;
  }
  return segments;
}

function otherKind(kind: SprecKind): SprecKind {
  return kind === 'fluid' ? 'solid' : 'fluid';
}

function sampleKinds(sampleType: string, version: SprecVersion): SprecKind[] {
  const vocabulary = SPREC_VOCABULARY[version];
  const kinds: SprecKind[] = [];
  if (vocabulary.fluid.typeOfSample.some((entry) => entry.code === sampleType)) kinds.push('fluid');
  if (vocabulary.solid.typeOfSample.some((entry) => entry.code === sampleType)) kinds.push('solid');
  return kinds;
}

/** Grammar implied by the shape alone: element 5 is one letter (fluid) or three (solid). */
function structuralKind(fifth: Segment | undefined): SprecKind | null {
  if (fifth?.text.length === 1) return 'fluid';
  if (fifth?.text.length === 3) return 'solid';
  return null;
}

function describeStructure(kind: SprecKind, fifth: Segment): string {
  return kind === 'fluid'
    ? `fluid structure (1-letter element 5 '${fifth.text}' at character ${fifth.charStart})`
    : `solid structure (3-letter element 5 '${fifth.text}' at character ${fifth.charStart})`;
}

function introducedLater(
  kind: SprecKind,
  field: SprecField,
  code: string,
  version: SprecVersion,
): SprecVersion | undefined {
  return SPREC_VERSIONS.find(
    (later) =>
      !sprecVersionIncludes(version, later) &&
      (sprecTable(kind, field, later)?.some((entry) => entry.code === code) ?? false),
  );
}

function checkElement(
  segment: Segment,
  spec: ElementSpec<SprecField>,
  position: number,
  kind: SprecKind,
  version: SprecVersion,
): SprecDecodedField | SprecDecodeError {
  const { text, charStart } = segment;
  const { field, length } = spec;
  const label = SPREC_FIELD_LABELS[field];
  const error = (reason: string): SprecDecodeError => ({ position, charStart, field, reason });
  const shape = length === 1 ? 'one letter A–Z' : 'three characters A–Z or 0–9';

  if (text.length === 0) {
    return error(`element ${position} (${label}) is empty; it takes ${shape}`);
  }
  const lowercase = /[a-z]/.exec(text);
  if (lowercase) {
    return error(
      `'${text}' has lowercase '${lowercase[0]}' at character ${charStart + lowercase.index}; SPREC codes are upper case`,
    );
  }
  if (text.length !== length) {
    return error(
      `${label} takes ${shape}; found '${text}' (${text.length} characters) at character ${charStart}`,
    );
  }
  const badChar = (length === 1 ? /[^A-Z]/ : /[^A-Z0-9]/).exec(text);
  if (badChar) {
    return error(
      `'${badChar[0]}' at character ${charStart + badChar.index} is not allowed in ${label}, which takes ${shape}`,
    );
  }

  const table = sprecTable(kind, field, version) ?? [];
  const entry = table.find((candidate) => candidate.code === text);
  if (!entry) {
    const later = introducedLater(kind, field, text, version);
    if (later) {
      return error(
        `'${text}' is not a ${kind} ${label} code in SPREC ${version}; it was introduced in SPREC ${later}`,
      );
    }
    const gap = sprecVocabularyGap(version, kind, field);
    const allowed = table.map((candidate) => candidate.code).join(', ');
    return error(
      `'${text}' is not a ${kind} ${label} code in SPREC ${version} (allowed: ${allowed})` +
        (gap ? `; note: ${gap.note}` : ''),
    );
  }
  return {
    position,
    charStart,
    name: field,
    value: text,
    meaning: entry.meaning,
    unknown: entry.sentinel === 'unknown',
    other: entry.sentinel === 'other',
    notApplicable: entry.sentinel === 'notApplicable',
  };
}

function isDecodeError(item: SprecDecodedField | SprecDecodeError): item is SprecDecodeError {
  return 'reason' in item;
}

type KindResolution = { kind: SprecKind; errors: [] } | { kind: null; errors: SprecDecodeError[] };

function resolveKind(
  segments: readonly Segment[],
  version: SprecVersion,
  expectedKind: SprecKind | undefined,
): KindResolution {
  const [sample, , , , fifth] = segments;
  if (!sample || !fifth) {
    return {
      kind: null,
      errors: [{ position: null, charStart: null, field: null, reason: 'missing elements' }],
    };
  }
  const kinds = sampleKinds(sample.text, version);
  const structure = structuralKind(fifth);
  const sampleError = (reason: string): SprecDecodeError => ({
    position: 1,
    charStart: sample.charStart,
    field: 'typeOfSample',
    reason,
  });

  if (expectedKind) {
    if (kinds.length > 0 && !kinds.includes(expectedKind)) {
      return {
        kind: null,
        errors: [
          sampleError(
            `'${sample.text}' is a ${otherKind(expectedKind)} type of sample in SPREC ${version}; a ${expectedKind} code was expected`,
          ),
        ],
      };
    }
    if (structure && structure !== expectedKind) {
      const field = LAYOUTS[expectedKind][4]?.field ?? null;
      return {
        kind: null,
        errors: [
          {
            position: 5,
            charStart: fifth.charStart,
            field,
            reason: `the code has ${describeStructure(structure, fifth)}; a ${expectedKind} code was expected`,
          },
        ],
      };
    }
    return { kind: expectedKind, errors: [] };
  }

  const [onlyKind] = kinds;
  if (kinds.length === 1 && onlyKind) {
    if (structure && structure !== onlyKind) {
      return {
        kind: null,
        errors: [
          sampleError(
            `'${sample.text}' is a ${onlyKind} type of sample in SPREC ${version}, but the code has ${describeStructure(structure, fifth)}`,
          ),
        ],
      };
    }
    return { kind: onlyKind, errors: [] };
  }
  if (structure) return { kind: structure, errors: [] };
  return {
    kind: null,
    errors: [
      {
        position: 5,
        charStart: fifth.charStart,
        field: null,
        reason: `cannot tell fluid from solid: element 5 '${fifth.text}' must have 1 letter (fluid second centrifugation) or 3 (solid fixation type)`,
      },
    ],
  };
}

/**
 * Decodes a SPREC code against the vocabulary of `version`. Fluid or solid is decided from the
 * type of sample and, for types present in both lists (CEN, CLN, PEN, ZZZ, ...), from element 5.
 * Never throws: malformed input yields `valid: false` with one error per offending element.
 * X/XXX decode as valid with `unknown: true`.
 */
export function decodeSprec(
  code: string,
  version: SprecVersion,
  opts: SprecDecodeOptions = {},
): SprecDecodeResult {
  const fail = (errors: SprecDecodeError[]): SprecDecodeFailure => ({ valid: false, code, version, errors });
  const whole = (reason: string): SprecDecodeError => ({
    position: null,
    charStart: null,
    field: null,
    reason,
  });

  if (!isSprecVersion(version)) {
    return fail([
      whole(`unsupported SPREC version '${String(version)}'; supported: ${SPREC_VERSIONS.join(', ')}`),
    ]);
  }
  if (code.trim().length === 0) {
    return fail([whole('empty code; a SPREC code has 7 elements separated by "-"')]);
  }

  const segments = splitSegments(code);
  if (segments.length !== ELEMENT_COUNT) {
    return fail([
      whole(
        `expected ${ELEMENT_COUNT} elements separated by "-" (fluid: 17 characters, solid: 19), found ${segments.length} in ${code.length} characters`,
      ),
    ]);
  }

  const resolution = resolveKind(segments, version, opts.expectedKind);
  if (resolution.kind === null) return fail(resolution.errors);
  const kind = resolution.kind;

  const fields: SprecDecodedField[] = [];
  const errors: SprecDecodeError[] = [];
  LAYOUTS[kind].forEach((spec, index) => {
    const segment = segments[index];
    if (!segment) return;
    const checked = checkElement(segment, spec, index + 1, kind, version);
    if (isDecodeError(checked)) errors.push(checked);
    else fields.push(checked);
  });

  if (errors.length > 0) return fail(errors);
  return { valid: true, kind, version, code, fields };
}

// ---- Computation of expected letters ----
//
// Bands follow the ISBER SPREC tables and are half-open on elapsed time: "<2 h" is a delay under
// 120 min, "2–4 h" is 120 min up to (not including) 240 min, ">48 h" is 2880 min or more. A value
// on a shared boundary therefore belongs to the later band. A combination the table does not list
// (e.g. 35–38 °C for 3 h, ≥3000 g without brake) is "other" (Z); missing input is unknown (X).
// Negative or non-finite durations and speeds are caller bugs and throw RangeError.

export type SprecTemperatureInput = SprecProcessingTemperature | 'other' | null;

function assertMeasure(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite non-negative number, got ${value}`);
  }
}

function valueEntries<D>(entries: readonly SprecEntry<D>[]): { code: string; data: D }[] {
  const out: { code: string; data: D }[] = [];
  for (const entry of entries) {
    if (entry.sentinel === null) out.push({ code: entry.code, data: entry.data });
  }
  return out;
}

function delayCode(
  entries: readonly SprecEntry<SprecDelayData>[],
  delayMinutes: number | null,
  temperature: SprecTemperatureInput,
): string {
  if (delayMinutes === null || temperature === null) return 'X';
  assertMeasure('delayMinutes', delayMinutes);
  if (temperature === 'other') return 'Z';
  const match = valueEntries(entries).find(
    ({ data }) => data.temperature === temperature && isInSprecRange(delayMinutes, data.delayMinutes),
  );
  return match?.code ?? 'Z';
}

/**
 * Pre-centrifugation letter (ISBER SPREC v2.0+): delay from collection to centrifugation at RT,
 * 2–10 °C or 35–38 °C. 90 min at RT → A; 5 h at RT → E; 35–38 °C exists only for <2 h (O).
 */
export function preCentrifugationCode(
  delayMinutes: number | null,
  temperature: SprecTemperatureInput,
  version: SprecVersion,
): string {
  return delayCode(SPREC_VOCABULARY[version].fluid.preCentrifugation, delayMinutes, temperature);
}

/**
 * Post-centrifugation letter (ISBER SPREC v2.0+): delay from centrifugation to storage. The
 * table lists 2–10 °C before RT (A = 2–10 °C <1 h, B = RT <1 h). Use 'N' when nothing was spun.
 */
export function postCentrifugationCode(
  delayMinutes: number | null,
  temperature: SprecTemperatureInput,
  version: SprecVersion,
): string {
  return delayCode(SPREC_VOCABULARY[version].fluid.postCentrifugation, delayMinutes, temperature);
}

export interface SprecCentrifugationRun {
  speedG: number | null;
  temperature: SprecTemperatureInput;
  durationMinutes: number | null;
  brake: boolean | null;
}

/**
 * Centrifugation letter (ISBER SPREC v2.0/v3.0 table). Speed bands are half-open (<3000 g,
 * 3000 to <6000 g, 6000 to <10 000 g, ≥10 000 g); A–J are 10–15 min runs (inclusive), M is a
 * 30 min RT run below 1000 g without brake and exists for the first centrifugation only.
 * 'none' → N, null → X. SPREC 4.0's extra runs are not verified here and come out as Z.
 */
export function centrifugationCode(
  run: SprecCentrifugationRun | 'none' | null,
  version: SprecVersion,
  which: 'first' | 'second' = 'first',
): string {
  if (run === 'none') return 'N';
  if (run === null) return 'X';
  const { speedG, temperature, durationMinutes, brake } = run;
  if (speedG === null || temperature === null || durationMinutes === null || brake === null) return 'X';
  assertMeasure('speedG', speedG);
  assertMeasure('durationMinutes', durationMinutes);
  if (temperature === 'other') return 'Z';
  const table =
    which === 'first'
      ? SPREC_VOCABULARY[version].fluid.centrifugation
      : SPREC_VOCABULARY[version].fluid.secondCentrifugation;
  const match = valueEntries<SprecCentrifugationData>(table).find(
    ({ data }) =>
      data.temperature === temperature &&
      data.brake === brake &&
      isInSprecRange(speedG, data.speedG) &&
      isInSprecRange(durationMinutes, data.durationMinutes),
  );
  return match?.code ?? 'Z';
}

export interface SprecLongTermStorageOptions {
  /** Defaults to 'standard' (placed directly at the storage temperature). */
  protocol?: SprecStorageProtocol;
  /** Letters common to all versions are used when omitted; computation never yields U. */
  version?: SprecVersion;
}

/**
 * Long-term storage letter (ISBER SPREC v2.0+, shared by fluid and solid). Temperature bands are
 * inclusive: −85 to −60 °C, −35 to −18 °C, ≤−135 °C (liquid nitrogen), 2–10 °C and 15–25 °C (RT).
 * Temperatures between bands → Z; unknown temperature or container → X.
 */
export function longTermStorageCode(
  storageTemperatureC: number | null,
  containerKind?: SprecLongTermContainerKind | null,
  opts: SprecLongTermStorageOptions = {},
): string {
  if (storageTemperatureC === null || containerKind === undefined || containerKind === null) return 'X';
  if (!Number.isFinite(storageTemperatureC)) {
    throw new RangeError(`storageTemperatureC must be finite, got ${storageTemperatureC}`);
  }
  const protocol = opts.protocol ?? 'standard';
  const match = valueEntries(SPREC_VOCABULARY[opts.version ?? '2.0'].fluid.longTermStorage).find(
    ({ data }) =>
      data.container === containerKind &&
      data.protocol === protocol &&
      data.temperaturesC.some((range) => isInSprecRange(storageTemperatureC, range)),
  );
  return match?.code ?? 'Z';
}

function durationCode(
  entries: readonly SprecEntry<SprecDurationData>[],
  minutes: number | null,
  name: string,
): string {
  if (minutes === null) return 'X';
  assertMeasure(name, minutes);
  const match = valueEntries(entries).find(({ data }) => isInSprecRange(minutes, data.durationMinutes));
  return match?.code ?? 'Z';
}

/**
 * Warm or cold ischaemia letter from the ISBER SPREC v2.0 bands (<2, 2–10, 10–20, 20–30, 30–60,
 * >60 min). v3.0 revised these ranges; the revision is not verified here, so v3.0/v4.0 use the
 * v2.0 bands. Use 'N' when not applicable.
 */
export function ischaemiaCode(minutes: number | null, which: 'warm' | 'cold', version: SprecVersion): string {
  const solid = SPREC_VOCABULARY[version].solid;
  return durationCode(which === 'warm' ? solid.warmIschaemia : solid.coldIschaemia, minutes, 'minutes');
}

/**
 * Fixation time letter (ISBER SPREC v2.0): <15 min, 15 min–1 h, 1–4 h, 4–8 h, 8–24 h, 24–48 h,
 * 48–72 h. 72 h or more is not in the table and yields Z.
 */
export function fixationTimeCode(minutes: number | null, version: SprecVersion): string {
  return durationCode(SPREC_VOCABULARY[version].solid.fixationTime, minutes, 'minutes');
}

/**
 * Maps a measured processing temperature to a SPREC band (RT taken as 15–25 °C, see
 * SPREC_PROCESSING_TEMPERATURE_RANGES); outside every band → 'other', unknown → null.
 */
export function classifyProcessingTemperature(celsius: number | null): SprecTemperatureInput {
  if (celsius === null) return null;
  if (!Number.isFinite(celsius)) throw new RangeError(`celsius must be finite, got ${celsius}`);
  const band = SPREC_PROCESSING_TEMPERATURES.find((name) =>
    isInSprecRange(celsius, SPREC_PROCESSING_TEMPERATURE_RANGES[name]),
  );
  return band ?? 'other';
}
