// The provider's side of a shipment: prepare it for a reserved request (manifest and pick list),
// scan tubes out one by one (consent checked again at that moment, the position freed, custody
// `shipped` through the specimen ledger), and dispatch it with the courier's facts, which moves
// the request to `shipped` and tells the requester. Both sides read the shipment; each sees only
// its own specimens in it (sharing.shipments.dto.ts).
import { authorize } from '../../auth/roles.js';
import type { Clock } from '../../clock.js';
import type { Ctx } from '../../context.js';
import type { Db, DbOrTx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { inTransaction } from '../../db/transaction.js';
import { forbidden } from '../../errors.js';
import { recordAudit } from '../audit/index.js';
import type { ConsentGate } from '../consent/index.js';
import { futureEventTime, specimenNotFound, type SpecimenLedger } from '../specimens/index.js';
import {
  itemAlreadyShipped,
  itemNotReserved,
  notInShipment,
  reservationExpired,
  shipmentEmpty,
  shipmentExists,
  shipmentIncomplete,
  shipmentNotFound,
} from './sharing.errors.js';
import type { Side } from './sharing.lifecycle.js';
import { pickOrder } from './sharing.pick-list.js';
import { loadRequest } from './sharing.requests.js';
import {
  findItemOfSpecimen,
  findShipment,
  insertShipment,
  setItems,
  updateShipment,
} from './sharing.shipments.repo.js';
import type { DispatchSharingShipmentInput, ScanOutSharingItemInput } from './sharing.shipments.schemas.js';
import type { SharingRequestRow, ShipmentRow } from './sharing.table.js';
import { appendEvent, applyTransition, assertAllowed } from './sharing.timeline.js';
import { shipmentItems, type ShipmentItemFacts } from './shipment-items.read-model.js';
import { assertRequestStillCovered } from './sharing.agreements.js';

/** A shipment as one side sees it, with its manifest. */
export interface ShipmentView {
  shipment: ShipmentRow;
  side: 'requester' | 'provider';
  items: ShipmentItemFacts[];
}

export interface ShipmentDeps {
  db: Db;
  ledger: SpecimenLedger;
  /** consent is checked again as each tube leaves (issue 10, point 6) */
  gate: Pick<ConsentGate, 'assertUsable'>;
  clock: Clock;
  /** the provider's calendar day, for the agreement's validity at dispatch */
  today: () => string;
}

const viewSide = (side: Side): ShipmentView['side'] => (side === 'requester' ? 'requester' : 'provider');
const at = (iso: string | undefined) => (iso ? new Date(iso) : null);

/** The request (locked when asked) and its shipment. Throws SHARING_REQUEST_NOT_FOUND, SHIPMENT_NOT_FOUND. */
export async function loadShipment(
  handle: DbOrTx,
  ctx: Ctx,
  requestId: string,
  opts: { lock?: boolean } = {},
): Promise<{ request: SharingRequestRow; side: Side; shipment: ShipmentRow }> {
  const { row: request, side } = await loadRequest(handle, ctx, requestId, opts);
  const shipment = await findShipment(handle, request.id, opts);
  if (!shipment) throw shipmentNotFound(requestId);
  return { request, side, shipment };
}

export async function shipmentView(handle: DbOrTx, shipment: ShipmentRow, side: Side): Promise<ShipmentView> {
  return { shipment, side: viewSide(side), items: await shipmentItems(handle, shipment.requestId) };
}

export function createShipments(deps: ShipmentDeps) {
  const { db, ledger, clock } = deps;

  /** Nothing leaves after the deadline, though the expiry job has not run yet (it runs every few minutes). */
  const assertReservationLive = (request: SharingRequestRow) => {
    if (request.reservationDeadline && request.reservationDeadline <= clock())
      throw reservationExpired(request.reservationDeadline);
  };

  return {
    /**
     * Prepares the shipment of a reserved request (the provider): its manifest is the reserved
     * items. Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND, INVALID_REQUEST_TRANSITION (not reserved),
     * SHIPMENT_EXISTS.
     */
    async createSharingShipment(ctx: Ctx, id: string): Promise<ShipmentView> {
      authorize(ctx.actor, 'sharing.ship');
      return inTransaction(db, ctx, async (tx) => {
        const { row: request, side } = await loadRequest(tx, ctx, id, { lock: true });
        assertAllowed(request, 'ship', side, 'createSharingShipment');
        if (await findShipment(tx, request.id)) throw shipmentExists();
        const shipment = await insertShipment(tx, {
          id: newId(),
          requestId: request.id,
          providerInstitutionId: request.providerInstitutionId,
          requesterInstitutionId: request.requesterInstitutionId,
        });
        await appendEvent(
          tx,
          ctx,
          request.id,
          {
            step: 'prepare_shipment',
            from: request.state,
            to: request.state,
            details: { shipmentId: shipment.id },
            notify: false,
          },
          clock(),
        );
        await recordAudit(tx, ctx, {
          action: 'createSharingShipment',
          entityType: 'shipment',
          entityId: shipment.id,
          institutionId: request.providerInstitutionId,
          after: shipment,
        });
        return shipmentView(tx, shipment, side);
      });
    },

    /** The shipment and its manifest, as the caller's side sees it. Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND, SHIPMENT_NOT_FOUND. */
    async getSharingShipment(ctx: Ctx, id: string): Promise<ShipmentView> {
      authorize(ctx.actor, 'sharing.read');
      const { shipment, side } = await loadShipment(db, ctx, id);
      return shipmentView(db, shipment, side);
    },

    /**
     * The reserved tubes still to scan out, in the order to walk them: freezer, rack, box,
     * position. The provider's only. Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND, SHIPMENT_NOT_FOUND.
     */
    async getSharingPickList(
      ctx: Ctx,
      id: string,
    ): Promise<{ requestId: string; lines: ShipmentItemFacts[] }> {
      authorize(ctx.actor, 'sharing.ship');
      const { request, side } = await loadShipment(db, ctx, id);
      if (side === 'requester') throw forbidden('the requester', 'getSharingPickList');
      const lines = await shipmentItems(db, request.id, ['reserved']);
      return { requestId: request.id, lines: lines.sort(pickOrder) };
    },

    /**
     * Scans one tube out into the shipment: it must be an item of this request still reserved for
     * it, its donor's consent must still permit the request's use, and no hold may block it; the
     * ledger ships it (custody `shipped`, position freed). Throws FORBIDDEN,
     * SHARING_REQUEST_NOT_FOUND, INVALID_REQUEST_TRANSITION, SHIPMENT_NOT_FOUND, SPECIMEN_NOT_FOUND,
     * NOT_IN_SHIPMENT, ITEM_ALREADY_SHIPPED, ITEM_NOT_RESERVED, CONSENT_NOT_GRANTED,
     * SPECIMEN_ON_HOLD, INVALID_TRANSITION, AGREEMENT_NOT_IN_FORCE, USE_NOT_IN_AGREEMENT.
     */
    async scanOutSharingItem(
      ctx: Ctx,
      input: { id: string } & ScanOutSharingItemInput,
    ): Promise<{ item: ShipmentItemFacts; scannedOut: number; toPick: number }> {
      authorize(ctx.actor, 'sharing.ship');
      return inTransaction(db, ctx, async (tx) => {
        const { row: request, side } = await loadRequest(tx, ctx, input.id, { lock: true });
        assertAllowed(request, 'ship', side, 'scanOutSharingItem');
        assertReservationLive(request);
        // A tube is not taken out of its box for a transfer the agreement no longer allows.
        await assertRequestStillCovered(tx, request, deps.today());
        const shipment = await findShipment(tx, request.id);
        if (!shipment) throw shipmentNotFound(input.id);
        const [tube] = await ledger.lockByBarcodes(tx, request.providerInstitutionId, [input.barcode]);
        if (!tube) throw specimenNotFound(input.barcode, 'barcode');
        const item = await findItemOfSpecimen(tx, request.id, tube.id);
        if (!item) throw notInShipment(`tube ${input.barcode}`, 'barcode');
        if (item.state === 'shipped') throw itemAlreadyShipped(`tube ${input.barcode}`, 'barcode');
        if (item.state !== 'reserved') throw itemNotReserved(`tube ${input.barcode}`, item.state, 'barcode');
        await deps.gate.assertUsable(tx, ctx, [tube], request.use);
        await ledger.apply(tx, ctx, [
          {
            kind: 'ship',
            specimen: tube,
            occurredAt: at(input.occurredAt),
            action: 'scanOutSharingItem',
            details: {
              requestId: request.id,
              shipmentId: shipment.id,
              sampleCode: item.sampleCode,
              recipientInstitutionId: request.requesterInstitutionId,
            },
          },
        ]);
        await setItems(tx, request.id, [{ id: item.id, state: 'shipped' }]);
        await appendEvent(
          tx,
          ctx,
          request.id,
          {
            step: 'scan_out',
            from: request.state,
            to: request.state,
            details: { sampleCode: item.sampleCode },
            notify: false,
          },
          clock(),
        );
        const items = await shipmentItems(tx, request.id, ['reserved', 'shipped']);
        return {
          item: items.find((i) => i.id === item.id)!,
          scannedOut: items.filter((i) => i.state === 'shipped').length,
          toPick: items.filter((i) => i.state === 'reserved').length,
        };
      });
    },

    /**
     * Sends the shipment: records the courier, tracking number and shipping temperature and moves
     * the request to `shipped` (the requester is told). Reserved items not scanned out refuse the
     * dispatch unless `releaseUnscanned`, which releases them (custody `reservation_released`).
     * The tubes leave under the agreement: one run out or narrowed since approval refuses the
     * dispatch. Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND, INVALID_REQUEST_TRANSITION,
     * SHIPMENT_NOT_FOUND, SHIPMENT_EMPTY, SHIPMENT_INCOMPLETE, AGREEMENT_NOT_FOUND,
     * AGREEMENT_NOT_IN_FORCE, USE_NOT_IN_AGREEMENT.
     */
    async dispatchSharingShipment(
      ctx: Ctx,
      input: { id: string } & DispatchSharingShipmentInput,
    ): Promise<ShipmentView> {
      authorize(ctx.actor, 'sharing.ship');
      // A dispatch dated ahead would leave every receipt "before the dispatch", the request stuck.
      const ahead = futureEventTime([at(input.dispatchedAt)], clock(), 'dispatchedAt');
      if (ahead) throw ahead;
      return inTransaction(db, ctx, async (tx) => {
        const { request, side, shipment } = await loadShipment(tx, ctx, input.id, { lock: true });
        assertAllowed(request, 'ship', side, 'dispatchSharingShipment');
        assertReservationLive(request);
        await assertRequestStillCovered(tx, request, deps.today());
        const items = await shipmentItems(tx, request.id, ['reserved', 'shipped']);
        const packed = items.filter((i) => i.state === 'shipped');
        const unscanned = items.filter((i) => i.state === 'reserved');
        if (packed.length === 0) throw shipmentEmpty();
        if (unscanned.length && !input.releaseUnscanned)
          throw shipmentIncomplete(unscanned.map((i) => i.sampleCode));
        if (unscanned.length) {
          const rows = await ledger.lock(
            tx,
            request.providerInstitutionId,
            unscanned.map((i) => i.specimenId),
          );
          const codeOf = new Map(unscanned.map((i) => [i.specimenId, i.sampleCode]));
          // A tube that left the reserved status some other way (destroyed, missing) has nothing to release.
          await ledger.apply(
            tx,
            ctx,
            rows
              .filter((r) => r.status === 'reserved')
              .map((r) => ({
                kind: 'release_reservation' as const,
                specimen: r,
                action: 'dispatchSharingShipment',
                details: {
                  requestId: request.id,
                  sampleCode: codeOf.get(r.id),
                  reason: 'not scanned out when the shipment was dispatched',
                },
              })),
          );
          await setItems(
            tx,
            request.id,
            unscanned.map((i) => ({ id: i.id, state: 'released' as const })),
          );
        }
        const now = clock();
        const after = await updateShipment(tx, shipment, {
          courier: input.courier,
          trackingNumber: input.trackingNumber,
          shippingTemperature: input.shippingTemperature,
          dispatchedAt: at(input.dispatchedAt) ?? now,
        });
        await recordAudit(tx, ctx, {
          action: 'dispatchSharingShipment',
          entityType: 'shipment',
          entityId: shipment.id,
          institutionId: request.providerInstitutionId,
          before: shipment,
          after,
        });
        await applyTransition(tx, ctx, request, 'ship', side, {
          operation: 'dispatchSharingShipment',
          now,
          details: {
            shipmentId: shipment.id,
            items: packed.length,
            released: unscanned.map((i) => i.sampleCode),
            courier: input.courier,
            trackingNumber: input.trackingNumber,
            shippingTemperature: input.shippingTemperature,
          },
        });
        return shipmentView(tx, after, side);
      });
    },
  };
}
