// The FHIR R4 vocabulary of the Specimen interface: canonical URLs, identifier systems, and how
// our specimen types, statuses, holds and units are coded. Pure data and lookups.
//
// Type codings follow the German Medical Informatics Initiative (MII) biobank module where it
// fits: SNOMED CT specimen concepts (its ConceptMap from the ISBER SPREC type of sample), the
// SPREC type of sample itself under the SPREC 3.0 DOI, and HL7 v2 table 0487 (SPM-4) from
// src/vocabulary. Extensions the MII profile has no element for live under our own base.
import {
  SPECIMEN_TYPE_INFO,
  SPECIMEN_TYPES,
  type SpecimenType,
  type SpecimenUnit,
} from '../../vocabulary/specimen-types.js';
import { canonicalIdentifierSystem } from '../specimens/index.js';
import { OWN_CANONICAL_BASE, URI_IDENTIFIER_SYSTEM } from '../../vocabulary/identifier-systems.js';

export const FHIR_VERSION = '4.0.1';
export const FHIR_CONTENT_TYPE = 'application/fhir+json; charset=utf-8';

/** Our own canonical base: extensions, code systems and identifier systems FHIR has none for. */
export const BASE = OWN_CANONICAL_BASE;
export const EXTENSION = {
  /** the full SPREC code of the specimen (valueCoding: SPREC system, version, code) */
  sprec: `${BASE}/StructureDefinition/sprec`,
  /** our lifecycle status, finer than Specimen.status (valueCode) */
  specimenStatus: `${BASE}/StructureDefinition/specimen-status`,
  /** pathology status of the tissue (valueCode) */
  pathologyStatus: `${BASE}/StructureDefinition/pathology-status`,
  /** freeze-thaw cycles counted so far (valueUnsignedInt) */
  freezeThawCount: `${BASE}/StructureDefinition/freeze-thaw-count`,
  /** where the tube is stored: box barcode and position (valueString each), on Specimen.container */
  storageLocation: `${BASE}/StructureDefinition/storage-location`,
} as const;
export const CODE_SYSTEM = {
  specimenType: `${BASE}/CodeSystem/specimen-type`,
  specimenHold: `${BASE}/CodeSystem/specimen-hold`,
  errorCode: `${BASE}/CodeSystem/error-code`,
} as const;

export const SNOMED = 'http://snomed.info/sct';
export const V2_0487 = 'http://terminology.hl7.org/CodeSystem/v2-0487';
export const UCUM = 'http://unitsofmeasure.org';
/** ISBER SPREC 3.0 (Biopreserv Biobank 2018, doi 10.1089/bio.2017.0109), as the MII codes it. */
export const SPREC = 'https://doi.org/10.1089/bio.2017.0109';
export const SPREC_TYPE_OF_SAMPLE = `${SPREC}/type-of-sample`;

/** Identifier systems: our own id (RFC 3986 URN), the tube barcode, LIS and other external ids. */
export const ID_SYSTEM = {
  uri: URI_IDENTIFIER_SYSTEM,
  barcode: `${BASE}/sid/barcode`,
  /** prefix for an external id system that is a plain token (`LIS`), not a URI */
  external: `${BASE}/sid/external/`,
} as const;

/** An external id system that already is a URI (`urn:oid:...`, `https://lis.example/acc`). */
const URI_LIKE = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

/** The FHIR identifier system of one of our external id systems. */
export const fhirSystemOf = (system: string): string =>
  URI_LIKE.test(system) ? system : ID_SYSTEM.external + encodeURIComponent(system);

/** Our external id system for a FHIR identifier system; null when it is not a URI. */
export function externalSystemOf(fhirSystem: string): string | null {
  if (fhirSystem.startsWith(ID_SYSTEM.external)) {
    try {
      const token = decodeURIComponent(fhirSystem.slice(ID_SYSTEM.external.length));
      return token.trim() === token && token.length > 0 ? canonicalIdentifierSystem(token) : null;
    } catch {
      return null;
    }
  }
  return URI_LIKE.test(fhirSystem) ? canonicalIdentifierSystem(fhirSystem) : null;
}

/** SNOMED CT specimen concepts, where one is known for the type (MII ConceptMap SPREC -> SNOMED). */
const SNOMED_TYPE: Partial<Record<SpecimenType, { code: string; display: string }>> = {
  whole_blood: { code: '119297000', display: 'Blood specimen' },
  plasma: { code: '119361006', display: 'Plasma specimen' },
  plasma_double_spun: { code: '119361006', display: 'Plasma specimen' },
  serum: { code: '119364003', display: 'Serum specimen' },
  buffy_coat: { code: '258587000', display: 'Buffy coat' },
  red_blood_cells: { code: '119351004', display: 'Erythrocyte specimen' },
  bone_marrow: { code: '119359002', display: 'Bone marrow specimen' },
  cord_blood: { code: '122556008', display: 'Cord blood specimen' },
  urine: { code: '122575003', display: 'Urine specimen' },
  saliva: { code: '119342007', display: 'Saliva specimen' },
  sputum: { code: '119334006', display: 'Sputum specimen' },
  csf: { code: '258450006', display: 'Cerebrospinal fluid sample' },
  stool: { code: '119339001', display: 'Stool specimen' },
  fresh_frozen_tissue: { code: '119376003', display: 'Tissue specimen' },
  oct_tissue: { code: '119376003', display: 'Tissue specimen' },
  ffpe_block: { code: '119376003', display: 'Tissue specimen' },
  ffpe_slide: { code: '430856003', display: 'Tissue section' },
  dna: { code: '258566005', display: 'Deoxyribonucleic acid sample' },
  rna: { code: '441673008', display: 'Ribonucleic acid sample' },
};

export interface Coding {
  system: string;
  code: string;
  display?: string;
  version?: string;
}

/** Every coding of a type, most specific first: ours, SNOMED CT, HL7 v2 0487, SPREC. */
export function typeCodings(type: SpecimenType): Coding[] {
  const info = SPECIMEN_TYPE_INFO[type];
  const snomed = SNOMED_TYPE[type];
  return [
    { system: CODE_SYSTEM.specimenType, code: type, display: info.label },
    ...(snomed ? [{ system: SNOMED, ...snomed }] : []),
    ...(info.hl7v2Table0487 ? [{ system: V2_0487, code: info.hl7v2Table0487 }] : []),
    ...(info.sprecTypeOfSample ? [{ system: SPREC_TYPE_OF_SAMPLE, code: info.sprecTypeOfSample }] : []),
  ];
}

const TYPES_BY_CODING = new Map<string, SpecimenType[]>();
for (const type of SPECIMEN_TYPES)
  for (const c of typeCodings(type)) {
    const key = `${c.system}|${c.code}`;
    TYPES_BY_CODING.set(key, [...(TYPES_BY_CODING.get(key) ?? []), type]);
  }

/**
 * Our types a coding names: one for our own code system, possibly several for a coarser one
 * (SNOMED CT 119376003 is any tissue, 0487 WBC buffy coat or PBMC). No system: any system's code.
 */
export function typesOfCoding(system: string | undefined, code: string): SpecimenType[] {
  if (system !== undefined) return TYPES_BY_CODING.get(`${system}|${code}`) ?? [];
  const all = new Set<SpecimenType>();
  for (const [key, types] of TYPES_BY_CODING)
    if (key.slice(key.indexOf('|') + 1) === code) types.forEach((t) => all.add(t));
  return SPECIMEN_TYPES.filter((t) => all.has(t));
}

/** The systems a type coding may come from, for error messages and the CapabilityStatement. */
export const TYPE_SYSTEMS = [CODE_SYSTEM.specimenType, SNOMED, V2_0487, SPREC_TYPE_OF_SAMPLE] as const;

/** UCUM codes of our units; counted units are UCUM annotations. */
export const UCUM_UNIT: Record<SpecimenUnit, string> = {
  mL: 'mL',
  uL: 'uL',
  mg: 'mg',
  ug: 'ug',
  slides: '{slides}',
  blocks: '{blocks}',
  cells: '{cells}',
};

export function unitOf(code: string | undefined, unit: string | undefined): SpecimenUnit | null {
  for (const [ours, ucum] of Object.entries(UCUM_UNIT) as [SpecimenUnit, string][])
    if (code === ucum || (code === undefined && (unit === ours || unit === ucum))) return ours;
  return null;
}

export type FhirSpecimenStatus = 'available' | 'unavailable' | 'unsatisfactory' | 'entered-in-error';

/**
 * Specimen.status from our lifecycle: `available` while the tube physically exists in our hands
 * (stored, checked out, reserved), `unavailable` when there is no tube to use here (not yet
 * received, shipped, distributed, consumed, destroyed, missing), `unsatisfactory` for an existing
 * tube held for failed QC. No state of ours is an entry in error: `entered-in-error` is never sent.
 * Our own status travels in the specimen-status extension.
 */
export function fhirStatusOf(status: string, holds: readonly string[]): FhirSpecimenStatus {
  const exists = status === 'available' || status === 'in_use' || status === 'reserved';
  if (!exists) return 'unavailable';
  return holds.includes('QC_FAILED') ? 'unsatisfactory' : 'available';
}

/** Specimen.condition codes for holds (HL7 v2 table 0493 has no term for a use restriction). */
export const HOLD_DISPLAY: Record<string, string> = {
  CONSENT_WITHDRAWN: 'On hold: the donor withdrew consent',
  QC_FAILED: 'On hold: failed quality control',
  QUARANTINE: 'On hold: quarantine',
};

/** SNOMED CT procedures of Specimen.processing (as the MII biobank examples code them). */
export const PROCEDURE = {
  processing: { system: SNOMED, code: '9265001', display: 'Specimen processing' },
  freezing: { system: SNOMED, code: '27872000', display: 'Specimen freezing' },
} as const;
