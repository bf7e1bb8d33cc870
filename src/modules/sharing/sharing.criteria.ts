// Fitness-for-purpose criteria (issue 10, point 3): what a partner means by "fit" for its study,
// as one zod schema (requests store it; the catalogue filters with it) and a compiler to SQL over
// the shareable-specimens read model (`s` the specimen, `d` its donor). Each criterion compiles
// to its own predicate, so a caller can AND them all (a proposal) or count, per criterion, how many
// specimens that criterion alone excludes (the catalogue, with `excludedBy`). SPREC letters
// follow ISBER SPREC (shared/SPREC.md): pre-centrifugation is position 9 of a fluid code, long-term
// storage the last letter of either grammar.
import { sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { pgArray } from '../../db/array-literals.js';
import { ICD10_CHAPTERS, ICD10_CHAPTER_NUMERALS } from '../../vocabulary/icd10-chapters.js';
import { SPECIMEN_TYPES, SPECIMEN_UNITS, type SpecimenUnit } from '../../vocabulary/specimen-types.js';
import { SEXES } from '../participants/index.js';
import { longTermStorageCodesAtOrBelow } from '../standards/index.js';

const sprecLetters = z
  .array(z.string().regex(/^[A-Z]$/, 'one SPREC letter, A-Z'))
  .min(1)
  .max(26);

export const quantityInput = z
  .object({
    value: z.number().positive().max(1e9),
    unit: z.enum(SPECIMEN_UNITS),
  })
  .strict();
export type QuantityInput = z.infer<typeof quantityInput>;

/** An ICD-10 code (`C50`, `C50.9`: the code and every more specific one) or a chapter numeral (`II`). */
const diagnosis = z
  .string()
  .trim()
  .toUpperCase()
  .refine(
    (v) => /^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$/.test(v) || ICD10_CHAPTER_NUMERALS.includes(v),
    'an ICD-10 code such as C50.9 or a chapter numeral such as II',
  );

export const criteriaSchema = z
  .object({
    specimenTypes: z.array(z.enum(SPECIMEN_TYPES)).min(1).max(SPECIMEN_TYPES.length).optional(),
    minAvailableQuantity: quantityInput
      .optional()
      .describe('at least this much left in the tube (mL and uL, mg and ug compare with each other)'),
    maxFreezeThawCount: z.number().int().min(0).max(1000).optional(),
    sprec: z
      .object({
        preCentrifugation: sprecLetters
          .optional()
          .describe('SPREC pre-centrifugation delay letters accepted (fluids), e.g. ["A", "B"] for < 2 h'),
        longTermStorage: sprecLetters.optional().describe('SPREC long-term storage letters accepted'),
        longTermStorageAtOrBelowC: z
          .number()
          .int()
          .min(-273)
          .max(40)
          .optional()
          .describe('long-term storage at or below this temperature, e.g. -60 (by the SPREC storage letter)'),
      })
      .strict()
      .optional(),
    qcPassed: z.boolean().optional().describe('true: only specimens whose quality checks passed'),
    collectedFrom: z.iso.date().optional().describe('collected on or after this day (UTC)'),
    collectedTo: z.iso.date().optional().describe('collected on or before this day (UTC)'),
    diagnoses: z.array(diagnosis).min(1).max(50).optional().describe("any of the donor's diagnoses"),
    sex: z.array(z.enum(SEXES)).min(1).max(SEXES.length).optional(),
    ageBands: z
      .array(z.number().int().min(0).max(120).multipleOf(10))
      .min(1)
      .max(13)
      .optional()
      .describe('ages at collection by 10-year band, given by the band start: 40 is 40 to 49'),
  })
  .strict()
  .refine((c) => !c.collectedFrom || !c.collectedTo || c.collectedFrom <= c.collectedTo, {
    path: ['collectedTo'],
    message: 'before collectedFrom',
  });
export type Criteria = z.infer<typeof criteriaSchema>;

/** The criteria a compiled predicate can stand for, named as the field of the document. */
export const CRITERION_FIELDS = [
  'specimenTypes',
  'minAvailableQuantity',
  'maxFreezeThawCount',
  'sprec.preCentrifugation',
  'sprec.longTermStorage',
  'sprec.longTermStorageAtOrBelowC',
  'qcPassed',
  'collectedFrom',
  'collectedTo',
  'diagnoses',
  'sex',
  'ageBands',
] as const;
export type CriterionField = (typeof CRITERION_FIELDS)[number];

export interface CompiledCriterion {
  field: CriterionField;
  /**
   * True when the specimen meets this criterion; null (a missing value: no SPREC code, no donor)
   * when it cannot, which a WHERE treats as false. Left bare so the planner can estimate it.
   */
  predicate: SQL;
}

/** True when the criterion excludes the specimen, a missing value included (never null). */
export const excludedBy = (c: CompiledCriterion): SQL => sql`not coalesce(${c.predicate}, false)`;

// Units that compare with each other, by how many of the smaller one the larger holds.
const UNIT_SCALE: Partial<Record<SpecimenUnit, { base: SpecimenUnit; factor: number }>> = {
  mL: { base: 'uL', factor: 1000 },
  uL: { base: 'uL', factor: 1 },
  mg: { base: 'ug', factor: 1000 },
  ug: { base: 'ug', factor: 1 },
};

/** `s` holds at least `q` (in its own unit, or one that converts to it). */
export function quantityAtLeast(q: QuantityInput): SQL {
  const scale = UNIT_SCALE[q.unit];
  if (!scale) return sql`(s.unit = ${q.unit} and s.available_quantity >= ${q.value})`;
  const inBase = q.value * scale.factor;
  const alternatives = Object.entries(UNIT_SCALE)
    .filter(([, v]) => v.base === scale.base)
    .map(([unit, v]) => sql`(s.unit = ${unit} and s.available_quantity >= ${inBase / v.factor})`);
  return sql`(${sql.join(alternatives, sql` or `)})`;
}

const SPREC_FLUID_LENGTH = 17;
const SPREC_SOLID_LENGTH = 19;

function diagnosisMatch(codes: string[]): SQL {
  const parts = codes.map((code) => {
    const chapter = ICD10_CHAPTERS.find((c) => c.chapter === code);
    return chapter
      ? sql`upper(substr(dx, 1, 3)) between ${chapter.first} and ${chapter.last}`
      : sql`(upper(dx) = ${code} or upper(dx) like ${`${code}${code.includes('.') ? '' : '.'}%`})`;
  });
  return sql`exists (select 1 from unnest(d.diagnoses) as dx where ${sql.join(parts, sql` or `)})`;
}

/** One predicate per criterion given, in CRITERION_FIELDS order. */
export function compileCriteria(c: Criteria): CompiledCriterion[] {
  const out: CompiledCriterion[] = [];
  const add = (field: CriterionField, predicate: SQL) => out.push({ field, predicate });
  if (c.specimenTypes) add('specimenTypes', sql`s.type = any(${pgArray(c.specimenTypes)}::specimen_type[])`);
  if (c.minAvailableQuantity) add('minAvailableQuantity', quantityAtLeast(c.minAvailableQuantity));
  if (c.maxFreezeThawCount !== undefined)
    add('maxFreezeThawCount', sql`s.freeze_thaw_count <= ${c.maxFreezeThawCount}`);
  if (c.sprec?.preCentrifugation)
    add(
      'sprec.preCentrifugation',
      sql`length(s.sprec_code) = ${SPREC_FLUID_LENGTH}
          and substr(s.sprec_code, 9, 1) = any(${pgArray(c.sprec.preCentrifugation)}::text[])`,
    );
  const lastLetter = (letters: string[]) =>
    sql`length(s.sprec_code) in (${SPREC_FLUID_LENGTH}, ${SPREC_SOLID_LENGTH})
        and right(s.sprec_code, 1) = any(${pgArray(letters)}::text[])`;
  if (c.sprec?.longTermStorage) add('sprec.longTermStorage', lastLetter(c.sprec.longTermStorage));
  if (c.sprec?.longTermStorageAtOrBelowC !== undefined)
    add(
      'sprec.longTermStorageAtOrBelowC',
      lastLetter(longTermStorageCodesAtOrBelow(c.sprec.longTermStorageAtOrBelowC)),
    );
  if (c.qcPassed) add('qcPassed', sql`s.qc_status = 'pass'`);
  if (c.collectedFrom)
    add('collectedFrom', sql`s.collected_at >= ${c.collectedFrom}::timestamp at time zone 'UTC'`);
  // Inclusive: before the start of the next UTC day.
  if (c.collectedTo)
    add('collectedTo', sql`s.collected_at < (${c.collectedTo}::date + 1)::timestamp at time zone 'UTC'`);
  if (c.diagnoses) add('diagnoses', diagnosisMatch(c.diagnoses));
  if (c.sex) add('sex', sql`d.sex = any(${pgArray(c.sex)}::participant_sex[])`);
  if (c.ageBands) {
    // Age at collection from the birth year alone (donors' birth dates are not kept): the year
    // of collection minus the birth year.
    const age = sql`(extract(year from s.collected_at at time zone 'UTC')::int - d.birth_year)`;
    add('ageBands', sql`(${age} / 10) * 10 = any(${`{${c.ageBands.join(',')}}`}::int[]) and ${age} >= 0`);
  }
  return out;
}

/** Every criterion at once: true when the specimen meets them all. */
export function criteriaPredicate(c: Criteria): SQL {
  const parts = compileCriteria(c).map((p) => p.predicate);
  return parts.length ? sql.join(parts, sql` and `) : sql`true`;
}
