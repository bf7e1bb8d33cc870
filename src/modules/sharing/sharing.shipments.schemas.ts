import { z } from 'zod';
import { SPECIMEN_TYPES, SPECIMEN_UNITS } from '../../vocabulary/specimen-types.js';
import { specimenBarcode } from '../specimens/index.js';
import { ITEM_STATES } from './sharing.lifecycle.js';
import { SHIPPING_TEMPERATURES } from './sharing.table.js';
import { instant } from '../../clock.js';

// Shipment and receipt schemas REST and GraphQL both validate with.

const barcode = z.string().trim().min(1).max(64);
const when = instant.optional().describe('when it happened (the scanner’s clock); default now');

export const scanOutSharingItemInput = z
  .object({
    barcode: barcode.describe('the label scanned on the tube'),
    occurredAt: when,
  })
  .strict();
export type ScanOutSharingItemInput = z.infer<typeof scanOutSharingItemInput>;

export const dispatchSharingShipmentInput = z
  .object({
    courier: z.string().trim().min(1).max(120),
    trackingNumber: z.string().trim().min(1).max(120),
    shippingTemperature: z
      .enum(SHIPPING_TEMPERATURES)
      .describe('ambient, 2_8c (2-8 °C), dry_ice, ln2_dry_shipper'),
    releaseUnscanned: z
      .boolean()
      .default(false)
      .describe('send what was scanned out and release the reserved items that were not'),
    dispatchedAt: when,
  })
  .strict();
export type DispatchSharingShipmentInput = z.infer<typeof dispatchSharingShipmentInput>;

/** What the receiving side found for an item. */
export const RECEIPT_OUTCOMES = ['received', 'damaged', 'missing', 'temperature_excursion'] as const;
export type ReceiptOutcome = (typeof RECEIPT_OUTCOMES)[number];

const receiptItem = z
  .object({
    sampleCode: z.string().trim().min(1).max(16).optional().describe('the item’s code on the manifest'),
    barcode: barcode.optional().describe('or the label scanned on the tube'),
    outcome: z.enum(RECEIPT_OUTCOMES),
    // A label of ours: the rules every barcode registered here follows, or it could not be scanned.
    relabel: specimenBarcode
      .optional()
      .describe('a new label for the tube at your institution (required when its label is one you use)'),
    containerId: z.uuid().optional().describe('store it at once: a box of yours'),
    position: z.string().trim().min(1).max(16).optional(),
    note: z.string().trim().min(1).max(500).optional(),
  })
  .strict()
  .refine((i) => (i.sampleCode === undefined) !== (i.barcode === undefined), {
    path: ['sampleCode'],
    message: 'name the item by its sampleCode or by its barcode (one of the two)',
  })
  .refine(
    (i) =>
      i.outcome !== 'missing' ||
      (i.relabel === undefined && i.containerId === undefined && i.position === undefined),
    { path: ['outcome'], message: 'a missing item has no label or place' },
  )
  .refine((i) => i.position === undefined || i.containerId !== undefined, {
    path: ['containerId'],
    message: 'a position needs its container',
  });

export const receiveSharingItemsInput = z
  .object({
    items: z.array(receiptItem).min(1).max(1000),
    receivedAt: when,
  })
  .strict();
export type ReceiveSharingItemsInput = z.infer<typeof receiveSharingItemsInput>;
export type ReceiptItemInput = ReceiveSharingItemsInput['items'][number];

export const shipmentItemDto = z.object({
  id: z.uuid(),
  sampleCode: z.string(),
  donorCode: z
    .string()
    .describe('groups the tubes of one donor within the request; says nothing of the donor'),
  state: z.enum(ITEM_STATES),
  type: z.enum(SPECIMEN_TYPES),
  quantity: z.number(),
  unit: z.enum(SPECIMEN_UNITS),
  sprecCode: z.string().nullable(),
  freezeThawCount: z.number().int(),
  note: z.string().nullable(),
  specimen: z
    .object({ id: z.uuid(), barcode: z.string() })
    .nullable()
    .describe("the provider's specimen: shown to the provider only"),
  receivedSpecimen: z
    .object({ id: z.uuid(), barcode: z.string() })
    .nullable()
    .describe('the specimen the receiving institution made of it: shown to the receiver only'),
});

export const shipmentDto = z.object({
  id: z.uuid(),
  requestId: z.uuid(),
  providerInstitutionId: z.uuid(),
  requesterInstitutionId: z.uuid(),
  courier: z.string().nullable(),
  trackingNumber: z.string().nullable(),
  shippingTemperature: z.enum(SHIPPING_TEMPERATURES).nullable(),
  dispatchedAt: z.string().nullable(),
  receivedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  version: z.number().int(),
  counts: z
    .partialRecord(z.enum(ITEM_STATES), z.number().int())
    .describe('manifest items by state (items not in the shipment are not counted)'),
  manifest: z.array(shipmentItemDto).describe('every item of the shipment, by sample code'),
});

export const pickListLineDto = z.object({
  itemId: z.uuid(),
  sampleCode: z.string(),
  barcode: z.string(),
  type: z.enum(SPECIMEN_TYPES),
  freezer: z.string().nullable().describe('freezer, LN2 tank or refrigerator'),
  rack: z.string().nullable().describe('rack or shelf'),
  box: z.string().nullable().describe('box or plate (its name and barcode)'),
  position: z.string().nullable(),
  path: z.string().nullable().describe('the whole location path'),
});

export const pickListDto = z.object({
  requestId: z.uuid(),
  lines: z
    .array(pickListLineDto)
    .describe('reserved tubes not yet scanned out, by freezer, rack, box, position'),
});

export const scanOutResultDto = z.object({
  item: shipmentItemDto,
  scannedOut: z.number().int().describe('tubes scanned out into the shipment so far'),
  toPick: z.number().int().describe('reserved tubes still to scan out'),
});
