// Output mapping: a specimen as an HL7 FHIR R4 Specimen, pages as searchset Bundles. Pure; the
// routes add the base URL. Empty elements are left out (FHIR JSON has no empty strings or arrays).
import type { SpecimenView } from '../specimens/index.js';
import { SPECIMEN_TYPE_INFO } from '../../vocabulary/specimen-types.js';
import {
  CODE_SYSTEM,
  EXTENSION,
  HOLD_DISPLAY,
  ID_SYSTEM,
  PROCEDURE,
  SPREC,
  UCUM,
  UCUM_UNIT,
  fhirStatusOf,
  fhirSystemOf,
  typeCodings,
  type Coding,
  type FhirSpecimenStatus,
} from './fhir.vocabulary.js';

export interface Identifier {
  use?: 'official';
  system: string;
  value: string;
}
export interface Quantity {
  value: number;
  unit: string;
  system: string;
  code: string;
}
export interface Extension {
  url: string;
  valueCode?: string;
  valueString?: string;
  valueUnsignedInt?: number;
  valueCoding?: Coding;
  extension?: Extension[];
}

export interface FhirSpecimen {
  resourceType: 'Specimen';
  id: string;
  meta: { versionId: string; lastUpdated: string };
  extension?: Extension[];
  identifier: Identifier[];
  accessionIdentifier?: Identifier;
  status: FhirSpecimenStatus;
  type: { coding: Coding[]; text: string };
  subject?: { reference: string };
  receivedTime?: string;
  parent?: { reference: string }[];
  collection: { collectedDateTime?: string; quantity: Quantity; bodySite?: { text: string } };
  processing?: {
    description?: string;
    procedure: { coding: Coding[] };
    extension?: Extension[];
    timeDateTime?: string;
  }[];
  container: { description?: string; specimenQuantity: Quantity; extension?: Extension[] }[];
  condition?: { coding: Coding[]; text: string }[];
  note?: { text: string }[];
}

const iso = (d: Date | null) => d?.toISOString();
const nonEmpty = (s: string | null) => (s !== null && s.trim() !== '' ? s : undefined);
/** Drops undefined members so the JSON carries no empty elements. */
const compact = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
const some = <T>(items: T[]): T[] | undefined => (items.length ? items : undefined);

const quantity = (value: number, unit: keyof typeof UCUM_UNIT): Quantity => ({
  value,
  unit,
  system: UCUM,
  code: UCUM_UNIT[unit],
});

/** Our external ids as FHIR identifiers (a token system like `LIS` gets our URI prefix). */
export const externalIdentifiers = (ids: readonly { system: string; value: string }[]): Identifier[] =>
  ids.map((e) => ({ system: fhirSystemOf(e.system), value: e.value }));

/**
 * One specimen as a FHIR Specimen: identifiers (our id, barcode, external ids; the first external
 * id is the accession identifier, the LIS id the specimen was registered with), the donor as a
 * pseudonymous Patient reference (the participant id, never a hospital identifier), lineage,
 * collection, processing with the SPREC code, the storage location and holds.
 */
export function toFhirSpecimen(v: SpecimenView): FhirSpecimen {
  const r = v.row;
  const external = externalIdentifiers(r.externalIds);
  const processing: NonNullable<FhirSpecimen['processing']> = [];
  if (r.processedAt || r.sprecCode) {
    processing.push(
      compact({
        description: r.sprecCode ? 'Preanalytical processing (ISBER SPREC)' : undefined,
        procedure: { coding: [PROCEDURE.processing] },
        extension: r.sprecCode
          ? [
              {
                url: EXTENSION.sprec,
                valueCoding: { system: SPREC, version: r.sprecVersion ?? '3.0', code: r.sprecCode },
              },
            ]
          : undefined,
        timeDateTime: iso(r.processedAt),
      }),
    );
  }
  if (r.frozenAt)
    processing.push({ procedure: { coding: [PROCEDURE.freezing] }, timeDateTime: iso(r.frozenAt) });
  const location = v.location;
  return compact({
    resourceType: 'Specimen' as const,
    id: r.id,
    meta: { versionId: String(r.version), lastUpdated: r.updatedAt.toISOString() },
    extension: [
      { url: EXTENSION.specimenStatus, valueCode: r.status },
      { url: EXTENSION.pathologyStatus, valueCode: r.pathologyStatus },
      { url: EXTENSION.freezeThawCount, valueUnsignedInt: r.freezeThawCount },
    ],
    identifier: [
      { use: 'official' as const, system: ID_SYSTEM.uri, value: `urn:uuid:${r.id}` },
      { system: ID_SYSTEM.barcode, value: r.barcode },
      ...external,
    ],
    accessionIdentifier: external[0],
    status: fhirStatusOf(r.status, r.holds),
    type: { coding: typeCodings(r.type), text: SPECIMEN_TYPE_INFO[r.type].label },
    subject: r.participantId ? { reference: `Patient/${r.participantId}` } : undefined,
    receivedTime: iso(r.receivedAt),
    parent: r.parentId ? [{ reference: `Specimen/${r.parentId}` }] : undefined,
    collection: compact({
      collectedDateTime: iso(r.collectedAt),
      quantity: quantity(r.initialQuantity, r.unit),
      bodySite: nonEmpty(r.anatomicSite) ? { text: r.anatomicSite! } : undefined,
    }),
    processing: some(processing),
    container: [
      compact({
        description: location?.path,
        specimenQuantity: quantity(r.availableQuantity, r.unit),
        extension: location
          ? [
              {
                url: EXTENSION.storageLocation,
                extension: [
                  { url: 'container', valueString: location.containerBarcode },
                  ...(location.position ? [{ url: 'position', valueString: location.position }] : []),
                ],
              },
            ]
          : undefined,
      }),
    ],
    condition: some(
      r.holds.map((h) => ({
        coding: [{ system: CODE_SYSTEM.specimenHold, code: h, display: HOLD_DISPLAY[h] ?? h }],
        text: HOLD_DISPLAY[h] ?? h,
      })),
    ),
    // A hold blocks use and sharing without changing the status: say so where people read.
    note: some(r.holds.map((h) => ({ text: `${HOLD_DISPLAY[h] ?? h}; not to be used or shared` }))),
  });
}

export interface BundleLink {
  relation: 'self' | 'next';
  url: string;
}

export interface SearchBundle {
  resourceType: 'Bundle';
  type: 'searchset';
  timestamp: string;
  /** the number of matches over every page, when asked for (`_total`, `_summary=count`) */
  total?: number;
  link: BundleLink[];
  entry?: { fullUrl: string; resource: FhirSpecimen; search: { mode: 'match' } }[];
}

/**
 * A page of specimens as a searchset Bundle, with the number of matches when it was counted;
 * `base` is the absolute FHIR base URL.
 */
export function toSearchBundle(
  base: string,
  page: { items: SpecimenView[]; total?: number },
  links: BundleLink[],
  now: Date,
): SearchBundle {
  const { items, total } = page;
  return compact({
    resourceType: 'Bundle' as const,
    type: 'searchset' as const,
    timestamp: now.toISOString(),
    total,
    link: links,
    entry: some(
      items.map((v) => ({
        fullUrl: `${base}/Specimen/${v.row.id}`,
        resource: toFhirSpecimen(v),
        search: { mode: 'match' as const },
      })),
    ),
  });
}
