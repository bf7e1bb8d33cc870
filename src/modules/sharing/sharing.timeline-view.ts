// The timeline as each party reads it (events, webhooks, live updates). Both parties read one
// timeline, but each sees only its own side's particulars: the receiver's own specimen ids (a
// withdrawal at the provider names the specimens the receiver made) go to the requester only, and
// the other institution's actor is named by its institution, not by the key its staff used, and
// a notice's webhook deliveries are each institution's own. Pure.
import type { Side } from './sharing.lifecycle.js';
import type { SharingEventRow, SharingRequestRow } from './sharing.table.js';

/** Details that name the receiver's own specimens (sharing.withdrawal.ts). */
const RECEIVER_ONLY = ['receivedSpecimenIds', 'held'];

/** A `notified` event's webhook deliveries: each institution sees its own only (sharing.notify.ts). */
type Delivery = { institutionId?: unknown };

export function eventSeenBy(e: SharingEventRow, request: SharingRequestRow, side: Side): SharingEventRow {
  const own = side === 'requester' ? request.requesterInstitutionId : request.providerInstitutionId;
  let details =
    side === 'requester'
      ? e.details
      : Object.fromEntries(Object.entries(e.details).filter(([k]) => !RECEIVER_ONLY.includes(k)));
  if (side !== 'system' && Array.isArray(details.deliveries))
    details = {
      ...details,
      deliveries: (details.deliveries as Delivery[]).filter((d) => d.institutionId === own),
    };
  const actor =
    side !== 'system' && e.actorInstitutionId !== null && e.actorInstitutionId !== own
      ? `institution:${e.actorInstitutionId}`
      : e.actor;
  return { ...e, details, actor };
}
