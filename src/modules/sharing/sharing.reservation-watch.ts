// Tubes reserved for a request and then destroyed or reported missing at the provider (a dropped
// tube, a freezer failure, an inventory count). The specimen ledger tells this listener in the
// transaction of that write (its `reservedSpecimensLost`), so the request never goes on holding a
// tube that is gone: per request, the items are released, one timeline event names their sample
// codes and the requester is told (`sharing_request.items_released`); a reserved request left with
// nothing to ship is then cancelled by a job of its own (`cancel_emptied`). A tube found again
// goes back to stock, no longer reserved. Tubes already dispatched are the receipt's business.
import type { Clock } from '../../clock.js';
import type { Ctx } from '../../context.js';
import type { Tx } from '../../db/client.js';
import { enqueueJob } from '../../jobs/outbox.js';
import type { SpecimenChangeListener, SpecimenRow } from '../specimens/index.js';
import { cancelEmptiedSharingRequestJob } from './sharing.jobs.js';
import type { RequestState } from './sharing.lifecycle.js';
import { itemsOfSpecimens, setItems, type ItemWithRequest } from './sharing.shipments.repo.js';
import { appendEvent } from './sharing.timeline.js';

/** Requests whose reserved tubes are still at the provider. */
const BEFORE_DISPATCH: readonly RequestState[] = ['approved', 'reserved'];

export function createSharingReservationWatch(deps: { clock: Clock }): SpecimenChangeListener {
  return {
    async specimensChanged() {
      // Every other write: nothing for sharing to do.
    },

    async reservedSpecimensLost(tx: Tx, ctx: Ctx, rows: SpecimenRow[]) {
      const statusOf = new Map(rows.map((r) => [r.id, r.status]));
      const items = await itemsOfSpecimens(tx, [...statusOf.keys()], ['reserved', 'shipped']);
      const byRequest = new Map<string, ItemWithRequest[]>();
      for (const i of items)
        if (BEFORE_DISPATCH.includes(i.requestState))
          byRequest.set(i.item.requestId, [...(byRequest.get(i.item.requestId) ?? []), i]);
      for (const [requestId, group] of byRequest) {
        await setItems(
          tx,
          requestId,
          group.map((i) => ({ id: i.item.id, state: 'released' as const })),
        );
        const gone = (status: string) =>
          group.filter((i) => statusOf.get(i.item.specimenId) === status).map((i) => i.item.sampleCode);
        const destroyed = gone('destroyed');
        const missing = gone('missing');
        await appendEvent(
          tx,
          ctx,
          requestId,
          {
            step: 'release_items',
            from: group[0]!.requestState,
            to: group[0]!.requestState,
            reason: [
              destroyed.length ? 'destroyed at the providing institution' : null,
              missing.length ? 'reported missing at the providing institution' : null,
            ]
              .filter(Boolean)
              .join('; '),
            details: { sampleCodes: group.map((i) => i.item.sampleCode), destroyed, missing },
            notify: true,
          },
          deps.clock(),
        );
        if (group[0]!.requestState === 'reserved')
          await enqueueJob(tx, ctx, cancelEmptiedSharingRequestJob, { sharingRequestId: requestId });
      }
    },
  };
}
