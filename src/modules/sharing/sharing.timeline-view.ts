// The timeline as each party reads it (events, webhooks, live updates). Both parties read one
// timeline, but each sees only its own side's particulars: the receiver's own specimen ids (a
// withdrawal at the provider names the specimens the receiver made) go to the requester only, and
// the other institution's actor is named by its institution, not by the key its staff used. Pure.
import type { Side } from './sharing.lifecycle.js';
import type { SharingEventRow, SharingRequestRow } from './sharing.table.js';

/** Details that name the receiver's own specimens (sharing.withdrawal.ts). */
const RECEIVER_ONLY = ['receivedSpecimenIds', 'held'];

export function eventSeenBy(e: SharingEventRow, request: SharingRequestRow, side: Side): SharingEventRow {
  const own = side === 'requester' ? request.requesterInstitutionId : request.providerInstitutionId;
  const details =
    side === 'requester'
      ? e.details
      : Object.fromEntries(Object.entries(e.details).filter(([k]) => !RECEIVER_ONLY.includes(k)));
  const actor =
    side !== 'system' && e.actorInstitutionId !== null && e.actorInstitutionId !== own
      ? `institution:${e.actorInstitutionId}`
      : e.actor;
  return { ...e, details, actor };
}
