// ISBER SPREC (v2.0 2012, v3.0 2018, v4.0 2024) decoding: a code checked element by element
// against the vocabulary of its version. Pure functions over sprec.vocabulary.ts; the letters a
// record implies are computed in sprec.letters.ts.

import {
  SPREC_FIELD_LABELS,
  SPREC_VERSIONS,
  SPREC_VOCABULARY,
  isSprecVersion,
  sprecTable,
  sprecVersionIncludes,
  sprecVocabularyGap,
  type SprecField,
  type SprecFluidField,
  type SprecKind,
  type SprecSolidField,
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
