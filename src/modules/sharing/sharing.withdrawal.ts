// A donor's consent withdrawal at the provider, as sharing honours it. The consent cascade calls
// this subscriber (consent's `WithdrawalSubscriber`, injected by the composition root so consent
// never imports sharing) in the transaction that holds the donor's tubes, with the tubes it just
// held. Per request, one timeline event, and the other institution hears of it by webhook:
// - items of an open request, tube not yet dispatched: taken out of the request (`withdrawn`), a
//   reservation released through the ledger (custody `reservation_released`); a reserved request
//   is then checked by a job, which cancels it when no tube is left (`cancel_emptied`);
// - tubes in transit: the requester is told now; receipt places the hold (sharing.receipt.ts);
// - tubes the requester already received: its own specimen gets a PROVIDER_CONSENT_WITHDRAWN hold
//   through the ledger (custody `hold_placed`, at the receiver).
// Timeline details name sample codes and the receiver's own specimens, never the provider's.
import type { Clock } from '../../clock.js';
import type { Ctx } from '../../context.js';
import type { Tx } from '../../db/client.js';
import { enqueueJob } from '../../jobs/outbox.js';
import type { WithdrawalSubscriber } from '../consent/index.js';
import type { SpecimenLedger, SpecimenRow } from '../specimens/index.js';
import type { ItemState, RequestState } from './sharing.lifecycle.js';
import { cancelEmptiedSharingRequestJob } from './sharing.jobs.js';
import { itemsOfSpecimens, setItems, type ItemWithRequest } from './sharing.shipments.repo.js';
import { appendEvent } from './sharing.timeline.js';

/** Requests whose items still stay with the provider (the tubes have not left). */
const OPEN_REQUESTS: readonly RequestState[] = ['submitted', 'under_review', 'approved', 'reserved'];
const RECEIVED_ITEMS: readonly ItemState[] = ['received', 'damaged', 'temperature_excursion'];
/** A hold can no longer be placed on these (the lifecycle refuses it). */
const GONE: readonly SpecimenRow['status'][] = ['distributed', 'consumed', 'destroyed'];
const WHY = 'the donor withdrew consent at the providing institution';

function byRequest(items: ItemWithRequest[]): Map<string, ItemWithRequest[]> {
  const out = new Map<string, ItemWithRequest[]>();
  for (const i of items) out.set(i.item.requestId, [...(out.get(i.item.requestId) ?? []), i]);
  return out;
}

export function createSharingWithdrawal(deps: {
  ledger: SpecimenLedger;
  clock: Clock;
}): WithdrawalSubscriber {
  const { ledger } = deps;

  /** Takes the items out of an open request, releasing what was reserved (or packed, not dispatched). */
  async function withdrawItems(tx: Tx, ctx: Ctx, items: ItemWithRequest[], scope: string): Promise<void> {
    const first = items[0]!;
    const held = items.filter((i) => i.item.state !== 'proposed');
    const codeOf = new Map(items.map((i) => [i.item.specimenId, i.item.sampleCode]));
    const rows = await ledger.lock(
      tx,
      first.item.providerInstitutionId,
      held.map((i) => i.item.specimenId),
    );
    await ledger.apply(
      tx,
      ctx,
      rows
        .filter((r) => r.status === 'reserved' || r.status === 'shipped')
        .map((r) => ({
          kind: 'release_reservation' as const,
          specimen: r,
          action: 'withdrawConsent',
          details: { requestId: first.item.requestId, sampleCode: codeOf.get(r.id), reason: WHY },
        })),
    );
    await setItems(
      tx,
      first.item.requestId,
      items.map((i) => ({ id: i.item.id, state: 'withdrawn' as const })),
    );
    await appendEvent(
      tx,
      ctx,
      first.item.requestId,
      {
        step: 'withdraw_items',
        from: first.requestState,
        to: first.requestState,
        reason: WHY,
        details: { sampleCodes: items.map((i) => i.item.sampleCode), consentScope: scope },
        notify: true,
      },
      deps.clock(),
    );
  }

  /** Holds the receiver's own specimens made from the items (tubes in transit are held on receipt). */
  async function holdAtReceiver(
    tx: Tx,
    ctx: Ctx,
    received: ItemWithRequest[],
    inTransit: ItemWithRequest[],
    scope: string,
  ): Promise<void> {
    const first = (received[0] ?? inTransit[0])!;
    const codeOf = new Map(received.map((i) => [i.item.receiverSpecimenId, i.item.sampleCode]));
    const rows = await ledger.lock(
      tx,
      first.requesterInstitutionId,
      received.map((i) => i.item.receiverSpecimenId!),
    );
    const holdable = rows.filter(
      (r) => !GONE.includes(r.status) && !r.holds.includes('PROVIDER_CONSENT_WITHDRAWN'),
    );
    await ledger.apply(
      tx,
      ctx,
      holdable.map((r) => ({
        kind: 'place_hold' as const,
        specimen: r,
        reason: 'PROVIDER_CONSENT_WITHDRAWN' as const,
        action: 'withdrawConsent',
        details: {
          requestId: first.item.requestId,
          sampleCode: codeOf.get(r.id),
          providerInstitutionId: first.item.providerInstitutionId,
          consentScope: scope,
        },
      })),
    );
    await appendEvent(
      tx,
      ctx,
      first.item.requestId,
      {
        step: 'consent_withdrawn',
        from: first.requestState,
        to: first.requestState,
        reason: WHY,
        details: {
          sampleCodes: [...received, ...inTransit].map((i) => i.item.sampleCode),
          inTransit: inTransit.map((i) => i.item.sampleCode),
          receivedSpecimenIds: received.map((i) => i.item.receiverSpecimenId!),
          held: holdable.map((r) => r.id),
          consentScope: scope,
        },
        notify: true,
      },
      deps.clock(),
    );
  }

  return {
    async onSpecimensWithdrawn(tx, ctx, event) {
      const items = await itemsOfSpecimens(tx, event.specimenIds, [
        'proposed',
        'reserved',
        'shipped',
        ...RECEIVED_ITEMS,
      ]);
      for (const group of byRequest(items).values()) {
        const state = group[0]!.requestState;
        if (OPEN_REQUESTS.includes(state)) {
          const open = group.filter((i) => ['proposed', 'reserved', 'shipped'].includes(i.item.state));
          if (open.length) await withdrawItems(tx, ctx, open, event.scope);
          if (open.length && state === 'reserved')
            await enqueueJob(tx, ctx, cancelEmptiedSharingRequestJob, {
              sharingRequestId: group[0]!.item.requestId,
            });
          continue;
        }
        const received = group.filter(
          (i) => RECEIVED_ITEMS.includes(i.item.state) && i.item.receiverSpecimenId,
        );
        const inTransit = state === 'shipped' ? group.filter((i) => i.item.state === 'shipped') : [];
        if (received.length || inTransit.length)
          await holdAtReceiver(tx, ctx, received, inTransit, event.scope);
      }
    },
  };
}
