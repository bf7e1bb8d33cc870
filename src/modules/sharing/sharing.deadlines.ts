// Deadlines, run by scheduled jobs (src/jobs/maintenance.jobs.ts): reservations not shipped by
// their deadline go back to stock and the request ends cancelled; a request waiting for review
// past its agreement's review deadline gets a reminder to the provider, and past twice that an
// escalation to the provider's admins (both webhook events). Each request is handled in its own
// transaction under its lock and marked as it goes, so a re-run (or two workers) acts once.
import type { Clock } from '../../clock.js';
import type { Ctx } from '../../context.js';
import type { Db } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { recordAudit } from '../audit/index.js';
import type { SpecimenLedger } from '../specimens/index.js';
import { findAgreement } from './sharing.agreements.repo.js';
import { loadRequest, releaseReservations } from './sharing.requests.js';
import { listItems, reservationsDue, reviewsDue, updateRequestRow } from './sharing.requests.repo.js';
import { appendEvent, applyTransition } from './sharing.timeline.js';

const DAY_MS = 86_400_000;
/** Requests handled per pass; the scheduler runs the next pass soon after. */
const PASS = 200;

export function createDeadlines(deps: { db: Db; ledger: SpecimenLedger; clock: Clock }) {
  const { db, clock } = deps;

  return {
    /** Releases reservations past their deadline (the system only). Returns how many requests it ended. */
    async expireSharingReservations(ctx: Ctx): Promise<{ expired: number }> {
      const now = clock();
      let expired = 0;
      for (const id of await reservationsDue(db, now, PASS)) {
        const done = await inTransaction(db, ctx, async (tx) => {
          const { row: before, side } = await loadRequest(tx, ctx, id, { lock: true });
          // Shipped or cancelled meanwhile, or the deadline moved: nothing to do.
          if (before.state !== 'reserved' || !before.reservationDeadline || before.reservationDeadline >= now)
            return false;
          const reason = `the reservation deadline ${before.reservationDeadline.toISOString()} passed`;
          const released = await releaseReservations(tx, ctx, deps.ledger, before, { reason });
          await applyTransition(tx, ctx, before, 'expire_reservation', side, {
            operation: 'expireSharingReservations',
            now,
            reason,
            patch: { reason },
            details: { released },
          });
          return true;
        });
        if (done) expired++;
      }
      return { expired };
    },

    /**
     * Ends a reserved request left with no tube by a consent withdrawal or by its tubes destroyed
     * or reported missing (the system only, from the job those queued: they hold the tubes' locks
     * and must not wait for the request's, which a dispatch takes before the tubes'). Returns
     * whether it cancelled it; a
     * request shipped, cancelled or still holding a tube meanwhile is left as it is.
     */
    async cancelEmptiedSharingRequest(ctx: Ctx, input: { id: string }): Promise<{ cancelled: boolean }> {
      const cancelled = await inTransaction(db, ctx, async (tx) => {
        const { row: before, side } = await loadRequest(tx, ctx, input.id, { lock: true });
        if (before.state !== 'reserved') return false;
        const holding = await listItems(tx, before.id, { states: ['reserved', 'shipped'] });
        if (holding.length > 0) return false;
        const reason = 'nothing is left to ship: every item was withdrawn or released';
        await applyTransition(tx, ctx, before, 'cancel_emptied', side, {
          operation: 'cancelEmptiedSharingRequest',
          now: clock(),
          reason,
          patch: { reason },
        });
        return true;
      });
      return { cancelled };
    },

    /**
     * Reminds providers of reviews past their deadline, then escalates those past twice the
     * deadline (the system only). Returns how many of each it sent.
     */
    async remindSharingReviews(ctx: Ctx): Promise<{ reminded: number; escalated: number }> {
      const now = clock();
      let reminded = 0;
      let escalated = 0;
      for (const id of await reviewsDue(db, now, PASS)) {
        await inTransaction(db, ctx, async (tx) => {
          const { row: before } = await loadRequest(tx, ctx, id, { lock: true });
          if (!['submitted', 'under_review'].includes(before.state) || !before.submittedAt) return;
          const agreement = await findAgreement(tx, before.providerInstitutionId, before.agreementId);
          if (!agreement) return;
          const overdueFor = now.getTime() - before.submittedAt.getTime();
          const deadline = agreement.reviewDeadlineDays * DAY_MS;
          const step =
            before.reviewRemindedAt === null && overdueFor >= deadline
              ? ('remind_review' as const)
              : before.reviewRemindedAt !== null &&
                  before.reviewEscalatedAt === null &&
                  overdueFor >= 2 * deadline
                ? ('escalate_review' as const)
                : null;
          if (!step) return;
          const after = await updateRequestRow(
            tx,
            before,
            step === 'remind_review' ? { reviewRemindedAt: now } : { reviewEscalatedAt: now },
          );
          await appendEvent(
            tx,
            ctx,
            before.id,
            {
              step,
              from: before.state,
              to: before.state,
              details: {
                reviewDeadlineDays: agreement.reviewDeadlineDays,
                submittedAt: before.submittedAt.toISOString(),
              },
              notify: true,
            },
            now,
          );
          await recordAudit(tx, ctx, {
            action: 'remindSharingReviews',
            entityType: 'sharing_request',
            entityId: before.id,
            institutionId: before.providerInstitutionId,
            before,
            after,
          });
          if (step === 'remind_review') reminded++;
          else escalated++;
        });
      }
      return { reminded, escalated };
    },
  };
}
