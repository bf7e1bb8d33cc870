import type { RecurringJob } from '../../jobs/maintenance.jobs.js';
import { bindJob } from '../../jobs/registry.js';
import {
  cancelEmptiedSharingRequestJob,
  expireSharingReservationsJob,
  notifySharingTransitionJob,
  proposeSharingItemsJob,
  remindSharingReviewsJob,
} from './sharing.jobs.js';
import type { SharingService } from './sharing.service.js';

// Job handlers: each calls one service method, which re-reads the request and returns when the
// work is already done (delivery is at least once).

export const sharingJobs = (sharing: SharingService) => [
  bindJob(proposeSharingItemsJob, (ctx, data) =>
    sharing.proposeSharingItems(ctx, { id: data.sharingRequestId, first: true }),
  ),
  bindJob(notifySharingTransitionJob, (ctx, data) =>
    sharing.notifySharingTransition(ctx, { eventId: data.eventId }),
  ),
  bindJob(cancelEmptiedSharingRequestJob, (ctx, data) =>
    sharing.cancelEmptiedSharingRequest(ctx, { id: data.sharingRequestId }),
  ),
  bindJob(expireSharingReservationsJob, (ctx) => sharing.expireSharingReservations(ctx)),
  bindJob(remindSharingReviewsJob, (ctx) => sharing.remindSharingReviews(ctx)),
];

/** The deadline passes, on the maintenance scheduler. */
export const sharingRecurringJobs: RecurringJob[] = [
  // Five minutes late at most for a tube that should go back to stock.
  { id: 'sharing-expire-reservations', everyMs: 5 * 60_000, job: expireSharingReservationsJob },
  // Review deadlines are counted in days: an hourly pass is prompt enough.
  { id: 'sharing-remind-reviews', everyMs: 60 * 60_000, job: remindSharingReviewsJob },
];
