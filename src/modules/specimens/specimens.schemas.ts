import { isOwnIdentifierSystem } from '../../vocabulary/identifier-systems.js';
import { instant } from '../../clock.js';
import { CUSTODY_EVENT_TYPES } from '../custody/index.js';
import { z } from 'zod';
import { USES } from '../../vocabulary/uses.js';
import { listedOnce } from '../../vocabulary/lists.js';
import { quantityAmount } from '../../vocabulary/quantities.js';
import { SPECIMEN_STATUSES } from './specimens.lifecycle.js';
import { SPECIMEN_TYPES, SPECIMEN_UNITS } from '../../vocabulary/specimen-types.js';
import { HOLD_REASONS, LINEAGES, PATHOLOGY_STATUSES, QC_STATUSES } from './specimens.table.js';

/** As long as a barcode may be (the column's length). */
export const BARCODE_MAX_LENGTH = 64;
export const barcode = z
  .string()
  .trim()
  .min(1)
  .max(BARCODE_MAX_LENGTH)
  .regex(/^[A-Za-z0-9._:/-]+$/, 'letters, digits and . _ : / - only');
export const positionLabelInput = z.string().trim().min(1).max(16).describe('grid position, e.g. B3 or 14');
export { instant } from '../../clock.js';
export const quantity = quantityAmount().describe('amount in the specimen unit (kept with 4 decimals)');
export const qualityMetrics = z
  .record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{0,39}$/), z.number().finite())
  .refine((r) => Object.keys(r).length <= 30, 'at most 30 metrics')
  .describe('quality metrics, e.g. { "rin": 8.1, "concentrationNgUl": 52.3 }');
/**
 * The namespace of an external id: a URI (`urn:oid:2.16.840.1.113883.3.1`,
 * `http://lis.example.org/acc`), a bare OID (`2.16.840.1.113883`) or a token (`LIS`, `LIS-ACC`).
 * Anything else (spaces, a bare number, a stray slash) is a mistake, not a namespace: refused.
 */
const BARE_OID = /^[0-2](?:\.(?:0|[1-9][0-9]*))+$/;

/**
 * One spelling per system, so one accession is one key however it was written: an OID is kept as
 * its URI (`2.16.840.1.113883` and `URN:OID:2.16.840.1.113883` are `urn:oid:2.16.840.1.113883`,
 * as FHIR writes it); any other system as sent.
 */
export function canonicalIdentifierSystem(system: string): string {
  if (BARE_OID.test(system)) return `urn:oid:${system}`;
  const oid = /^urn:oid:(.+)$/i.exec(system)?.[1];
  return oid !== undefined && BARE_OID.test(oid) ? `urn:oid:${oid}` : system;
}

export const identifierSystem = z
  .string()
  .trim()
  .min(1)
  .max(40)
  .regex(
    /^(?:[A-Za-z][A-Za-z0-9._-]*|[0-2](?:\.(?:0|[1-9][0-9]*))+|[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+)$/,
    'a URI, an OID or a token (a letter, then letters, digits and . _ -)',
  )
  .refine(
    (s) => !isOwnIdentifierSystem(s),
    "the biobank's own identifier systems (its ids, barcodes and https://biobank.dev/...) are not external ones",
  )
  .overwrite(canonicalIdentifierSystem);
export const identifierValue = z.string().trim().min(1).max(120);
export const externalId = z.object({ system: identifierSystem, value: identifierValue });
/** A tube's external ids: a pair given twice in one body is refused, not stored twice. */
const externalIdList = listedOnce(externalId, (e) => `${e.system}\n${e.value}`);

export const registerSpecimenInput = z.object({
  barcode,
  type: z.enum(SPECIMEN_TYPES),
  participantId: z.uuid().optional(),
  protocolId: z.uuid().optional(),
  anatomicSite: z.string().trim().max(120).optional(),
  pathologyStatus: z.enum(PATHOLOGY_STATUSES).optional(),
  collectedAt: instant.optional(),
  receivedAt: instant.optional(),
  processedAt: instant.optional(),
  frozenAt: instant.optional(),
  sprecCode: z.string().trim().max(32).optional(),
  sprecVersion: z.string().trim().max(8).optional(),
  quantity,
  unit: z.enum(SPECIMEN_UNITS).optional().describe('defaults to the type’s usual unit'),
  quality: qualityMetrics.optional(),
  externalIds: externalIdList.max(10).optional(),
  containerId: z.uuid().optional().describe('store at once in this box or plate'),
  position: positionLabelInput.optional(),
});
export type RegisterSpecimenInput = z.infer<typeof registerSpecimenInput>;

export const registerSpecimensInput = z.object({
  specimens: z.array(registerSpecimenInput).min(1).max(1000),
});

export const updateSpecimenInput = z
  .object({
    anatomicSite: z.string().trim().max(120).nullable(),
    pathologyStatus: z.enum(PATHOLOGY_STATUSES),
    collectedAt: instant.nullable(),
    receivedAt: instant.nullable(),
    processedAt: instant.nullable(),
    frozenAt: instant.nullable(),
    sprecCode: z.string().trim().max(32).nullable(),
    sprecVersion: z.string().trim().max(8).nullable(),
    quality: qualityMetrics,
    externalIds: externalIdList.max(10),
  })
  .partial()
  .strict();
export type UpdateSpecimenInput = z.infer<typeof updateSpecimenInput>;

const actionBase = {
  occurredAt: instant.optional().describe('when it happened (defaults to now)'),
  note: z.string().trim().max(500).optional(),
};

export const placementInput = z.object({
  ...actionBase,
  containerId: z.uuid(),
  position: positionLabelInput.optional(),
});
export const checkOutInput = z.object({
  ...actionBase,
  use: z.enum(USES).optional().describe('intended use (consent is checked for it)'),
});
export const checkInInput = z.object({
  ...actionBase,
  containerId: z.uuid().optional().describe('defaults to the position it left'),
  position: positionLabelInput.optional(),
  thawed: z.boolean().default(true).describe('the tube was thawed while out: freeze-thaw count +1'),
});
export const consumeInput = z.object({ ...actionBase, quantity });
export const plainActionInput = z.object({ ...actionBase, reason: z.string().trim().max(200).optional() });
export const holdInput = z.object({ ...actionBase, reason: z.enum(HOLD_REASONS) });
/** Receiving a specimen or finding a missing one: where it is put, if it is put away at once. */
export const receiveInput = plainActionInput.extend({
  containerId: z.uuid().optional(),
  position: positionLabelInput.optional(),
});
export const markFoundInput = receiveInput;

export const aliquotInput = z.object({
  ...actionBase,
  use: z.enum(USES).optional(),
  aliquots: z
    .array(
      z.object({
        barcode: barcode
          .optional()
          .describe(
            'generated from the parent barcode when omitted (required when that would pass 64 characters)',
          ),
        quantity,
        containerId: z.uuid().optional(),
        position: positionLabelInput.optional(),
      }),
    )
    .min(1)
    .max(384),
});
export type AliquotInput = z.infer<typeof aliquotInput>;

export const derivativeInput = z.object({
  ...actionBase,
  use: z.enum(USES).optional(),
  type: z.enum(SPECIMEN_TYPES),
  consumedQuantity: quantity.describe('taken from the parent'),
  derivatives: z
    .array(
      z.object({
        barcode: barcode.optional(),
        quantity,
        unit: z.enum(SPECIMEN_UNITS).optional(),
        quality: qualityMetrics.optional(),
        containerId: z.uuid().optional(),
        position: positionLabelInput.optional(),
      }),
    )
    .min(1)
    .max(96),
});
export type DerivativeInput = z.infer<typeof derivativeInput>;

export const specimenListQuery = z.object({
  type: z.enum(SPECIMEN_TYPES).optional(),
  status: z.enum(SPECIMEN_STATUSES).optional(),
  protocolId: z.uuid().optional(),
  participantId: z.uuid().optional(),
  containerId: z.uuid().optional().describe('anywhere in this container’s subtree'),
  collectedFrom: instant.optional(),
  collectedTo: instant.optional(),
  qcStatus: z.enum(QC_STATUSES).optional(),
  held: z.enum(['true', 'false']).optional(),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
export type SpecimenListQuery = z.infer<typeof specimenListQuery>;

export const locationDto = z.object({
  containerId: z.uuid(),
  containerBarcode: z.string(),
  position: z.string().nullable(),
  path: z.string().describe('e.g. "Freezer F-01 / Rack R3 / Box BX-0042 / B3"'),
});

export const specimenDto = z.object({
  id: z.uuid(),
  barcode: z.string(),
  type: z.enum(SPECIMEN_TYPES),
  lineage: z.enum(LINEAGES),
  parentId: z.uuid().nullable(),
  rootId: z.uuid(),
  participantId: z.uuid().nullable(),
  protocolId: z.uuid().nullable(),
  anatomicSite: z.string().nullable(),
  pathologyStatus: z.enum(PATHOLOGY_STATUSES),
  collectedAt: z.string().nullable(),
  receivedAt: z.string().nullable(),
  processedAt: z.string().nullable(),
  frozenAt: z.string().nullable(),
  sprecCode: z.string().nullable(),
  sprecVersion: z.string().nullable(),
  unit: z.enum(SPECIMEN_UNITS),
  initialQuantity: z.number(),
  availableQuantity: z.number(),
  quality: z.record(z.string(), z.number()),
  freezeThawCount: z.number().int(),
  status: z.enum(SPECIMEN_STATUSES),
  holds: z.array(z.string()),
  qcStatus: z.enum(QC_STATUSES),
  location: locationDto.nullable(),
  externalIds: z.array(externalId),
  createdAt: z.string(),
  updatedAt: z.string(),
  version: z.number().int(),
});
export type SpecimenDto = z.infer<typeof specimenDto>;

export const custodyEventDto = z.object({
  id: z.number().int(),
  seq: z.number().int(),
  type: z.enum(CUSTODY_EVENT_TYPES),
  occurredAt: z.string(),
  recordedAt: z.string(),
  actor: z.string(),
  actorIdentity: z
    .object({
      name: z.string().describe("the API key's name, or the system job or command"),
      role: z.string().nullable().describe("the key's role then; null for the system"),
      institutionCode: z.string().nullable().describe("the key's institution; null for the system"),
    })
    .nullable()
    .describe('who acted, as they were at the time (null in events recorded before it was kept)'),
  hashVersion: z.number().int().describe('canonical form the hash covers: 2 includes actorIdentity'),
  requestId: z.string(),
  fromContainerId: z.string().nullable(),
  fromPosition: z.string().nullable(),
  toContainerId: z.string().nullable(),
  toPosition: z.string().nullable(),
  quantityChange: z.number().nullable(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string().nullable(),
  hash: z.string(),
});
