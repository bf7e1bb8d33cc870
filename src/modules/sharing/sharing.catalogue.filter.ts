// The fitness-for-purpose criteria over a catalogue snapshot: for each fact row, which criteria
// it fails, as bits (criterion j of `compileCriteria`'s order is bit j). The criteria mean here
// what `compileCriteria` makes them mean in SQL for proposals (test/sharing-catalogue.test.ts
// holds the two equal on real rows), with collection dates by whole years (the catalogue answers
// nothing finer than a year). One tight loop per criterion over typed columns: a million rows
// take milliseconds.
import { ICD10_CHAPTER_NUMERALS } from '../../vocabulary/icd10-chapters.js';
import { SPECIMEN_TYPES, SPECIMEN_UNITS, type SpecimenUnit } from '../../vocabulary/specimen-types.js';
import { SEXES } from '../participants/index.js';
import { longTermStorageCodesAtOrBelow } from '../standards/index.js';
import { compileCriteria, type Criteria } from './sharing.criteria.js';
import type { CatalogueSnapshot } from './sharing.catalogue.snapshot.js';

/** The mask bit of a row whose consent does not permit the use: not shareable at all. */
export const NOT_SHAREABLE = 1 << 15;

// mL and uL, mg and ug compare with each other (as `quantityAtLeast` in sharing.criteria.ts).
const UNIT_SCALE: Partial<Record<SpecimenUnit, { base: SpecimenUnit; factor: number }>> = {
  mL: { base: 'uL', factor: 1000 },
  uL: { base: 'uL', factor: 1 },
  mg: { base: 'ug', factor: 1000 },
  ug: { base: 'ug', factor: 1 },
};

const lookup = (size: number, on: readonly number[]) => {
  const table = new Uint8Array(size);
  for (const i of on) if (i >= 0 && i < size) table[i] = 1;
  return table;
};
/** SPREC letters as a table by char code; code 0 (no letter) is never on. */
const letters = (list: readonly string[]) =>
  lookup(
    128,
    list.map((l) => l.charCodeAt(0)),
  );

/** An ICD-10 code matches itself and every more specific code (`like` in the SQL compiler). */
function diagnosisMatcher(codes: readonly string[]): (dx: string) => boolean {
  const tests = codes.map((code) => {
    const prefix = `${code}${code.includes('.') ? '' : '.'}`;
    return (dx: string) => dx === code || dx.startsWith(prefix);
  });
  return (dx) => tests.some((t) => t(dx));
}

/** The least each unit must hold for `minAvailableQuantity`, computed as the SQL compiler does; NaN: never. */
function leastByUnit(q: NonNullable<Criteria['minAvailableQuantity']>): Float64Array {
  const least = new Float64Array(SPECIMEN_UNITS.length).fill(Number.NaN);
  const scale = UNIT_SCALE[q.unit];
  if (!scale) least[SPECIMEN_UNITS.indexOf(q.unit)] = q.value;
  else {
    const inBase = q.value * scale.factor;
    for (const [unit, v] of Object.entries(UNIT_SCALE))
      if (v.base === scale.base) least[SPECIMEN_UNITS.indexOf(unit as SpecimenUnit)] = inBase / v.factor;
  }
  return least;
}

// Small loops, each used for one kind of column, so V8 keeps every one of them monomorphic.

/** Fails rows whose value is off in `on` (categories, SPREC letters by char code). */
function failUnless(
  mask: Uint16Array,
  bit: number,
  col: Uint8Array,
  on: Uint8Array,
  start: number,
  end: number,
) {
  for (let i = start; i < end; i++) if (on[col[i]!] !== 1) mask[i]! |= bit;
}

/** The same over a column where a negative value is unknown (donors, ages): fails. */
function failUnlessKnown(
  mask: Uint16Array,
  bit: number,
  col: Int32Array,
  on: Uint8Array,
  start: number,
  end: number,
) {
  for (let i = start; i < end; i++) {
    const v = col[i]!;
    if (v < 0 || on[v] !== 1) mask[i]! |= bit;
  }
}

/** Fails rows whose value is unknown (negative) or outside [lo, hi]. */
function failOutside(
  mask: Uint16Array,
  bit: number,
  col: Int32Array,
  lo: number,
  hi: number,
  start: number,
  end: number,
) {
  for (let i = start; i < end; i++) {
    const v = col[i]!;
    if (v < 0 || v < lo || v > hi) mask[i]! |= bit;
  }
}

/** Fails rows holding less than their unit's least (NaN: a unit that never qualifies). */
function failBelow(
  mask: Uint16Array,
  bit: number,
  s: CatalogueSnapshot,
  least: Float64Array,
  start: number,
  end: number,
) {
  const quantity = s.quantity;
  const unit = s.unit;
  for (let i = start; i < end; i++) if (!(quantity[i]! >= least[unit[i]!]!)) mask[i]! |= bit;
}

/** Per-donor answers as a table by donor index (no donor: fails). */
function byDonor(s: CatalogueSnapshot, keep: (d: number) => boolean): Uint8Array {
  const table = new Uint8Array(s.donors.sex.length);
  for (let d = 0; d < table.length; d++) if (keep(d)) table[d] = 1;
  return table;
}

/**
 * Sets, for rows [start, end), bit j of `mask` when the row fails criterion j (the order of
 * `compileCriteria`), and NOT_SHAREABLE when consent does not permit the use (`useBit`).
 */
export function failMasks(
  s: CatalogueSnapshot,
  c: Criteria,
  useBit: number,
  mask: Uint16Array,
  start: number,
  end: number,
): void {
  const uses = s.uses;
  for (let i = start; i < end; i++) mask[i] = (uses[i]! & useBit) === 0 ? NOT_SHAREABLE : 0;
  compileCriteria(c).forEach(({ field }, j) => {
    const bit = 1 << j;
    switch (field) {
      case 'specimenTypes':
        return failUnless(
          mask,
          bit,
          s.type,
          lookup(
            SPECIMEN_TYPES.length,
            c.specimenTypes!.map((t) => SPECIMEN_TYPES.indexOf(t)),
          ),
          start,
          end,
        );
      case 'minAvailableQuantity':
        return failBelow(mask, bit, s, leastByUnit(c.minAvailableQuantity!), start, end);
      case 'maxFreezeThawCount':
        return failOutside(mask, bit, s.freezeThaw, 0, c.maxFreezeThawCount!, start, end);
      case 'sprec.preCentrifugation':
        return failUnless(mask, bit, s.preCentrifugation, letters(c.sprec!.preCentrifugation!), start, end);
      case 'sprec.longTermStorage':
        return failUnless(mask, bit, s.longTermStorage, letters(c.sprec!.longTermStorage!), start, end);
      case 'sprec.longTermStorageAtOrBelowC':
        return failUnless(
          mask,
          bit,
          s.longTermStorage,
          letters(longTermStorageCodesAtOrBelow(c.sprec!.longTermStorageAtOrBelowC!)),
          start,
          end,
        );
      case 'qcPassed':
        return failUnless(mask, bit, s.qcPassed, lookup(2, [1]), start, end);
      // By whole years; an unknown year fails both.
      case 'collectedFrom':
        return failOutside(
          mask,
          bit,
          s.collectedYear,
          Number(c.collectedFrom!.slice(0, 4)),
          Number.MAX_SAFE_INTEGER,
          start,
          end,
        );
      case 'collectedTo':
        return failOutside(mask, bit, s.collectedYear, 0, Number(c.collectedTo!.slice(0, 4)), start, end);
      case 'diagnoses': {
        let chapters = 0;
        for (const d of c.diagnoses!)
          if (ICD10_CHAPTER_NUMERALS.includes(d)) chapters |= 1 << ICD10_CHAPTER_NUMERALS.indexOf(d);
        const codes = c.diagnoses!.filter((d) => !ICD10_CHAPTER_NUMERALS.includes(d));
        const match = diagnosisMatcher(codes);
        const { chapterMask, diagnoses } = s.donors;
        const keep = byDonor(
          s,
          (d) => (chapterMask[d]! & chapters) !== 0 || (codes.length > 0 && diagnoses[d]!.some(match)),
        );
        return failUnlessKnown(mask, bit, s.donor, keep, start, end);
      }
      case 'sex': {
        const on = lookup(
          SEXES.length,
          c.sex!.map((x) => SEXES.indexOf(x)),
        );
        return failUnlessKnown(
          mask,
          bit,
          s.donor,
          byDonor(s, (d) => s.donors.sex[d]! >= 0 && on[s.donors.sex[d]!] === 1),
          start,
          end,
        );
      }
      case 'ageBands': {
        // A table by age in years: the bands' years on.
        const on = new Uint8Array(1024);
        for (const band of c.ageBands!) on.fill(1, band, band + 10);
        return failUnlessKnown(mask, bit, s.age, on, start, end);
      }
    }
  });
}
