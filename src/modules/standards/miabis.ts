// MIABIS (Minimum Information About BIobank data Sharing): the individual-level Sample and Sample
// donor attributes checked on every specimen, and the Core 3.0 Collection aggregate the biobank
// exports (BBMRI-ERIC MIABIS, Core/V3 Data-describing-Collection; Individual/Sample, Sample Donor).
// Pure: no I/O.

import { SPECIMEN_TYPE_INFO, type SpecimenType } from '../../vocabulary/specimen-types.js';

/** MIABIS-COLLECTION-14 sample types (Core 3.0 collection list). */
export const MIABIS_COLLECTION_SAMPLE_TYPE: Readonly<Record<SpecimenType, string>> = {
  whole_blood: 'Blood',
  plasma: 'Plasma',
  plasma_double_spun: 'Plasma',
  serum: 'Serum',
  buffy_coat: 'Buffy coat',
  pbmc: 'Primary cells',
  red_blood_cells: 'Other',
  bone_marrow: 'Other',
  cord_blood: 'Blood',
  urine: 'Urine',
  saliva: 'Saliva',
  sputum: 'Other body fluid',
  csf: 'Other body fluid',
  stool: 'Faeces',
  fresh_frozen_tissue: 'Tissue (Frozen)',
  oct_tissue: 'Tissue (Frozen)',
  ffpe_block: 'Tissue (FFPE)',
  ffpe_slide: 'Tissue (FFPE)',
  dna: 'DNA',
  rna: 'RNA',
  cfdna: 'DNA',
  protein: 'Other',
};

/** MIABIS-SAMPLE-02 sample types (individual level, a finer list). */
export const MIABIS_SAMPLE_TYPE: Readonly<Record<SpecimenType, string>> = {
  whole_blood: 'Whole blood',
  plasma: 'Plasma',
  plasma_double_spun: 'Plasma',
  serum: 'Serum',
  buffy_coat: 'Buffy Coat',
  pbmc: 'Peripheral blood mononuclear cells (PBMC)',
  red_blood_cells: 'Red blood cells',
  bone_marrow: 'Bone marrow aspirate',
  cord_blood: 'Cord blood',
  urine: 'Urine',
  saliva: 'Saliva',
  sputum: 'Sputum',
  csf: 'Cerebrospinal fluid',
  stool: 'Faeces',
  fresh_frozen_tissue: 'Tissue (fresh frozen)',
  oct_tissue: 'Tissue (fresh frozen)',
  ffpe_block: 'Tissue (fixed)',
  ffpe_slide: 'Tissue (fixed)',
  dna: 'DNA',
  rna: 'RNA',
  cfdna: 'DNA',
  protein: 'Protein',
};

export const MIABIS_STORAGE_TEMPERATURES = [
  'RT',
  '2 °C to 10 °C',
  '-18 °C to -35 °C',
  '-60 °C to -85 °C',
  '<-135 °C',
  'Other',
] as const;
export type MiabisStorageTemperature = (typeof MIABIS_STORAGE_TEMPERATURES)[number];

/**
 * MIABIS-COLLECTION-15 / MIABIS-SAMPLE-03 band of a storage temperature (bands of SPREC long-term
 * storage, inclusive). Liquid nitrogen vapour or liquid phase cannot be told from a temperature,
 * so both read as "<-135 °C".
 */
export function miabisStorageTemperature(celsius: number | null): MiabisStorageTemperature | null {
  if (celsius === null) return null;
  if (celsius <= -135) return '<-135 °C';
  if (celsius >= -85 && celsius <= -60) return '-60 °C to -85 °C';
  if (celsius >= -35 && celsius <= -18) return '-18 °C to -35 °C';
  if (celsius >= 2 && celsius <= 10) return '2 °C to 10 °C';
  if (celsius >= 15 && celsius <= 25) return 'RT';
  return 'Other';
}

/** MIABIS-SAMPLEDONOR-02 / MIABIS-COLLECTION-08 sex. */
export function miabisSex(sex: string | null): 'Male' | 'Female' | 'Undifferentiated' | 'Unknown' {
  switch (sex) {
    case 'female':
      return 'Female';
    case 'male':
      return 'Male';
    case 'other':
      return 'Undifferentiated';
    default:
      return 'Unknown';
  }
}

export const ICD10_PATTERN = /^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$/;

/** Age in whole years at collection from a birth year (the only birth date kept): approximate by a year. */
export function ageAtCollection(birthYear: number | null, collectedAt: Date | null): number | null {
  if (birthYear === null || collectedAt === null) return null;
  return collectedAt.getUTCFullYear() - birthYear;
}

// ---- Individual-level checks ----

export interface MiabisSampleFacts {
  type: SpecimenType;
  status: string;
  collectedAt: Date | null;
  containerId: string | null;
  storageTemperatureC: number | null;
  anatomicSite: string | null;
}

export interface MiabisDonorFacts {
  participantId: string | null;
  collectedAt: Date | null;
  donor: { sex: string; birthYear: number | null; diagnoses: readonly string[] } | null;
}

export interface MiabisCheck {
  outcome: 'pass' | 'warn';
  message: string;
  missing: string[];
}

/** Statuses in which a specimen should be in storage (so its storage temperature is known). */
const STORED_STATUSES: ReadonlySet<string> = new Set(['available', 'in_use', 'reserved']);

/**
 * MIABIS individual-level Sample: sample type (from the specimen type), storage temperature
 * (MIABIS-SAMPLE-03, for specimens that should be stored), creation date (MIABIS-SAMPLE-04) and,
 * for tissue, the anatomical site (MIABIS-SAMPLE-05). Missing attributes are a warning.
 */
export function checkMiabisSample(f: MiabisSampleFacts): MiabisCheck {
  const missing: string[] = [];
  if (f.collectedAt === null) missing.push('sample collection date (MIABIS-SAMPLE-04)');
  if (STORED_STATUSES.has(f.status)) {
    if (f.containerId === null) missing.push('storage location');
    else if (f.storageTemperatureC === null) missing.push('storage temperature (MIABIS-SAMPLE-03)');
  }
  if (SPECIMEN_TYPE_INFO[f.type].category === 'solid' && !f.anatomicSite)
    missing.push('anatomical site (MIABIS-SAMPLE-05)');
  const temp = miabisStorageTemperature(f.storageTemperatureC);
  return missing.length
    ? { outcome: 'warn', message: `MIABIS sample attributes missing: ${missing.join(', ')}`, missing }
    : {
        outcome: 'pass',
        message: `MIABIS sample attributes complete (${MIABIS_SAMPLE_TYPE[f.type]}${temp ? `, ${temp}` : ''})`,
        missing,
      };
}

/**
 * MIABIS Sample donor: donor id (a linked participant), sex (MIABIS-SAMPLEDONOR-02), age at
 * collection (birth year and collection date) and ICD-10 diagnoses where available. The message
 * names attributes, never their values (no donor data in results).
 */
export function checkMiabisDonor(f: MiabisDonorFacts): MiabisCheck {
  if (!f.participantId || !f.donor) {
    return {
      outcome: 'warn',
      message: 'no sample donor linked (MIABIS-SAMPLEDONOR-01)',
      missing: ['sample donor'],
    };
  }
  const missing: string[] = [];
  if (f.donor.sex === 'unknown') missing.push('donor sex (MIABIS-SAMPLEDONOR-02)');
  const age = ageAtCollection(f.donor.birthYear, f.collectedAt);
  if (age === null) missing.push('age at collection (birth year and collection date)');
  else if (age < 0) missing.push('age at collection (the collection date is before the birth year)');
  const invalid = f.donor.diagnoses.filter((d) => !ICD10_PATTERN.test(d));
  if (invalid.length) missing.push(`valid ICD-10 diagnosis codes (${invalid.length} not ICD-10)`);
  if (missing.length)
    return { outcome: 'warn', message: `MIABIS donor attributes missing: ${missing.join(', ')}`, missing };
  const n = f.donor.diagnoses.length;
  return {
    outcome: 'pass',
    message: `MIABIS donor attributes complete (sex, age at collection${n ? `, ${n} ICD-10 diagnos${n === 1 ? 'is' : 'es'}` : ''})`,
    missing,
  };
}

// ---- Core 3.0 Collection aggregate ----

export interface CollectionAggregate {
  protocolId: string;
  protocolCode: string;
  title: string;
  ethicsApprovalRef: string;
  /** distinct lineage roots: aliquots and derivatives of one sample count once */
  samples: number;
  donors: number;
  sexes: string[];
  ageLow: number | null;
  ageHigh: number | null;
  /** distinct roots per specimen type */
  byType: { type: SpecimenType; samples: number }[];
  temperaturesC: number[];
  diagnoses: string[];
}

export interface MiabisCollection {
  id: string;
  acronym: string;
  name: string;
  description: string;
  sampleSource: 'Human';
  sex: string[];
  ageLow: number | null;
  ageHigh: number | null;
  ageLowUnit: 'Years' | null;
  ageHighUnit: 'Years' | null;
  sampleTypes: string[];
  materials: { sampleType: string; materialType: string; numberOfSamples: number }[];
  storageTemperatures: MiabisStorageTemperature[];
  diseases: { ontology: 'ICD-10'; code: string; uri: string }[];
  numberOfSamples: number;
  totalNumberOfSubjects: number;
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

/**
 * One MIABIS Core 3.0 Collection per protocol. Per sample type, `numberOfSamples` adds the
 * distinct roots of each specimen type mapping to it, so it can exceed the collection's total when
 * one sample yields two types of the same MIABIS sample type (e.g. frozen and OCT tissue).
 */
export function toMiabisCollection(institutionCode: string, a: CollectionAggregate): MiabisCollection {
  const materials = new Map<string, { sampleType: string; materialType: string; numberOfSamples: number }>();
  for (const t of a.byType) {
    const sampleType = MIABIS_COLLECTION_SAMPLE_TYPE[t.type];
    const materialType = SPECIMEN_TYPE_INFO[t.type].miabisMaterialType;
    const key = `${sampleType}\u0000${materialType}`;
    const m = materials.get(key) ?? { sampleType, materialType, numberOfSamples: 0 };
    m.numberOfSamples += t.samples;
    materials.set(key, m);
  }
  const temperatures = a.temperaturesC
    .map((c) => miabisStorageTemperature(c))
    .filter((b): b is MiabisStorageTemperature => b !== null);
  const diagnoses = sorted(a.diagnoses.filter((d) => ICD10_PATTERN.test(d)));
  return {
    id: `${institutionCode}:collection:${a.protocolCode}`,
    acronym: a.protocolCode,
    name: a.title,
    description: `${a.title} (collection protocol ${a.protocolCode}, ethics approval ${a.ethicsApprovalRef})`,
    sampleSource: 'Human',
    sex: sorted(a.sexes.map((s) => miabisSex(s))),
    ageLow: a.ageLow,
    ageHigh: a.ageHigh,
    ageLowUnit: a.ageLow === null ? null : 'Years',
    ageHighUnit: a.ageHigh === null ? null : 'Years',
    sampleTypes: sorted([...materials.values()].map((m) => m.sampleType)),
    materials: [...materials.values()].sort(
      (x, y) => x.sampleType.localeCompare(y.sampleType) || x.materialType.localeCompare(y.materialType),
    ),
    storageTemperatures: MIABIS_STORAGE_TEMPERATURES.filter((b) => temperatures.includes(b)),
    diseases: diagnoses.map((code) => ({ ontology: 'ICD-10', code, uri: `urn:miriam:icd:${code}` })),
    numberOfSamples: a.samples,
    totalNumberOfSubjects: a.donors,
  };
}
