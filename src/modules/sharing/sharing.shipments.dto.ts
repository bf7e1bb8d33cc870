// DTO mapping for shipments, used by REST routes and GraphQL resolvers alike. The requester sees
// an item by its codes, type, quantity and SPREC (and, once received, its own specimen); the
// provider also sees its specimen. Neither sees the other's.
import type { z } from 'zod';
import type { ItemState } from './sharing.lifecycle.js';
import { pickLocation } from './sharing.pick-list.js';
import type { ShipmentView } from './sharing.shipments.js';
import type {
  pickListLineDto,
  scanOutResultDto,
  shipmentDto,
  shipmentItemDto,
} from './sharing.shipments.schemas.js';
import type { ShipmentItemFacts } from './shipment-items.read-model.js';

type Side = 'requester' | 'provider';
type ItemDto = z.infer<typeof shipmentItemDto>;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const toShipmentItemDto = (f: ShipmentItemFacts, side: Side): ItemDto => ({
  id: f.id,
  sampleCode: f.sampleCode,
  donorCode: f.donorCode,
  state: f.state,
  type: f.type as ItemDto['type'],
  quantity: Number(f.quantity),
  unit: f.unit as ItemDto['unit'],
  sprecCode: f.sprecCode,
  freezeThawCount: f.freezeThawCount,
  note: f.note,
  specimen: side === 'provider' ? { id: f.specimenId, barcode: f.barcode } : null,
  receivedSpecimen:
    side === 'requester' && f.receiverSpecimenId
      ? { id: f.receiverSpecimenId, barcode: f.receiverBarcode ?? '' }
      : null,
});

export const toShipmentDto = (v: ShipmentView): z.infer<typeof shipmentDto> => {
  const s = v.shipment;
  const counts: Partial<Record<ItemState, number>> = {};
  for (const i of v.items) counts[i.state] = (counts[i.state] ?? 0) + 1;
  return {
    id: s.id,
    requestId: s.requestId,
    providerInstitutionId: s.providerInstitutionId,
    requesterInstitutionId: s.requesterInstitutionId,
    courier: s.courier,
    trackingNumber: s.trackingNumber,
    shippingTemperature: s.shippingTemperature,
    dispatchedAt: iso(s.dispatchedAt),
    receivedAt: iso(s.receivedAt),
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
    version: s.version,
    counts,
    manifest: v.items.map((i) => toShipmentItemDto(i, v.side)),
  };
};

export const toPickLineDto = (f: ShipmentItemFacts): z.infer<typeof pickListLineDto> => ({
  itemId: f.id,
  sampleCode: f.sampleCode,
  barcode: f.barcode,
  type: f.type as z.infer<typeof pickListLineDto>['type'],
  ...pickLocation(f),
});

export const toScanOutResultDto = (r: {
  item: ShipmentItemFacts;
  scannedOut: number;
  toPick: number;
}): z.infer<typeof scanOutResultDto> => ({
  item: toShipmentItemDto(r.item, 'provider'),
  scannedOut: r.scannedOut,
  toPick: r.toPick,
});
