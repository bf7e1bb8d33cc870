// The proposal: which of the provider's specimens answer a request. After submission a job
// proposes them (eligible now, distinct donors unless the request allows more, the smallest tube
// that covers the quantity, boxes with the most of them first so picking is short); reviewers may
// top it up, and edit it item by item (sharing.review.ts). Items are known to the requester by
// sample code (S0001...) and donor code (D001...: the tubes of one donor share it).
import { authorize } from '../../auth/roles.js';
import type { Clock } from '../../clock.js';
import type { Ctx } from '../../context.js';
import type { Db, Tx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { inTransaction } from '../../db/transaction.js';
import { recordAudit } from '../audit/index.js';
import { findSpecimensByIds } from '../specimens/index.js';
import { proposalCandidates, type ShareableScope } from './shareable-specimens.read-model.js';
import { criteriaSchema, type Criteria, type QuantityInput } from './sharing.criteria.js';
import { asView, loadRequest, type SharingRequestView } from './sharing.requests.js';
import { insertItems, listItems, updateRequestRow } from './sharing.requests.repo.js';
import { appendEvent, assertAllowed } from './sharing.timeline.js';
import type { SharingItemRow, SharingRequestRow } from './sharing.table.js';

/** The read model's scope for a request: its provider, use, criteria and quantity, judged today. */
export function scopeOf(
  request: SharingRequestRow,
  today: string,
): ShareableScope & { criteria: Criteria; quantity: QuantityInput } {
  return {
    providerInstitutionIds: [request.providerInstitutionId],
    use: request.use,
    today,
    // Stored after validation; parsed again so a stored document is read as the schema reads it.
    criteria: criteriaSchema.parse(request.criteria),
    quantity: { value: request.quantityPerSpecimen, unit: request.unit },
  };
}

const codeNumber = (code: string) => Number.parseInt(code.slice(1), 10) || 0;
export const sampleCode = (n: number) => `S${String(n).padStart(4, '0')}`;
const donorCode = (n: number) => `D${String(n).padStart(3, '0')}`;

/** The request's items and the donor of each item's specimen (null: not donor material). */
export async function itemsWithDonors(
  tx: Tx,
  request: SharingRequestRow,
): Promise<{ items: SharingItemRow[]; donorOf: Map<string, string | null> }> {
  const items = await listItems(tx, request.id);
  const rows = await findSpecimensByIds(
    tx,
    request.providerInstitutionId,
    items.map((i) => i.specimenId),
  );
  return { items, donorOf: new Map(rows.map((r) => [r.id, r.participantId])) };
}

/**
 * Adds specimens to the request as proposed items, with the next sample codes (or the given one,
 * for a swap) and the donor code of their donor (an earlier item's, or the next one).
 */
export async function addItems(
  tx: Tx,
  request: SharingRequestRow,
  existing: { items: SharingItemRow[]; donorOf: Map<string, string | null> },
  specimens: { id: string; participantId: string | null; sampleCode?: string }[],
): Promise<SharingItemRow[]> {
  const donorCodes = new Map<string, string>();
  for (const i of existing.items) {
    const donor = existing.donorOf.get(i.specimenId);
    if (donor) donorCodes.set(donor, i.donorCode);
  }
  let nextSample = Math.max(0, ...existing.items.map((i) => codeNumber(i.sampleCode))) + 1;
  let nextDonor = Math.max(0, ...existing.items.map((i) => codeNumber(i.donorCode))) + 1;
  return insertItems(
    tx,
    specimens.map((s) => {
      let donor = s.participantId ? donorCodes.get(s.participantId) : undefined;
      if (!donor) {
        donor = donorCode(nextDonor++);
        if (s.participantId) donorCodes.set(s.participantId, donor);
      }
      return {
        id: newId(),
        requestId: request.id,
        providerInstitutionId: request.providerInstitutionId,
        specimenId: s.id,
        sampleCode: s.sampleCode ?? sampleCode(nextSample++),
        donorCode: donor,
      };
    }),
  );
}

export function createProposal(deps: { db: Db; clock: Clock; today: () => string }) {
  const { db, clock } = deps;

  return {
    /**
     * Proposes matching specimens up to the number asked, keeping the items already there. The
     * job after submission passes `first`: it proposes once (a stored proposal ends a re-run)
     * and returns null when the request has moved on. Reviewers call it to top a proposal up.
     * Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND, INVALID_REQUEST_TRANSITION.
     */
    async proposeSharingItems(
      ctx: Ctx,
      input: { id: string; first?: boolean },
    ): Promise<SharingRequestView | null> {
      authorize(ctx.actor, 'sharing.review');
      return inTransaction(db, ctx, async (tx) => {
        const { row: before, side } = await loadRequest(tx, ctx, input.id, { lock: true });
        if (input.first) {
          if (before.proposedAt !== null || !['submitted', 'under_review'].includes(before.state))
            return null;
        } else {
          assertAllowed(before, 'propose', side, 'proposeSharingItems');
        }
        const existing = await itemsWithDonors(tx, before);
        const open = existing.items.filter((i) => i.state === 'proposed');
        const wanted = Math.max(0, before.specimenCount - open.length);
        const candidates =
          wanted === 0
            ? []
            : await proposalCandidates(tx, scopeOf(before, deps.today()), {
                count: wanted,
                onePerDonor: before.onePerDonor,
                exclude: existing.items.map((i) => i.specimenId),
                excludeDonors: before.onePerDonor
                  ? [...existing.donorOf.values()].filter((d): d is string => d !== null)
                  : [],
              });
        const added = await addItems(
          tx,
          before,
          existing,
          candidates.map((c) => ({ id: c.specimenId, participantId: c.participantId })),
        );
        const now = clock();
        const after = await updateRequestRow(tx, before, { proposedAt: now });
        await appendEvent(
          tx,
          ctx,
          before.id,
          {
            step: 'propose',
            from: before.state,
            to: before.state,
            details: {
              proposed: added.length,
              items: open.length + added.length,
              requested: before.specimenCount,
            },
            notify: false,
          },
          now,
        );
        await recordAudit(tx, ctx, {
          action: 'proposeSharingItems',
          entityType: 'sharing_request',
          entityId: before.id,
          institutionId: before.providerInstitutionId,
          before,
          after: { ...after, proposedItems: added.map((i) => i.sampleCode) },
        });
        return asView({ row: after, side });
      });
    },
  };
}
