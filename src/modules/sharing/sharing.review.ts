// The provider's review: start it, edit the proposal (each added or swapped specimen re-checked
// against the criteria, consent and availability), approve or reject with a reason. Approval
// reserves atomically: every item is reserved through the specimen ledger (custody `reserved`)
// and the request moves approved -> reserved, all in one transaction; a specimen another request
// took first refuses the whole approval with 409 SPECIMENS_TAKEN naming it, and nothing changes.
import { authorize } from '../../auth/roles.js';
import type { Clock } from '../../clock.js';
import type { Ctx } from '../../context.js';
import type { Db } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { batchRejected, invalidExpiry, validationFailed, type DomainError } from '../../errors.js';
import type { ConsentGate } from '../consent/index.js';
import { findSpecimensByBarcodes, specimenNotFound, type SpecimenLedger } from '../specimens/index.js';
import { fitOf } from './shareable-specimens.read-model.js';
import {
  itemNotEligible,
  proposalIncomplete,
  sharingItemNotFound,
  specimensTaken,
} from './sharing.errors.js';
import { assertRequestStillCovered } from './sharing.agreements.js';
import { addItems, itemsWithDonors, scopeOf } from './sharing.proposal.js';
import { asView, loadRequest, type SharingRequestView } from './sharing.requests.js';
import { deleteItems, listItems, setItemStates } from './sharing.requests.repo.js';
import type { ApproveSharingRequestInput, EditSharingProposalInput } from './sharing.requests.schemas.js';
import { applyTransition, assertAllowed } from './sharing.timeline.js';

/** How long an approval holds the tubes when the reviewer names no date: time to arrange a courier. */
export const DEFAULT_RESERVATION_DAYS = 30;
export const MAX_RESERVATION_DAYS = 365;
const DAY_MS = 86_400_000;

export interface ReviewDeps {
  db: Db;
  ledger: SpecimenLedger;
  /** consent is checked again, under lock, when the tubes are reserved */
  gate: Pick<ConsentGate, 'assertUsable'>;
  clock: Clock;
  today: () => string;
}

export function createReview(deps: ReviewDeps) {
  const { db, clock } = deps;

  return {
    /** The provider takes the request up. Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND, INVALID_REQUEST_TRANSITION. */
    async startSharingRequestReview(ctx: Ctx, id: string): Promise<SharingRequestView> {
      authorize(ctx.actor, 'sharing.review');
      return inTransaction(db, ctx, async (tx) => {
        const { row: before, side } = await loadRequest(tx, ctx, id, { lock: true });
        const now = clock();
        const row = await applyTransition(tx, ctx, before, 'start_review', side, {
          operation: 'startSharingRequestReview',
          now,
          patch: { reviewStartedAt: now },
        });
        return asView({ row, side });
      });
    },

    /**
     * Adds, removes and swaps items of the proposal under review. Every specimen added must be the
     * provider's, fit the request (in stock, no hold, not QC-failed, consented for the use, enough
     * quantity, every criterion), not be in the request already, and, when the request asks for one
     * per donor, come from a donor not yet in it. Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND,
     * INVALID_REQUEST_TRANSITION, SHARING_ITEM_NOT_FOUND, SPECIMEN_NOT_FOUND, ITEM_NOT_ELIGIBLE, or
     * BATCH_REJECTED listing several; nothing changes when one is refused.
     */
    async editSharingProposal(
      ctx: Ctx,
      input: { id: string } & EditSharingProposalInput,
    ): Promise<SharingRequestView> {
      authorize(ctx.actor, 'sharing.review');
      return inTransaction(db, ctx, async (tx) => {
        const { row: before, side } = await loadRequest(tx, ctx, input.id, { lock: true });
        assertAllowed(before, 'edit_proposal', side, 'editSharingProposal');
        const existing = await itemsWithDonors(tx, before);
        const problems = new Map<number, DomainError>();
        let n = 0;
        // An item is removed or swapped once per edit: named again, the edit is refused, not read twice.
        const named = new Set<string>();
        const itemOf = (id: string, field: string, at: number) => {
          if (named.has(id)) {
            problems.set(
              at,
              validationFailed([{ field, message: `item ${id} is named more than once in this edit` }]),
            );
            return undefined;
          }
          named.add(id);
          const item = existing.items.find((i) => i.id === id && i.state === 'proposed');
          if (!item) problems.set(at, sharingItemNotFound(id, field));
          return item;
        };
        const removed = input.remove.flatMap((id, i) => itemOf(id, `remove.${i}`, n++) ?? []);
        const swapped = input.swap.flatMap((s, i) => itemOf(s.itemId, `swap.${i}.itemId`, n++) ?? []);
        const leaving = new Set([...removed, ...swapped].map((i) => i.id));

        const wanted = [
          ...input.add.map((barcode, i) => ({ barcode, field: `add.${i}`, sampleCode: undefined })),
          ...input.swap.map((s, i) => ({
            barcode: s.barcode,
            field: `swap.${i}.barcode`,
            sampleCode: swapped.find((x) => x.id === s.itemId)?.sampleCode,
          })),
        ];
        const found = new Map(
          (
            await findSpecimensByBarcodes(
              tx,
              before.providerInstitutionId,
              wanted.map((w) => w.barcode),
            )
          ).map((s) => [s.barcode, s]),
        );
        const fit = await fitOf(
          tx,
          scopeOf(before, deps.today()),
          [...found.values()].map((s) => s.id),
        );
        const staying = existing.items.filter((i) => !leaving.has(i.id));
        const inRequest = new Set(staying.map((i) => i.specimenId));
        const donors = new Set(
          staying
            .filter((i) => i.state === 'proposed')
            .map((i) => existing.donorOf.get(i.specimenId))
            .filter((d): d is string => !!d),
        );
        let count = staying.filter((i) => i.state === 'proposed').length;
        const adding: { id: string; participantId: string | null; sampleCode?: string }[] = [];
        const addedHere = new Set<string>();
        for (const w of wanted) {
          const at = n++;
          const s = found.get(w.barcode);
          if (!s) {
            problems.set(at, specimenNotFound(w.barcode, w.field));
            continue;
          }
          const f = fit.get(s.id)!;
          const reason = addedHere.has(s.id)
            ? 'it is given more than once in this edit'
            : inRequest.has(s.id)
              ? 'it is already in this request'
              : f.reasons.length
                ? f.reasons.join('; ')
                : before.onePerDonor && s.participantId && donors.has(s.participantId)
                  ? 'its donor already gives a specimen to this request'
                  : count >= before.specimenCount
                    ? `the request asks for ${before.specimenCount} specimens`
                    : null;
          if (reason) {
            problems.set(at, itemNotEligible(s.barcode, reason, w.field));
            continue;
          }
          inRequest.add(s.id);
          addedHere.add(s.id);
          if (s.participantId) donors.add(s.participantId);
          count++;
          adding.push({ id: s.id, participantId: s.participantId, sampleCode: w.sampleCode });
        }
        if (problems.size === 1) throw [...problems.values()][0]!;
        if (problems.size > 1) throw batchRejected(problems, n);

        await deleteItems(tx, before.id, [...leaving]);
        const added = await addItems(tx, before, { items: staying, donorOf: existing.donorOf }, adding);
        const row = await applyTransition(tx, ctx, before, 'edit_proposal', side, {
          operation: 'editSharingProposal',
          now: clock(),
          notify: false,
          details: {
            added: added
              .filter((a) => !swapped.some((s) => s.sampleCode === a.sampleCode))
              .map((a) => a.sampleCode),
            removed: removed.map((r) => r.sampleCode),
            swapped: swapped.map((s) => s.sampleCode),
          },
        });
        return asView({ row, side });
      });
    },

    /**
     * Approves the proposal and reserves every item at once (see the header). Throws FORBIDDEN,
     * SHARING_REQUEST_NOT_FOUND, INVALID_REQUEST_TRANSITION (e.g. approved already),
     * PROPOSAL_INCOMPLETE (no items), SPECIMENS_TAKEN, ITEM_NOT_ELIGIBLE / BATCH_REJECTED (an item
     * no longer fits), CONSENT_NOT_GRANTED, SPECIMEN_ON_HOLD, VALIDATION_FAILED (a deadline past),
     * AGREEMENT_NOT_IN_FORCE / USE_NOT_IN_AGREEMENT (the agreement was edited or ran out since).
     */
    async approveSharingRequest(
      ctx: Ctx,
      input: { id: string } & ApproveSharingRequestInput,
    ): Promise<SharingRequestView> {
      authorize(ctx.actor, 'sharing.review');
      return inTransaction(db, ctx, async (tx) => {
        const { row: before, side } = await loadRequest(tx, ctx, input.id, { lock: true });
        assertAllowed(before, 'approve', side, 'approveSharingRequest');
        await assertRequestStillCovered(tx, before, deps.today());
        const now = clock();
        const until = input.reservedUntil
          ? new Date(input.reservedUntil)
          : new Date(now.getTime() + DEFAULT_RESERVATION_DAYS * DAY_MS);
        if (until <= now) throw invalidExpiry('reservedUntil', input.reservedUntil ?? '', 'now');
        // Tubes held out of stock for years are lost to everyone else: a reservation is for a shipment.
        if (until.getTime() > now.getTime() + MAX_RESERVATION_DAYS * DAY_MS)
          throw validationFailed([
            { field: 'reservedUntil', message: `at most ${MAX_RESERVATION_DAYS} days ahead` },
          ]);
        const items = await listItems(tx, before.id, { states: ['proposed'] });
        if (items.length === 0) throw proposalIncomplete(0, before.specimenCount);
        const bySpecimen = new Map(items.map((i) => [i.specimenId, i]));
        // In id order (the ledger's lock), so two approvals over shared tubes queue, never deadlock:
        // the second sees the first's reservations once it commits.
        const rows = await deps.ledger.lock(tx, before.providerInstitutionId, [...bySpecimen.keys()]);
        const taken = rows.filter((r) => r.status !== 'available');
        if (taken.length) throw specimensTaken(taken.map((r) => r.barcode).sort());
        await deps.gate.assertUsable(tx, ctx, rows, before.use);
        const fit = await fitOf(tx, scopeOf(before, deps.today()), [...bySpecimen.keys()]);
        const unfit = rows.filter((r) => fit.get(r.id)!.reasons.length > 0);
        if (unfit.length === 1)
          throw itemNotEligible(unfit[0]!.barcode, fit.get(unfit[0]!.id)!.reasons.join('; '), 'items');
        if (unfit.length > 1)
          throw batchRejected(
            new Map(
              unfit.map((r, i) => [
                i,
                itemNotEligible(r.barcode, fit.get(r.id)!.reasons.join('; '), 'items'),
              ]),
            ),
            rows.length,
          );
        const approved = await applyTransition(tx, ctx, before, 'approve', side, {
          operation: 'approveSharingRequest',
          now,
          details: { items: items.length, requested: before.specimenCount },
        });
        await deps.ledger.apply(
          tx,
          ctx,
          rows.map((r) => ({
            kind: 'reserve' as const,
            specimen: r,
            action: 'approveSharingRequest',
            details: {
              requestId: before.id,
              sampleCode: bySpecimen.get(r.id)!.sampleCode,
              recipientInstitutionId: before.requesterInstitutionId,
            },
          })),
        );
        await setItemStates(tx, before.id, ['proposed'], 'reserved');
        const reserved = await applyTransition(tx, ctx, approved, 'reserve', side, {
          operation: 'approveSharingRequest',
          now,
          patch: { reservationDeadline: until },
          details: { reserved: rows.length, reservedUntil: until.toISOString() },
        });
        return asView({ row: reserved, side });
      });
    },

    /** Declines the request with a reason. Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND, INVALID_REQUEST_TRANSITION. */
    async rejectSharingRequest(ctx: Ctx, input: { id: string; reason: string }): Promise<SharingRequestView> {
      authorize(ctx.actor, 'sharing.review');
      return inTransaction(db, ctx, async (tx) => {
        const { row: before, side } = await loadRequest(tx, ctx, input.id, { lock: true });
        const row = await applyTransition(tx, ctx, before, 'reject', side, {
          operation: 'rejectSharingRequest',
          now: clock(),
          reason: input.reason,
          patch: { reason: input.reason },
        });
        // The proposal ends with the request: its items are not left `proposed`.
        await setItemStates(tx, before.id, ['proposed'], 'released');
        return asView({ row, side });
      });
    },
  };
}
