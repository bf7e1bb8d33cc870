// The receiving side of a shipment: it confirms each item as received, damaged, missing or
// arrived after a temperature excursion, then completes the request. Custody crosses institutions
// here, in one transaction: the provider's tube is delivered (custody `received_by_partner`,
// status `distributed`) or marked missing, and an arriving tube becomes a specimen of the
// receiving institution, registered through the specimen ledger with a first event
// `received_from_institution` carrying the hash of the provider's `shipped` event, so each side
// verifies its own chain and the receiver's names the link (sharing.custody-link.ts).
import { authorize } from '../../auth/roles.js';
import type { Clock } from '../../clock.js';
import type { Ctx } from '../../context.js';
import type { Db, Tx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { inTransaction } from '../../db/transaction.js';
import { batchRejected, validationFailed, type DomainError } from '../../errors.js';
import { recordAudit } from '../audit/index.js';
import { custodyChainsOf } from '../custody/index.js';
import {
  barcodeTaken,
  futureEventTime,
  findSpecimensByBarcodes,
  type NewSpecimen,
  type SpecimenCommand,
  type SpecimenLedger,
  type SpecimenRow,
} from '../specimens/index.js';
import { planPlacements, type PlacementRequest } from '../storage/index.js';
import type { SpecimenType } from '../../vocabulary/specimen-types.js';
import {
  itemAlreadyReceived,
  notInShipment,
  receivedBeforeDispatch,
  relabelRequired,
} from './sharing.errors.js';
import { asView, loadRequest, type SharingRequestView } from './sharing.requests.js';
import { setItems, updateShipment } from './sharing.shipments.repo.js';
import type { ReceiptItemInput, ReceiveSharingItemsInput } from './sharing.shipments.schemas.js';
import { loadShipment, shipmentView, type ShipmentView } from './sharing.shipments.js';
import { appendEvent, applyTransition, assertAllowed } from './sharing.timeline.js';
import type { SharingRequestRow } from './sharing.table.js';
import { shipmentItems, type ShipmentItemFacts } from './shipment-items.read-model.js';

export interface ReceiptDeps {
  db: Db;
  ledger: SpecimenLedger;
  clock: Clock;
}

/** One confirmed line of a receipt: the input, its item, and (arriving) the label it keeps. */
interface Line {
  n: number;
  input: ReceiptItemInput;
  item: ShipmentItemFacts;
  label: string | null;
}

const RECEIVED_STATES: readonly string[] = ['received', 'damaged', 'missing', 'temperature_excursion'];

/** Resolves the receipt's lines against the shipment; every refusal is collected by line. */
async function resolveLines(
  tx: Tx,
  receiverId: string,
  items: ShipmentItemFacts[],
  inputs: ReceiptItemInput[],
): Promise<{ lines: Line[]; errors: Map<number, DomainError>; placements: Map<number, PlacementRequest> }> {
  const errors = new Map<number, DomainError>();
  const bySample = new Map(items.map((i) => [i.sampleCode, i]));
  const byBarcode = new Map(items.map((i) => [i.barcode, i]));
  const named = new Map<string, number>();
  const lines: Line[] = [];
  inputs.forEach((input, n) => {
    const field = `items.${n}.${input.sampleCode !== undefined ? 'sampleCode' : 'barcode'}`;
    const item =
      input.sampleCode !== undefined ? bySample.get(input.sampleCode) : byBarcode.get(input.barcode!);
    if (!item) {
      const ref = input.sampleCode !== undefined ? `item ${input.sampleCode}` : `tube ${input.barcode}`;
      errors.set(n, notInShipment(ref, field));
    } else if (RECEIVED_STATES.includes(item.state)) {
      errors.set(n, itemAlreadyReceived(item.sampleCode, item.state, field));
    } else if (named.has(item.id)) {
      errors.set(n, validationFailed([{ field, message: `item ${item.sampleCode} is named twice` }]));
    } else {
      named.set(item.id, n);
      lines.push({
        n,
        input,
        item,
        label: input.outcome === 'missing' ? null : (input.relabel ?? item.barcode),
      });
    }
  });
  // The kept (or new) label must be free at the receiver and unique within the receipt.
  const arriving = lines.filter((l) => l.label !== null);
  const taken = new Set(
    (
      await findSpecimensByBarcodes(
        tx,
        receiverId,
        arriving.map((l) => l.label!),
      )
    ).map((s) => s.barcode),
  );
  const firstWith = new Map<string, number>();
  for (const l of arriving) {
    const field = `items.${l.n}.relabel`;
    const first = firstWith.get(l.label!);
    if (first !== undefined) errors.set(l.n, barcodeTaken(l.label!, field, first));
    else if (taken.has(l.label!))
      errors.set(l.n, l.input.relabel ? barcodeTaken(l.label!, field) : relabelRequired(l.label!, field));
    else firstWith.set(l.label!, l.n);
  }
  const placements = new Map<number, PlacementRequest>();
  for (const l of arriving)
    if (l.input.containerId)
      placements.set(l.n, {
        index: l.n,
        field: `items.${l.n}.`,
        containerId: l.input.containerId,
        position: l.input.position,
        type: l.item.type,
      });
  return { lines, errors, placements };
}

/** The hash of the latest `shipped` event of each provider tube (its chain is locked). */
async function shippedHashes(tx: Tx, specimenIds: string[]): Promise<Map<string, string>> {
  const chains = await custodyChainsOf(tx, specimenIds);
  const out = new Map<string, string>();
  for (const [id, events] of chains) {
    const shipped = events.findLast((e) => e.type === 'shipped');
    if (shipped) out.set(id, shipped.hash);
  }
  return out;
}

export function createReceipt(deps: ReceiptDeps) {
  const { db, ledger, clock } = deps;

  /** Holds on the new tubes: quarantine for what arrived damaged or warm, the provider's withdrawal. */
  async function holdArrivals(
    tx: Tx,
    ctx: Ctx,
    born: Map<string, SpecimenRow>,
    arrivals: { line: Line; specimenId: string; providerHeld: boolean }[],
    request: SharingRequestRow,
  ): Promise<void> {
    const details = (l: Line) => ({ requestId: request.id, sampleCode: l.item.sampleCode });
    const quarantine = arrivals.filter(
      (a) => a.line.input.outcome === 'damaged' || a.line.input.outcome === 'temperature_excursion',
    );
    // Two passes: each command must see the row the previous one left.
    for (const r of await ledger.apply(
      tx,
      ctx,
      quarantine.map((a) => ({
        kind: 'place_hold' as const,
        specimen: born.get(a.specimenId)!,
        reason: 'QUARANTINE' as const,
        action: 'receiveSharingItems',
        details: { ...details(a.line), receipt: a.line.input.outcome },
      })),
    ))
      born.set(r.id, r);
    await ledger.apply(
      tx,
      ctx,
      arrivals
        .filter((a) => a.providerHeld)
        .map((a) => ({
          kind: 'place_hold' as const,
          specimen: born.get(a.specimenId)!,
          reason: 'PROVIDER_CONSENT_WITHDRAWN' as const,
          action: 'receiveSharingItems',
          details: { ...details(a.line), providerInstitutionId: request.providerInstitutionId },
        })),
    );
  }

  return {
    /**
     * Confirms items of a dispatched shipment (the receiving side), each by sample code or by the
     * label scanned on the tube. Arriving tubes become specimens of the receiving institution
     * (kept label, or `relabel` when it collides there; stored at once when a box is named);
     * damaged or warm ones are quarantined; a tube whose donor withdrew consent at the provider
     * in transit arrives on hold. When no item is left unconfirmed the request moves to
     * `received` (the provider is told). All or nothing. Throws FORBIDDEN,
     * SHARING_REQUEST_NOT_FOUND, INVALID_REQUEST_TRANSITION, SHIPMENT_NOT_FOUND, NOT_IN_SHIPMENT,
     * ITEM_ALREADY_RECEIVED, RELABEL_REQUIRED, BARCODE_TAKEN, VALIDATION_FAILED, CONTAINER_NOT_FOUND,
     * POSITION_*, TYPE_NOT_ALLOWED, INVALID_TRANSITION, or BATCH_REJECTED listing several.
     */
    async receiveSharingItems(
      ctx: Ctx,
      input: { id: string } & ReceiveSharingItemsInput,
    ): Promise<ShipmentView> {
      authorize(ctx.actor, 'sharing.receive');
      return inTransaction(db, ctx, async (tx) => {
        const { request, side, shipment } = await loadShipment(tx, ctx, input.id, { lock: true });
        assertAllowed(request, 'receive', side, 'receiveSharingItems');
        const receiverId = request.requesterInstitutionId;
        const items = await shipmentItems(tx, request.id);
        const { lines, errors, placements } = await resolveLines(tx, receiverId, items, input.items);
        const plan = await planPlacements(tx, receiverId, [...placements.values()]);
        for (const [n, e] of plan.errors) if (!errors.has(n)) errors.set(n, e);
        if (errors.size === 1) throw [...errors.values()][0]!;
        if (errors.size > 1) throw batchRejected(errors, input.items.length);

        const now = clock();
        const when = input.receivedAt ? new Date(input.receivedAt) : now;
        const future = futureEventTime([when], now, 'receivedAt');
        if (future) throw future;
        if (shipment.dispatchedAt && when < shipment.dispatchedAt)
          throw receivedBeforeDispatch(when, shipment.dispatchedAt);
        const provider = new Map(
          (
            await ledger.lock(
              tx,
              request.providerInstitutionId,
              lines.map((l) => l.item.specimenId),
            )
          ).map((r) => [r.id, r]),
        );
        const arriving = lines.filter((l) => l.label !== null);
        const hashes = await shippedHashes(
          tx,
          arriving.map((l) => l.item.specimenId),
        );
        await ledger.apply(
          tx,
          ctx,
          lines.map((l): SpecimenCommand => {
            const specimen = provider.get(l.item.specimenId)!;
            const base = { specimen, occurredAt: when, action: 'receiveSharingItems' };
            return l.label === null
              ? {
                  ...base,
                  kind: 'mark_missing',
                  reason: `not received by the requesting institution (request ${request.id}, item ${l.item.sampleCode})`,
                }
              : {
                  ...base,
                  kind: 'deliver',
                  details: {
                    requestId: request.id,
                    sampleCode: l.item.sampleCode,
                    recipientInstitutionId: receiverId,
                    outcome: l.input.outcome,
                  },
                };
          }),
        );
        const arrivals = arriving.map((l) => ({ line: l, specimenId: newId() }));
        const newSpecimens: NewSpecimen[] = arrivals.map(({ line: l, specimenId: id }) => ({
          row: {
            id,
            institutionId: receiverId,
            barcode: l.label!,
            type: l.item.type as SpecimenType,
            lineage: 'primary',
            rootId: id,
            participantId: null,
            protocolId: null,
            receivedAt: when,
            sprecCode: l.item.sprecCode,
            sprecVersion: l.item.sprecVersion,
            unit: l.item.unit as NewSpecimen['row']['unit'],
            initialQuantity: Number(l.item.quantity),
            availableQuantity: Number(l.item.quantity),
            freezeThawCount: l.item.freezeThawCount,
          },
          placement: plan.placements.get(l.n) ?? null,
          occurredAt: when,
          origin: {
            kind: 'received_from_institution',
            link: {
              providerInstitutionId: request.providerInstitutionId,
              shippedEventHash: hashes.get(l.item.specimenId) ?? '',
              requestId: request.id,
              sampleCode: l.item.sampleCode,
              ...(l.label !== l.item.barcode ? { relabelledFrom: l.item.barcode } : {}),
            },
          },
        }));
        const born = new Map(
          (await ledger.register(tx, ctx, newSpecimens, 'receiveSharingItems')).map((r) => [r.id, r]),
        );
        await holdArrivals(
          tx,
          ctx,
          born,
          arrivals.map((a) => ({
            ...a,
            providerHeld: provider.get(a.line.item.specimenId)!.holds.includes('CONSENT_WITHDRAWN'),
          })),
          request,
        );
        await setItems(tx, request.id, [
          ...arrivals.map((a) => ({
            id: a.line.item.id,
            state: a.line.input.outcome,
            receiverSpecimenId: a.specimenId,
            ...(a.line.input.note ? { note: a.line.input.note } : {}),
          })),
          ...lines
            .filter((l) => l.label === null)
            .map((l) => ({ id: l.item.id, state: 'missing' as const, note: l.input.note ?? null })),
        ]);
        const outcomes = (from: { sampleCode: string; outcome: string }[]) =>
          Object.fromEntries(
            ['received', 'damaged', 'temperature_excursion', 'missing'].map((o) => [
              o,
              from.filter((x) => x.outcome === o).map((x) => x.sampleCode),
            ]),
          );
        await appendEvent(
          tx,
          ctx,
          request.id,
          {
            step: 'receive_items',
            from: request.state,
            to: request.state,
            details: outcomes(
              lines.map((l) => ({ sampleCode: l.item.sampleCode, outcome: l.input.outcome })),
            ),
            notify: false,
          },
          now,
        );
        const confirmed = new Set(lines.map((l) => l.item.id));
        const complete = !items.some((i) => i.state === 'shipped' && !confirmed.has(i.id));
        // Each receipt changes the manifest: the shipment's version (its ETag) moves with it.
        const after = await updateShipment(tx, shipment, complete ? { receivedAt: when } : {});
        if (!complete) return shipmentView(tx, after, side);
        await recordAudit(tx, ctx, {
          action: 'receiveSharingItems',
          entityType: 'shipment',
          entityId: shipment.id,
          institutionId: receiverId,
          before: shipment,
          after,
        });
        const all = await shipmentItems(tx, request.id);
        await applyTransition(tx, ctx, request, 'receive', side, {
          operation: 'receiveSharingItems',
          now,
          details: {
            shipmentId: shipment.id,
            ...outcomes(all.map((i) => ({ sampleCode: i.sampleCode, outcome: i.state }))),
          },
        });
        return shipmentView(tx, after, side);
      });
    },

    /**
     * Closes a received request (the requester): the transfer is done. Throws FORBIDDEN,
     * SHARING_REQUEST_NOT_FOUND, INVALID_REQUEST_TRANSITION.
     */
    async completeSharingRequest(ctx: Ctx, id: string): Promise<SharingRequestView> {
      authorize(ctx.actor, 'sharing.request');
      return inTransaction(db, ctx, async (tx) => {
        const { row: before, side } = await loadRequest(tx, ctx, id, { lock: true });
        const row = await applyTransition(tx, ctx, before, 'complete', side, {
          operation: 'completeSharingRequest',
          now: clock(),
        });
        return asView({ row, side });
      });
    },
  };
}
