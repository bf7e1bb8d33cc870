// Input mapping: a FHIR R4 Specimen an LIS sends, as the body of our specimen registration
// (POST /v1/specimens). One pure function, so the REST upsert and this conditional update can
// share it. Only elements we store are read; the biobank's own elements (status, container,
// condition, note, meta) are ignored, and an element left out means "not stated".
import { z } from 'zod';
import { validationFailed, type FieldProblem } from '../../errors.js';
import { PATHOLOGY_STATUSES, type RegisterSpecimenInput } from '../specimens/index.js';
import type { SpecimenType } from '../../vocabulary/specimen-types.js';
import {
  EXTENSION,
  ID_SYSTEM,
  PROCEDURE,
  SPREC,
  TYPE_SYSTEMS,
  UCUM,
  externalSystemOf,
  typesOfCoding,
  unitOf,
} from './fhir.vocabulary.js';
import { unknownSpecimenElements } from './fhir-elements.js';
import { instant } from '../../clock.js';

/** FHIRPath of the element each register-body field comes from (answers name what was sent). */
export const FHIR_PATHS: Record<string, string> = {
  id: 'Specimen.id',
  parentId: 'Specimen.parent',
  barcode: 'Specimen.identifier',
  type: 'Specimen.type',
  participantId: 'Specimen.subject',
  protocolId: 'Specimen.subject',
  anatomicSite: 'Specimen.collection.bodySite',
  pathologyStatus: 'Specimen.extension',
  collectedAt: 'Specimen.collection.collectedDateTime',
  receivedAt: 'Specimen.receivedTime',
  processedAt: 'Specimen.processing',
  frozenAt: 'Specimen.processing',
  sprecCode: 'Specimen.processing.extension',
  sprecVersion: 'Specimen.processing.extension',
  quantity: 'Specimen.collection.quantity',
  unit: 'Specimen.collection.quantity',
  externalIds: 'Specimen.identifier',
};

/** The FHIRPath for a register-body field path (`externalIds.2.value` -> `Specimen.identifier`). */
export const fhirPathOf = (field: string) => FHIR_PATHS[field.split('.')[0] ?? ''] ?? field;

export type IdentifierTarget =
  | { kind: 'id'; id: string }
  | { kind: 'barcode'; barcode: string }
  | { kind: 'external'; system: string; value: string };

/** One FHIR identifier (system, value) as ours: the specimen id, its barcode or an external id. */
export function classifyIdentifier(system: string, value: string): IdentifierTarget | string {
  if (system === ID_SYSTEM.uri) {
    const m = /^urn:uuid:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i.exec(value);
    return m
      ? { kind: 'id', id: m[1]!.toLowerCase() }
      : `${ID_SYSTEM.uri} identifies specimens as urn:uuid:<id>`;
  }
  if (system === ID_SYSTEM.barcode) return { kind: 'barcode', barcode: value };
  const ours = externalSystemOf(system);
  return ours === null ? `the system ${system} is not a URI` : { kind: 'external', system: ours, value };
}

const text = z.string().min(1).max(1000);
const dateTime = instant;
const coding = z
  .object({
    system: text.optional(),
    code: text.optional(),
    display: text.optional(),
    version: text.optional(),
  })
  .loose();
const identifier = z.object({ system: text, value: text }).loose();
const reference = z.object({ reference: text }).loose();
const extension = z.object({ url: text, valueCode: text.optional(), valueCoding: coding.optional() }).loose();

/** The elements of a Specimen we read, as sent (anything else passes untouched). */
const fhirSpecimenInput = z
  .object({
    resourceType: z.literal('Specimen'),
    id: text.optional(),
    extension: z.array(extension).max(50).optional(),
    identifier: z.array(identifier).max(20).optional(),
    accessionIdentifier: identifier.optional(),
    type: z
      .object({ coding: z.array(coding).max(20).optional(), text: z.string().optional() })
      .loose()
      .optional(),
    subject: reference.optional(),
    receivedTime: dateTime.optional(),
    parent: z.array(reference).max(1).optional(),
    collection: z
      .object({
        collectedDateTime: dateTime.optional(),
        collectedPeriod: z.never({ error: 'send collectedDateTime: a period is not stored' }).optional(),
        quantity: z
          .object({
            value: z.number(),
            unit: text.optional(),
            code: text.optional(),
            system: text.optional(),
          })
          .loose()
          .optional(),
        bodySite: z
          .object({ text: text.optional(), coding: z.array(coding).max(20).optional() })
          .loose()
          .optional(),
      })
      .loose()
      .optional(),
    processing: z
      .array(
        z
          .object({
            procedure: z
              .object({ coding: z.array(coding).max(20).optional() })
              .loose()
              .optional(),
            extension: z.array(extension).max(20).optional(),
            timeDateTime: dateTime.optional(),
            timePeriod: z.object({ start: dateTime.optional() }).loose().optional(),
          })
          .loose(),
      )
      .max(20)
      .optional(),
  })
  .loose();

/** What a FHIR Specimen says, as our registration body plus the two elements only FHIR carries. */
export interface SpecimenFromFhir {
  /** the register body; a field is undefined when the resource does not state it */
  body: Partial<RegisterSpecimenInput> & { externalIds: { system: string; value: string }[] };
  /** Specimen.id (or its urn:uuid identifier) as sent */
  resourceId?: string;
  /** Specimen.parent as sent */
  parentId?: string;
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const referenceTo = (type: string, ref: string) =>
  new RegExp(`(?:^|/)${type}/(${UUID})$`, 'i').exec(ref)?.[1]?.toLowerCase();

/**
 * Maps a FHIR Specimen to our registration body. `target` is the identifier of a conditional
 * update (`PUT Specimen?identifier=system|value`): an external id there is listed too, first when
 * the resource names no accession identifier. Throws VALIDATION_FAILED naming every element that
 * cannot be read (FHIRPath in `field`).
 */
export function specimenFromFhir(resource: unknown, target?: IdentifierTarget): SpecimenFromFhir {
  if (typeof resource !== 'object' || resource === null || Array.isArray(resource))
    throw validationFailed([
      { field: 'Specimen', message: 'the body is not a FHIR resource (a JSON object)' },
    ]);
  const sentType = (resource as { resourceType?: unknown }).resourceType;
  if (sentType !== 'Specimen')
    throw validationFailed([
      { field: 'resourceType', message: `expected Specimen, got ${JSON.stringify(sentType ?? null)}` },
    ]);
  const misspelt = unknownSpecimenElements(resource as Record<string, unknown>);
  if (misspelt.length) throw validationFailed(misspelt);
  const parsed = fhirSpecimenInput.safeParse(resource);
  if (!parsed.success)
    throw validationFailed(
      parsed.error.issues.map((i) => ({
        field: ['Specimen', ...i.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))]
          .join('.')
          .replaceAll('.[', '['),
        message: i.message,
        code: i.code,
      })),
    );
  const r = parsed.data;
  const problems: FieldProblem[] = [];
  const body: SpecimenFromFhir['body'] = { externalIds: [] };
  let resourceId = r.id;
  const addExternal = ({ system, value }: { system: string; value: string }) => {
    if (!body.externalIds.some((x) => x.system === system && x.value === value))
      body.externalIds.push({ system, value });
  };
  const takeIdentifier = (t: IdentifierTarget, field: string) => {
    if (t.kind === 'external') addExternal(t);
    else if (t.kind === 'barcode') {
      if (body.barcode !== undefined && body.barcode !== t.barcode)
        problems.push({ field, message: `barcode ${t.barcode} differs from ${body.barcode}` });
      body.barcode = t.barcode;
    } else {
      if (resourceId !== undefined && resourceId !== t.id)
        problems.push({ field, message: `urn:uuid:${t.id} differs from Specimen.id ${resourceId}` });
      resourceId = t.id;
    }
  };

  if (r.accessionIdentifier) {
    const t = classifyIdentifier(r.accessionIdentifier.system, r.accessionIdentifier.value);
    if (typeof t === 'string') problems.push({ field: 'Specimen.accessionIdentifier.system', message: t });
    else if (t.kind !== 'external')
      problems.push({
        field: 'Specimen.accessionIdentifier',
        message: 'the accession identifier is the LIS id',
      });
    else addExternal(t);
  }
  r.identifier?.forEach((i, n) => {
    const t = classifyIdentifier(i.system, i.value);
    if (typeof t === 'string') problems.push({ field: `Specimen.identifier[${n}].system`, message: t });
    else takeIdentifier(t, `Specimen.identifier[${n}]`);
  });
  if (target) takeIdentifier(target, 'identifier');
  if (target?.kind === 'external' && !r.accessionIdentifier) {
    // The identifier an LIS updates by is its accession number: it leads the list.
    body.externalIds = [
      { system: target.system, value: target.value },
      ...body.externalIds.filter((e) => e.system !== target.system || e.value !== target.value),
    ];
  }

  if (r.type) {
    const known = (r.type.coding ?? []).filter(
      (c) => c.system && c.code && TYPE_SYSTEMS.some((s) => s === c.system),
    );
    let candidates: SpecimenType[] | null = null;
    for (const c of known) {
      const types = typesOfCoding(c.system, c.code!);
      candidates = candidates === null ? types : candidates.filter((t) => types.includes(t));
    }
    if (candidates === null)
      problems.push({ field: 'Specimen.type', message: `no coding from ${TYPE_SYSTEMS.join(', ')}` });
    else if (candidates.length === 1) body.type = candidates[0];
    else
      problems.push({
        field: 'Specimen.type',
        message: candidates.length
          ? `the codings name several specimen types (${candidates.join(', ')}); add one from ${TYPE_SYSTEMS[0]}`
          : 'the codings name no specimen type known here, or disagree',
      });
  }

  if (r.subject) {
    const id = referenceTo('Patient', r.subject.reference);
    if (id) body.participantId = id;
    else
      problems.push({
        field: 'Specimen.subject',
        message: 'reference the donor as Patient/<participant id>',
      });
  }
  let parentId: string | undefined;
  if (r.parent?.[0]) {
    parentId = referenceTo('Specimen', r.parent[0].reference);
    if (!parentId)
      problems.push({ field: 'Specimen.parent', message: 'reference the parent as Specimen/<id>' });
  }

  const c = r.collection;
  if (c?.collectedDateTime) body.collectedAt = c.collectedDateTime;
  if (c?.bodySite) {
    // Kept as text: a coding's display stands for it, a bare code would lose its system.
    const site = c.bodySite.text ?? c.bodySite.coding?.find((x) => x.display)?.display;
    if (site) body.anatomicSite = site;
    else
      problems.push({
        field: 'Specimen.collection.bodySite.text',
        message: 'the body site is kept as text: send bodySite.text (or a coding with its display)',
      });
  }
  if (c?.quantity) {
    body.quantity = c.quantity.value;
    if (c.quantity.system !== undefined && c.quantity.system !== UCUM)
      problems.push({
        field: 'Specimen.collection.quantity.system',
        message: `units are UCUM (${UCUM}), not ${c.quantity.system}`,
      });
    if (c.quantity.code !== undefined || c.quantity.unit !== undefined) {
      const unit = unitOf(c.quantity.code, c.quantity.unit);
      if (unit) body.unit = unit;
      else
        problems.push({
          field: 'Specimen.collection.quantity',
          message: `unit ${c.quantity.code ?? c.quantity.unit} is not one of mL, uL, mg, ug, {slides}, {blocks}, {cells}`,
        });
    }
  }
  if (r.receivedTime) body.receivedAt = r.receivedTime;

  r.processing?.forEach((p, n) => {
    const codes = (p.procedure?.coding ?? []).filter((x) => x.system === PROCEDURE.processing.system);
    const sprec = p.extension?.find((e) => e.url === EXTENSION.sprec)?.valueCoding;
    const at = p.timeDateTime ?? p.timePeriod?.start;
    const freezing = codes.some((x) => x.code === PROCEDURE.freezing.code);
    const processing = !freezing && (sprec || codes.some((x) => x.code === PROCEDURE.processing.code));
    // A step stored nowhere would be lost without a word: say so instead (as for a misspelt member).
    if (!freezing && !processing)
      problems.push({
        field: `Specimen.processing[${n}].procedure`,
        message: `a processing step here is coded ${PROCEDURE.processing.system}|${PROCEDURE.processing.code} (processing, with the SPREC extension) or |${PROCEDURE.freezing.code} (freezing); no other step is stored`,
      });
    else if (!at && !sprec)
      problems.push({
        field: `Specimen.processing[${n}].time`,
        message: 'a processing or freezing step states its timeDateTime (or timePeriod.start)',
      });
    if (freezing) {
      if (at) body.frozenAt = at;
    } else if (processing) {
      if (at) body.processedAt = at;
      if (sprec) {
        if (sprec.system !== SPREC || !sprec.code)
          problems.push({
            field: `Specimen.processing[${n}].extension`,
            message: `a SPREC code has system ${SPREC}`,
          });
        else {
          body.sprecCode = sprec.code;
          body.sprecVersion = sprec.version ?? '3.0';
        }
      }
    }
  });

  const pathology = r.extension?.find((e) => e.url === EXTENSION.pathologyStatus)?.valueCode;
  if (pathology !== undefined) {
    const known = PATHOLOGY_STATUSES.find((s) => s === pathology);
    if (known) body.pathologyStatus = known;
    else
      problems.push({
        field: 'Specimen.extension',
        message: `pathology status ${pathology} is not known here`,
      });
  }

  if (problems.length) throw validationFailed(problems);
  return { body, ...(resourceId !== undefined ? { resourceId } : {}), ...(parentId ? { parentId } : {}) };
}
