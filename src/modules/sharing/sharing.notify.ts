// Notifications: every transition of a request (and every review reminder) tells the institution
// that did not act, by a signed webhook through the webhooks module; a change made by the system
// (an expired reservation) tells both parties, and review reminders go to the provider. This is
// the one place a timeline event becomes a notification, run by one job per event. The same event
// is then published live to both institutions (GraphQL subscription `sharingRequestUpdated`).
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Clock } from '../../clock.js';
import type { Ctx } from '../../context.js';
import type { Db } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import type { EventBus } from '../../events/event-bus.js';
import { emitWebhook } from '../webhooks/index.js';
import { toSharingRequestUpdate } from './sharing.dto.js';
import { loadRequest } from './sharing.requests.js';
import { findEvent, findNotification } from './sharing.requests.repo.js';
import { appendEvent } from './sharing.timeline.js';
import { eventSeenBy } from './sharing.timeline-view.js';
import type { SharingEventRow, SharingRequestRow } from './sharing.table.js';

/** Webhook event names (`sharing_request.<name>`) by timeline action. */
export const NOTIFIED_EVENTS: Readonly<Record<string, string>> = {
  submit: 'submitted',
  start_review: 'review_started',
  approve: 'approved',
  reserve: 'reserved',
  reject: 'rejected',
  cancel: 'cancelled',
  expire_reservation: 'reservation_expired',
  cancel_emptied: 'cancelled_emptied',
  ship: 'shipped',
  receive: 'received',
  complete: 'completed',
  remind_review: 'review_overdue',
  escalate_review: 'review_escalated',
  // A donor's consent withdrawal at the provider (sharing.withdrawal.ts): items taken out of an
  // open request; tubes in transit or received held at the receiver.
  withdraw_items: 'items_withdrawn',
  // A reserved tube destroyed or reported missing at the provider (sharing.reservation-watch.ts).
  release_items: 'items_released',
  consent_withdrawn: 'consent_withdrawn',
};

/** Who hears of an event: the other party, both for the system's own changes, the provider for reminders. */
export function recipientsOf(event: SharingEventRow, request: SharingRequestRow): string[] {
  if (event.action === 'remind_review' || event.action === 'escalate_review')
    return [request.providerInstitutionId];
  if (event.actorInstitutionId === request.requesterInstitutionId) return [request.providerInstitutionId];
  if (event.actorInstitutionId === request.providerInstitutionId) return [request.requesterInstitutionId];
  return [request.requesterInstitutionId, request.providerInstitutionId];
}

/** The live events of sharing requests: published here, subscribed to by the GraphQL adapter. */
export type SharingEvents = Pick<EventBus, 'topic' | 'publish'>;

export function createNotifications(deps: { db: Db; clock: Clock; events: SharingEvents }) {
  const { db, events } = deps;

  /**
   * Publishes one notified event to both institutions, each receiving the request as its side sees
   * it. After the commit: a subscriber never sees a state that was rolled back. A re-run publishes
   * again (a live view may repeat an event; it must not miss one that a crash cut off).
   */
  async function publish(request: SharingRequestRow, event: SharingEventRow): Promise<void> {
    const sides = [
      { institutionId: request.requesterInstitutionId, side: 'requester' as const },
      { institutionId: request.providerInstitutionId, side: 'provider' as const },
    ];
    await Promise.all(
      sides.map(({ institutionId, side }) =>
        events.publish(
          events.topic('sharing_request', institutionId),
          toSharingRequestUpdate({ row: request, side }, event),
        ),
      ),
    );
  }

  return {
    /**
     * Sends the webhooks of one timeline event, once: the deliveries are recorded on the timeline
     * (`notified`), and a re-run finding them returns; then publishes the event live to both
     * institutions. Null when the event is unknown or not one that is notified.
     */
    /**
     * The topic of the caller's institution's request events, for a subscription; with an id, after
     * checking the caller's side may see that request. Throws FORBIDDEN without `sharing.read`,
     * SHARING_REQUEST_NOT_FOUND for a request the caller may not see.
     */
    async subscribeSharingRequestUpdated(ctx: Ctx, input: { id?: string }): Promise<{ topic: string }> {
      authorize(ctx.actor, 'sharing.read');
      if (input.id !== undefined) await loadRequest(db, ctx, input.id);
      return { topic: events.topic('sharing_request', actorInstitutionId(ctx.actor)) };
    },

    async notifySharingTransition(ctx: Ctx, input: { eventId: number }): Promise<SharingEventRow | null> {
      const event = await findEvent(db, input.eventId);
      const name = event ? NOTIFIED_EVENTS[event.action] : undefined;
      if (!event || !name) return null;
      const { request, notified } = await inTransaction(db, ctx, async (tx) => {
        const { row: request } = await loadRequest(tx, ctx, event.requestId, { lock: true });
        const sent = await findNotification(tx, request.id, event.id);
        if (sent) return { request, notified: sent };
        const deliveries: { institutionId: string; deliveryId: string | null }[] = [];
        for (const institutionId of recipientsOf(event, request)) {
          const side = institutionId === request.requesterInstitutionId ? 'requester' : 'provider';
          const seen = eventSeenBy(event, request, side);
          const deliveryId = await emitWebhook(tx, ctx, {
            institutionId,
            eventType: `sharing_request.${name}`,
            data: {
              requestId: request.id,
              eventId: event.id,
              action: event.action,
              fromState: event.fromState,
              toState: event.toState,
              reason: event.reason,
              // what the event concerns (sample codes, counts; the receiver's own specimens to it only)
              details: seen.details,
              occurredAt: event.occurredAt.toISOString(),
              providerInstitutionId: request.providerInstitutionId,
              requesterInstitutionId: request.requesterInstitutionId,
            },
          });
          deliveries.push({ institutionId, deliveryId });
        }
        const notified = await appendEvent(
          tx,
          ctx,
          request.id,
          {
            step: 'notified',
            from: request.state,
            to: request.state,
            details: { eventId: event.id, event: `sharing_request.${name}`, deliveries },
            notify: false,
          },
          deps.clock(),
        );
        return { request, notified };
      });
      await publish(request, event);
      return notified;
    },
  };
}
