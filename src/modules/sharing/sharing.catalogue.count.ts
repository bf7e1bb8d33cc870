// Counting a catalogue question over a snapshot, exactly (disclosure control comes after, in
// sharing.catalogue.disclosure.ts). Samples are counted as the MIABIS export counts them: a
// lineage root and everything aliquoted or derived from it are one sample, so a sample fits when
// one of its tubes fits every criterion (sharing.catalogue.filter.ts). Donors are distinct
// participants. "Excluded by a criterion alone": samples (donors) that do not fit, but would if
// that criterion were dropped. One pass over the rows: they come grouped by donor, then sample.

import { USES, type Use } from '../../vocabulary/uses.js';
import { DISEASE_AREAS } from '../../vocabulary/disease-areas.js';
import { ICD10_CHAPTER_NUMERALS } from '../../vocabulary/icd10-chapters.js';
import { SPECIMEN_TYPES } from '../../vocabulary/specimen-types.js';
import { SEXES } from '../participants/index.js';
import { MIABIS_STORAGE_TEMPERATURES } from '../standards/index.js';
import { compileCriteria, type Criteria, type CriterionField } from './sharing.criteria.js';
import { failMasks, NOT_SHAREABLE } from './sharing.catalogue.filter.js';
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

/** Dimensions whose value is a list per donor (a donor may have several diagnoses). */
export const LIST_DIMENSIONS: readonly CatalogueDimension[] = ['diagnosis', 'diagnosisChapter'];
const AGE_BANDS = 16;

interface Dimension {
  /** values are 0..size-1; `size` stands for null (not recorded) */
  size: number;
  label: (v: number) => string | number;
  /** per row (single-valued dimensions) */
  column?: Int32Array;
  /** per donor (list dimensions) */
  lists?: Int32Array[];
}

const columns = new WeakMap<CatalogueSnapshot, Map<CatalogueDimension, Dimension>>();

/** A dimension's values as small numbers, computed once per snapshot. */
function dimension(s: CatalogueSnapshot, d: CatalogueDimension): Dimension {
  let cache = columns.get(s);
  if (!cache) columns.set(s, (cache = new Map<CatalogueDimension, Dimension>()));
  const known = cache.get(d);
  if (known) return known;
  const col = (size: number, at: (i: number) => number, label: Dimension['label']): Dimension => {
    const column = new Int32Array(s.size);
    for (let i = 0; i < s.size; i++) {
      const v = at(i);
      column[i] = v < 0 ? size : v;
    }
    return { size, label, column };
  };
  const donorSex = (i: number) => (s.donor[i]! >= 0 ? s.donors.sex[s.donor[i]!]! : -1);
  const band = (i: number) => (s.age[i]! >= 0 ? Math.min(Math.floor(s.age[i]! / 10), AGE_BANDS - 1) : -1);
  const made: Dimension = (() => {
    switch (d) {
      case 'provider':
        return col(
          s.providerIds.length,
          (i) => s.provider[i]!,
          (v) => s.providerIds[v]!,
        );
      case 'specimenType':
        return col(
          SPECIMEN_TYPES.length,
          (i) => s.type[i]!,
          (v) => SPECIMEN_TYPES[v]!,
        );
      case 'anatomicSite':
        return col(
          s.sites.length,
          (i) => s.site[i]!,
          (v) => s.sites[v]!,
        );
      case 'sex':
        return col(SEXES.length, donorSex, (v) => SEXES[v]!);
      case 'ageBand':
        return col(AGE_BANDS, band, (v) => v * 10);
      case 'storageTemperature':
        return col(
          MIABIS_STORAGE_TEMPERATURES.length,
          (i) => s.storageTemperature[i]!,
          (v) => MIABIS_STORAGE_TEMPERATURES[v]!,
        );
      case 'diseaseArea':
        return col(
          DISEASE_AREAS.length,
          (i) => s.diseaseArea[i]!,
          (v) => DISEASE_AREAS[v]!,
        );
      case 'diagnosis':
        return { size: s.diagnosisCodes.length, label: (v) => s.diagnosisCodes[v]!, lists: s.donors.codeIds };
      case 'diagnosisChapter':
        return {
          size: ICD10_CHAPTER_NUMERALS.length,
          label: (v) => ICD10_CHAPTER_NUMERALS[v]!,
          lists: s.donors.chapterIds,
        };
    }
  })();
  cache.set(d, made);
  return made;
}

/** Distinct samples and donors per group key (dense arrays for small key spaces). */
class Tallies {
  private readonly dense: boolean;
  private readonly samples: Int32Array | null;
  private readonly donors: Int32Array | null;
  private readonly lastRoot: Int32Array | null;
  private readonly lastDonor: Int32Array | null;
  private readonly sparse = new Map<
    number,
    { samples: number; donors: number; root: number; donor: number }
  >();

  constructor(space: number) {
    this.dense = space <= 1 << 16;
    const make = () => (this.dense ? new Int32Array(space) : null);
    [this.samples, this.donors, this.lastRoot, this.lastDonor] = [make(), make(), make(), make()];
    this.lastRoot?.fill(-1);
    this.lastDonor?.fill(-1);
  }

  add(key: number, root: number, donor: number): void {
    if (this.dense) {
      if (this.lastRoot![key] !== root) {
        this.lastRoot![key] = root;
        this.samples![key]!++;
      }
      if (donor >= 0 && this.lastDonor![key] !== donor) {
        this.lastDonor![key] = donor;
        this.donors![key]!++;
      }
      return;
    }
    let t = this.sparse.get(key);
    if (!t) this.sparse.set(key, (t = { samples: 0, donors: 0, root: -1, donor: -1 }));
    if (t.root !== root) {
      t.root = root;
      t.samples++;
    }
    if (donor >= 0 && t.donor !== donor) {
      t.donor = donor;
      t.donors++;
    }
  }

  entries(): [number, Counts][] {
    if (!this.dense) return [...this.sparse].map(([k, t]) => [k, { samples: t.samples, donors: t.donors }]);
    const out: [number, Counts][] = [];
    this.samples!.forEach((n, k) => {
      if (n > 0) out.push([k, { samples: n, donors: this.donors![k]! }]);
    });
    return out;
  }
}

/** Samples and donors: shareable, fitting, excluded by one criterion alone. */
class Totals {
  readonly shareable: Counts = { samples: 0, donors: 0 };
  readonly fit: Counts = { samples: 0, donors: 0 };
  readonly excluded: Counts[];
  /** the donor being read (-1: none, or a control) */
  donor = -1;
  private donorFits = false;
  private donorOnly = 0;

  constructor(criteria: number) {
    this.excluded = Array.from({ length: criteria }, () => ({ samples: 0, donors: 0 }));
  }

  endRoot(fits: boolean, only: number): void {
    this.shareable.samples++;
    if (fits) this.fit.samples++;
    else for (let c = 0, bits = only; bits; c++, bits >>= 1) if (bits & 1) this.excluded[c]!.samples++;
    this.donorFits ||= fits;
    this.donorOnly |= only;
  }

  /** Ends the donor being read (its counts) and starts `next`. */
  startDonor(next: number): void {
    if (this.donor >= 0) {
      this.shareable.donors++;
      if (this.donorFits) this.fit.donors++;
      else
        for (let c = 0, bits = this.donorOnly; bits; c++, bits >>= 1)
          if (bits & 1) this.excluded[c]!.donors++;
    }
    this.donor = next;
    this.donorFits = false;
    this.donorOnly = 0;
  }
}

/** Scratch fail masks, one per snapshot (counting is synchronous: never shared by two at once). */
const masks = new WeakMap<CatalogueSnapshot, Uint16Array>();

/** Counts one catalogue question exactly. Pure (but for reused scratch space). */
export function countCatalogue(s: CatalogueSnapshot, q: CatalogueQuestion): CatalogueCount {
  const useBit = 1 << USES.indexOf(q.use);
  let mask = masks.get(s);
  if (!mask) masks.set(s, (mask = new Uint16Array(s.size)));
  const dims = q.groupBy.map((d) => dimension(s, d));
  const mults: number[] = [];
  const space = dims.reduce((m, d) => (mults.push(m), m * (d.size + 1)), 1);
  const singles = dims.flatMap((d, j) => (d.column ? [{ column: d.column, mult: mults[j]! }] : []));
  // One list dimension at most (the schemas refuse diagnosis with diagnosisChapter).
  if (dims.filter((d) => d.lists).length > 1) throw new Error('at most one of diagnosis, diagnosisChapter');
  const listDim = dims.findIndex((d) => d.lists);
  const lists = listDim >= 0 ? dims[listDim]!.lists! : null;
  const listSize = listDim >= 0 ? dims[listDim]!.size : 0;
  const listMult = listDim >= 0 ? mults[listDim]! : 0;
  const tallies = dims.length ? new Tallies(space) : null;

  const fields: CriterionField[] = compileCriteria(q.criteria).map((c) => c.field);
  const totals = new Totals(fields.length);
  const rootOf = s.root;
  const donorOf = s.donor;
  for (const id of q.providerIds) {
    const range = s.ranges.get(id);
    if (!range) continue;
    failMasks(s, q.criteria, useBit, mask, range.start, range.end);
    // The sample (root) being read: whether one of its rows fits every criterion, and the
    // criteria that alone kept a row out. Plain locals: this loop runs over every row.
    let root = -1;
    let rootFits = false;
    let rootOnly = 0;
    for (let i = range.start; i < range.end; i++) {
      const m = mask[i]!;
      if (m & NOT_SHAREABLE) continue;
      const r = rootOf[i]!;
      const donor = donorOf[i]!;
      if (r !== root) {
        if (root >= 0) totals.endRoot(rootFits, rootOnly);
        if (donor !== totals.donor) totals.startDonor(donor);
        root = r;
        rootFits = false;
        rootOnly = 0;
      }
      if (m !== 0) {
        if ((m & (m - 1)) === 0) rootOnly |= m;
        continue;
      }
      rootFits = true;
      if (!tallies) continue;
      let key = 0;
      for (const one of singles) key += one.column[i]! * one.mult;
      if (!lists) tallies.add(key, r, donor);
      else {
        const list = donor >= 0 ? lists[donor]! : null;
        if (!list || list.length === 0) tallies.add(key + listSize * listMult, r, donor);
        else for (const v of list) tallies.add(key + v * listMult, r, donor);
      }
    }
    if (root >= 0) totals.endRoot(rootFits, rootOnly);
    totals.startDonor(-1);
  }

  const keyOf = (key: number): GroupKey =>
    Object.fromEntries(
      dims.map((d, j) => {
        const v = Math.floor(key / mults[j]!) % (d.size + 1);
        return [q.groupBy[j]!, v === d.size ? null : d.label(v)];
      }),
    );
  return {
    shareable: totals.shareable,
    fit: totals.fit,
    excludedBy: fields.map((criterion, c) => ({ criterion, ...totals.excluded[c]! })),
    groups: (tallies?.entries() ?? [])
      .filter(([, t]) => q.listed(t))
      .map(([key, t]) => ({ key: keyOf(key), ...t }))
      .sort((a, b) => b.samples - a.samples || b.donors - a.donors),
  };
}
