// Counting a catalogue question over a snapshot, exactly (disclosure control comes after, in
// sharing.catalogue.disclosure.ts). Samples are counted as the MIABIS export counts them: a
// lineage root and everything aliquoted or derived from it are one sample, so a sample fits when
// one of its tubes fits every criterion. Donors are distinct participants. "Excluded by a
// criterion alone": samples (donors) that do not fit, but would if that criterion were dropped.
//
// The criteria mean here what `compileCriteria` makes them mean in SQL for proposals
// (test/sharing-catalogue.test.ts holds the two equal on real rows), with collection dates taken
// by whole years: the catalogue answers nothing finer than a year (sharing.catalogue.schemas.ts).
import { USES, type Use } from '../../vocabulary/uses.js';
import { DISEASE_AREAS } from '../../vocabulary/disease-areas.js';
import { ICD10_CHAPTERS, ICD10_CHAPTER_NUMERALS } from '../../vocabulary/icd10-chapters.js';
import { SPECIMEN_TYPES, SPECIMEN_UNITS, type SpecimenUnit } from '../../vocabulary/specimen-types.js';
import { SEXES } from '../participants/index.js';
import { MIABIS_STORAGE_TEMPERATURES, longTermStorageCodesAtOrBelow } from '../standards/index.js';
import { compileCriteria, type Criteria, type CriterionField } from './sharing.criteria.js';
import type { CatalogueSnapshot } from './sharing.catalogue.snapshot.js';

export const CATALOGUE_DIMENSIONS = [
  'provider',
  'specimenType',
  'diagnosis',
  'diagnosisChapter',
  'anatomicSite',
  'sex',
  'ageBand',
  'storageTemperature',
  'diseaseArea',
] as const;
export type CatalogueDimension = (typeof CATALOGUE_DIMENSIONS)[number];

export interface Counts {
  samples: number;
  donors: number;
}
export type GroupKey = Partial<Record<CatalogueDimension, string | number | null>>;

export interface CatalogueCount {
  /** shareable for the use: before any criterion */
  shareable: Counts;
  fit: Counts;
  excludedBy: ({ criterion: CriterionField } & Counts)[];
  /** the groups `listed` accepts, largest first */
  groups: ({ key: GroupKey } & Counts)[];
}

export interface CatalogueQuestion {
  providerIds: readonly string[];
  use: Use;
  criteria: Criteria;
  groupBy: readonly CatalogueDimension[];
  /** whether a group's exact counts let it be named (disclosure rule) */
  listed: (c: Counts) => boolean;
}

type RowTest = (i: number) => boolean;

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
const letters = (list: readonly string[]) =>
  lookup(
    128,
    list.map((l) => l.charCodeAt(0)),
  );

function diagnosisMatcher(codes: readonly string[]): (dx: string) => boolean {
  const tests = codes.map((code) => {
    const ch = ICD10_CHAPTER_NUMERALS.indexOf(code);
    if (ch >= 0) {
      const chapter = code;
      return (dx: string) => chapterOfCategory(dx.slice(0, 3)) === chapter;
    }
    const prefix = `${code}${code.includes('.') ? '' : '.'}`;
    return (dx: string) => dx === code || dx.startsWith(prefix);
  });
  return (dx) => tests.some((t) => t(dx));
}

/** The chapter whose range holds a three-character category (`between first and last` in SQL). */
function chapterOfCategory(category: string): string | null {
  return ICD10_CHAPTERS.find((c) => category >= c.first && category <= c.last)?.chapter ?? null;
}

/** One test per criterion given, in the order `compileCriteria` gives them. */
function rowTests(s: CatalogueSnapshot, c: Criteria): { field: CriterionField; test: RowTest }[] {
  const donorTest =
    (keep: Uint8Array): RowTest =>
    (i) =>
      s.donor[i]! >= 0 && keep[s.donor[i]!] === 1;
  const testFor = (field: CriterionField): RowTest => {
    switch (field) {
      case 'specimenTypes': {
        const on = lookup(
          SPECIMEN_TYPES.length,
          c.specimenTypes!.map((t) => SPECIMEN_TYPES.indexOf(t)),
        );
        return (i) => on[s.type[i]!] === 1;
      }
      case 'minAvailableQuantity': {
        const q = c.minAvailableQuantity!;
        const scale = UNIT_SCALE[q.unit];
        // The least each unit must hold, computed as the SQL compiler computes it; NaN: never.
        const least = new Float64Array(SPECIMEN_UNITS.length).fill(Number.NaN);
        if (!scale) least[SPECIMEN_UNITS.indexOf(q.unit)] = q.value;
        else {
          const inBase = q.value * scale.factor;
          for (const [unit, v] of Object.entries(UNIT_SCALE))
            if (v.base === scale.base)
              least[SPECIMEN_UNITS.indexOf(unit as SpecimenUnit)] = inBase / v.factor;
        }
        return (i) => s.quantity[i]! >= least[s.unit[i]!]!;
      }
      case 'maxFreezeThawCount': {
        const max = c.maxFreezeThawCount!;
        return (i) => s.freezeThaw[i]! <= max;
      }
      case 'sprec.preCentrifugation': {
        const on = letters(c.sprec!.preCentrifugation!);
        return (i) => on[s.preCentrifugation[i]!] === 1 && s.preCentrifugation[i] !== 0;
      }
      case 'sprec.longTermStorage':
      case 'sprec.longTermStorageAtOrBelowC': {
        const on = letters(
          field === 'sprec.longTermStorage'
            ? c.sprec!.longTermStorage!
            : longTermStorageCodesAtOrBelow(c.sprec!.longTermStorageAtOrBelowC!),
        );
        return (i) => on[s.longTermStorage[i]!] === 1 && s.longTermStorage[i] !== 0;
      }
      case 'qcPassed':
        return (i) => s.qcPassed[i] === 1;
      case 'collectedFrom': {
        const from = Number(c.collectedFrom!.slice(0, 4));
        return (i) => s.collectedYear[i]! >= 0 && s.collectedYear[i]! >= from;
      }
      case 'collectedTo': {
        const to = Number(c.collectedTo!.slice(0, 4));
        return (i) => s.collectedYear[i]! >= 0 && s.collectedYear[i]! <= to;
      }
      case 'diagnoses': {
        const match = diagnosisMatcher(c.diagnoses!);
        return donorTest(Uint8Array.from(s.donors.diagnoses, (list) => (list.some(match) ? 1 : 0)));
      }
      case 'sex': {
        const on = lookup(
          SEXES.length,
          c.sex!.map((x) => SEXES.indexOf(x)),
        );
        return donorTest(Uint8Array.from(s.donors.sex, (x) => (x >= 0 ? on[x]! : 0)));
      }
      case 'ageBands': {
        const on = lookup(
          16,
          c.ageBands!.map((b) => b / 10),
        );
        return (i) => s.age[i]! >= 0 && on[Math.floor(s.age[i]! / 10)] === 1;
      }
    }
  };
  return compileCriteria(c).map(({ field }) => ({ field, test: testFor(field) }));
}

const AGE_BANDS = 16;

/** Each dimension's values as small numbers; `size` stands for null (unknown). */
function dimensionOf(s: CatalogueSnapshot, d: CatalogueDimension) {
  const single = (size: number, at: (i: number) => number, label: (v: number) => string | number) => ({
    size,
    values: (i: number) => [at(i) < 0 ? size : at(i)],
    label,
  });
  const perDonor = (size: number, lists: Int32Array[], label: (v: number) => string) => ({
    size,
    values: (i: number) => {
      const list = s.donor[i]! >= 0 ? lists[s.donor[i]!]! : null;
      return list && list.length ? Array.from(list) : [size];
    },
    label,
  });
  switch (d) {
    case 'provider':
      return single(
        s.providerIds.length,
        (i) => s.provider[i]!,
        (v) => s.providerIds[v]!,
      );
    case 'specimenType':
      return single(
        SPECIMEN_TYPES.length,
        (i) => s.type[i]!,
        (v) => SPECIMEN_TYPES[v]!,
      );
    case 'diagnosis':
      return perDonor(s.diagnosisCodes.length, s.donors.codeIds, (v) => s.diagnosisCodes[v]!);
    case 'diagnosisChapter':
      return perDonor(ICD10_CHAPTER_NUMERALS.length, s.donors.chapterIds, (v) => ICD10_CHAPTER_NUMERALS[v]!);
    case 'anatomicSite':
      return single(
        s.sites.length,
        (i) => s.site[i]!,
        (v) => s.sites[v]!,
      );
    case 'sex':
      return single(
        SEXES.length,
        (i) => (s.donor[i]! >= 0 ? s.donors.sex[s.donor[i]!]! : -1),
        (v) => SEXES[v]!,
      );
    case 'ageBand':
      return single(
        AGE_BANDS,
        (i) => (s.age[i]! >= 0 ? Math.min(Math.floor(s.age[i]! / 10), AGE_BANDS - 1) : -1),
        (v) => v * 10,
      );
    case 'storageTemperature':
      return single(
        MIABIS_STORAGE_TEMPERATURES.length,
        (i) => s.storageTemperature[i]!,
        (v) => MIABIS_STORAGE_TEMPERATURES[v]!,
      );
    case 'diseaseArea':
      return single(
        DISEASE_AREAS.length,
        (i) => s.diseaseArea[i]!,
        (v) => DISEASE_AREAS[v]!,
      );
  }
}

interface Tally extends Counts {
  /** the last root and donor counted (rows come grouped by donor, then root) */
  root: number;
  donor: number;
}

/** Counts one catalogue question exactly. Pure. */
export function countCatalogue(s: CatalogueSnapshot, q: CatalogueQuestion): CatalogueCount {
  const bit = 1 << USES.indexOf(q.use);
  const compiled = rowTests(s, q.criteria);
  const tests = compiled.map((t) => t.test);
  const fields = compiled.map((t) => t.field);
  const k = tests.length;
  const dims = q.groupBy.map((d) => dimensionOf(s, d));
  const mults: number[] = [];
  dims.reduce((m, d) => (mults.push(m), m * (d.size + 1)), 1);
  /** the group keys of row i: several when a donor has several diagnoses */
  const keysOf = (i: number): number[] =>
    dims.reduce<number[]>(
      (keys, d, j) => keys.flatMap((key) => d.values(i).map((v) => key + v * mults[j]!)),
      [0],
    );

  const shareable: Counts = { samples: 0, donors: 0 };
  const fit: Counts = { samples: 0, donors: 0 };
  const excluded: Counts[] = fields.map(() => ({ samples: 0, donors: 0 }));
  const groups = new Map<number, Tally>();
  const eachBit = (mask: number, f: (c: number) => void) => {
    for (let c = 0; c < k; c++) if (mask & (1 << c)) f(c);
  };

  for (const id of q.providerIds) {
    const range = s.ranges.get(id);
    if (!range) continue;
    // The sample (root) and donor being read: whether one of its rows fits every criterion, and
    // the criteria that alone kept a row out.
    let root = -1;
    let rootFits = false;
    let rootOnly = 0;
    let donor = -1;
    let donorFits = false;
    let donorOnly = 0;
    const endRoot = () => {
      if (root < 0) return;
      shareable.samples++;
      if (rootFits) fit.samples++;
      else eachBit(rootOnly, (c) => excluded[c]!.samples++);
      donorFits ||= rootFits;
      donorOnly |= rootOnly;
      root = -1;
    };
    const endDonor = () => {
      if (donor >= 0) {
        shareable.donors++;
        if (donorFits) fit.donors++;
        else eachBit(donorOnly, (c) => excluded[c]!.donors++);
      }
      donor = -1;
      donorFits = false;
      donorOnly = 0;
    };
    for (let i = range.start; i < range.end; i++) {
      if ((s.uses[i]! & bit) === 0) continue;
      const r = s.root[i]!;
      if (r !== root) {
        endRoot();
        if (s.donor[i] !== donor) endDonor();
        root = r;
        donor = s.donor[i]!;
        rootFits = false;
        rootOnly = 0;
      }
      let mask = 0;
      let fails = 0;
      for (let c = 0; c < k && fails < 2; c++) {
        if (!tests[c]!(i)) {
          mask |= 1 << c;
          fails++;
        }
      }
      if (fails === 1) rootOnly |= mask;
      if (mask !== 0) continue;
      rootFits = true;
      if (!dims.length) continue;
      for (const key of keysOf(i)) {
        let t = groups.get(key);
        if (!t) groups.set(key, (t = { samples: 0, donors: 0, root: -1, donor: -1 }));
        if (t.root !== r) {
          t.root = r;
          t.samples++;
        }
        if (donor >= 0 && t.donor !== donor) {
          t.donor = donor;
          t.donors++;
        }
      }
    }
    endRoot();
    endDonor();
  }

  const listed = [...groups].filter(([, t]) => q.listed(t));
  const keyOf = (key: number): GroupKey =>
    Object.fromEntries(
      dims.map((d, j) => {
        const v = Math.floor(key / mults[j]!) % (d.size + 1);
        return [q.groupBy[j]!, v === d.size ? null : d.label(v)];
      }),
    );
  return {
    shareable,
    fit,
    excludedBy: fields.map((criterion, c) => ({ criterion, ...excluded[c]! })),
    groups: listed
      .map(([key, t]) => ({ key: keyOf(key), samples: t.samples, donors: t.donors }))
      .sort((a, b) => b.samples - a.samples || b.donors - a.donors),
  };
}
