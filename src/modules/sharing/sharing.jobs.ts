import { z } from 'zod';
import { defineJob } from '../../jobs/job.js';

// The sharing module's job contracts. Payloads carry ids only.

/** After submission: propose matching specimens (once; a stored proposal ends a re-run). */
export const proposeSharingItemsJob = defineJob('sharing.proposeItems', 'sharing', {
  sharingRequestId: z.uuid(),
});

/** After every transition (and review reminder): tell the institutions concerned. */
export const notifySharingTransitionJob = defineJob('sharing.notifyTransition', 'sharing', {
  eventId: z.number().int().positive(),
});

/** After items left a reserved request (a consent withdrawal, a tube lost): cancel it if none is left. */
export const cancelEmptiedSharingRequestJob = defineJob('sharing.cancelEmptied', 'sharing', {
  sharingRequestId: z.uuid(),
});

/** Scheduled: release reservations not shipped by their deadline. */
export const expireSharingReservationsJob = defineJob('sharing.expireReservations', 'sharing', {});

/** Scheduled: remind providers of overdue reviews, then escalate. */
export const remindSharingReviewsJob = defineJob('sharing.remindReviews', 'sharing', {});
