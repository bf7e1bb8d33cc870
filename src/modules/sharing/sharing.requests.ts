// Sharing requests from the requesting side: create and edit a draft, submit it (the proposal job
// is queued with it), cancel until the tubes leave; and the reads both sides make. Visibility: the
// requester sees its own requests; the provider sees those addressed to it once submitted; anyone
// else is answered 404. The requester never sees the provider's specimen ids, barcodes or donors:
// items are shown to it by sample code and donor code (sharing.dto.ts).
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Clock } from '../../clock.js';
import type { Ctx } from '../../context.js';
import type { Db, DbOrTx, Tx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { inTransaction } from '../../db/transaction.js';
import { versionConflict } from '../../errors.js';
import { enqueueJob } from '../../jobs/outbox.js';
import { decodeCursor, toPage, type Page } from '../../pagination.js';
import type { SpecimenType } from '../../vocabulary/specimen-types.js';
import type { Use } from '../../vocabulary/uses.js';
import { recordAudit } from '../audit/index.js';
import { findSpecimensByIds, type SpecimenLedger } from '../specimens/index.js';
import { findAgreement } from './sharing.agreements.repo.js';
import { assertAgreementCovers } from './sharing.agreements.js';
import { agreementNotFound, sharingRequestNotFound } from './sharing.errors.js';
import { proposeSharingItemsJob } from './sharing.jobs.js';
import type { Side } from './sharing.lifecycle.js';
import {
  findRequest,
  insertRequest,
  listEvents,
  listItems,
  listRequestRows,
  setItemStates,
} from './sharing.requests.repo.js';
import type {
  CreateSharingRequestInput,
  ListSharingRequestsQuery,
  UpdateSharingRequestInput,
} from './sharing.requests.schemas.js';
import { applyTransition, assertAllowed, sideOf } from './sharing.timeline.js';
import type { AgreementRow, SharingEventRow, SharingItemRow, SharingRequestRow } from './sharing.table.js';
import { resolveVersion, type ExpectedVersion } from '../../versions.js';
import { eventSeenBy } from './sharing.timeline-view.js';

/** A request as one side sees it. */
export interface SharingRequestView {
  row: SharingRequestRow;
  side: Exclude<Side, 'system'>;
}

/** An item with the facts of its specimen both sides may read (the DTO hides the rest from the requester). */
export interface SharingItemView {
  item: SharingItemRow;
  side: Exclude<Side, 'system'>;
  specimen: { id: string; barcode: string; type: SpecimenType; sprecCode: string | null };
}

export interface RequestDeps {
  db: Db;
  ledger: SpecimenLedger;
  clock: Clock;
  /** the UTC day agreements and consents are judged on */
  today: () => string;
}

/** Loads a request the actor's side may see, locked when asked. Throws SHARING_REQUEST_NOT_FOUND. */
export async function loadRequest(
  db: DbOrTx,
  ctx: Ctx,
  id: string,
  opts: { lock?: boolean } = {},
): Promise<{ row: SharingRequestRow; side: Side }> {
  const row = await findRequest(
    db,
    ctx.actor.kind === 'system' ? null : actorInstitutionId(ctx.actor),
    id,
    opts,
  );
  const side = row ? sideOf(ctx, row) : null;
  if (!row || !side) throw sharingRequestNotFound(id);
  return { row, side };
}

export const asView = (r: { row: SharingRequestRow; side: Side }): SharingRequestView => ({
  row: r.row,
  // Jobs read as the provider would.
  side: r.side === 'system' ? 'provider' : r.side,
});

/**
 * Releases the request's reserved items through the specimen ledger (custody
 * `reservation_released`), in the caller's transaction. For requests not yet shipped only.
 */
export async function releaseReservations(
  tx: Tx,
  ctx: Ctx,
  ledger: SpecimenLedger,
  request: SharingRequestRow,
  why: { operation?: string; reason: string },
): Promise<number> {
  // Before dispatch a tube scanned out into the shipment is packed, not gone: it goes back too.
  const reserved = await listItems(tx, request.id, { states: ['reserved', 'shipped'] });
  if (reserved.length === 0) return 0;
  const byId = new Map(reserved.map((i) => [i.specimenId, i]));
  const rows = await ledger.lock(tx, request.providerInstitutionId, [...byId.keys()]);
  // A tube that left the reserved status some other way (destroyed, marked missing) has nothing to release.
  const held = rows.filter((r) => r.status === 'reserved' || r.status === 'shipped');
  await ledger.apply(
    tx,
    ctx,
    held.map((r) => ({
      kind: 'release_reservation' as const,
      specimen: r,
      ...(why.operation ? { action: why.operation } : {}),
      details: { requestId: request.id, sampleCode: byId.get(r.id)!.sampleCode, reason: why.reason },
    })),
  );
  await setItemStates(tx, request.id, ['reserved', 'shipped'], 'released');
  return held.length;
}

/** Whether a stored value already is what an edit asks (numeric columns may read as text). */
function sameValue(stored: unknown, asked: unknown): boolean {
  if (typeof asked === 'number') return Number(stored) === asked;
  return isDeepStrictEqual(stored, asked);
}

export function createRequests(deps: RequestDeps) {
  const { db, clock } = deps;

  /** The agreement between the two institutions, covering the use today. */
  async function coveringAgreement(
    handle: DbOrTx,
    requesterId: string,
    providerId: string,
    agreementId: string,
    use: Use,
  ): Promise<AgreementRow> {
    const agreement = await findAgreement(handle, requesterId, agreementId, { side: 'requester' });
    if (!agreement || agreement.providerInstitutionId !== providerId)
      throw agreementNotFound(agreementId, 'agreementId');
    assertAgreementCovers(agreement, use, deps.today());
    return agreement;
  }

  return {
    /**
     * Drafts a request to another institution under its agreement. Throws FORBIDDEN,
     * AGREEMENT_NOT_FOUND, AGREEMENT_NOT_IN_FORCE, USE_NOT_IN_AGREEMENT.
     */
    async createSharingRequest(ctx: Ctx, input: CreateSharingRequestInput): Promise<SharingRequestView> {
      authorize(ctx.actor, 'sharing.request');
      const requesterId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        const agreement = await coveringAgreement(
          tx,
          requesterId,
          input.providerInstitutionId,
          input.agreementId,
          input.use,
        );
        const row = await insertRequest(tx, {
          id: newId(),
          requesterInstitutionId: requesterId,
          providerInstitutionId: agreement.providerInstitutionId,
          agreementId: agreement.id,
          use: input.use,
          ethicsApprovalRef: input.ethicsApprovalRef,
          criteria: input.criteria,
          specimenCount: input.specimenCount,
          quantityPerSpecimen: input.quantityPerSpecimen,
          unit: input.unit,
          onePerDonor: input.onePerDonor,
          purpose: input.purpose,
        });
        await recordAudit(tx, ctx, {
          action: 'createSharingRequest',
          entityType: 'sharing_request',
          entityId: row.id,
          institutionId: requesterId,
          after: row,
        });
        return { row, side: 'requester' };
      });
    },

    /**
     * Edits a draft at the version last read. Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND,
     * VERSION_CONFLICT, INVALID_REQUEST_TRANSITION (no longer a draft), AGREEMENT_NOT_FOUND,
     * AGREEMENT_NOT_IN_FORCE, USE_NOT_IN_AGREEMENT.
     */
    async updateSharingRequest(
      ctx: Ctx,
      input: { id: string; expectedVersion: ExpectedVersion; patch: UpdateSharingRequestInput },
    ): Promise<SharingRequestView> {
      authorize(ctx.actor, 'sharing.request');
      return inTransaction(db, ctx, async (tx) => {
        const { row: before, side } = await loadRequest(tx, ctx, input.id, { lock: true });
        if (before.version !== resolveVersion(input.expectedVersion, before.version))
          throw versionConflict(`sharing request ${before.id}`, input.expectedVersion, before.version);
        const { patch } = input;
        // An edit that changes nothing (a resend, `{}`) writes nothing: same version, no event.
        const changed = Object.entries(patch).filter(
          ([k, v]) => v !== undefined && !sameValue(before[k as keyof typeof before], v),
        );
        if (changed.length === 0) {
          assertAllowed(before, 'update', side, 'updateSharingRequest');
          return { row: before, side: 'requester' };
        }
        if (patch.agreementId !== undefined || patch.use !== undefined)
          await coveringAgreement(
            tx,
            before.requesterInstitutionId,
            before.providerInstitutionId,
            patch.agreementId ?? before.agreementId,
            patch.use ?? before.use,
          );
        const row = await applyTransition(tx, ctx, before, 'update', side, {
          operation: 'updateSharingRequest',
          now: clock(),
          patch,
          details: { fields: Object.keys(patch) },
          notify: false,
        });
        return { row, side: 'requester' };
      });
    },

    /**
     * Sends a draft to the provider and queues the proposal of matching specimens. The agreement
     * must still cover the use. Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND,
     * INVALID_REQUEST_TRANSITION, AGREEMENT_NOT_IN_FORCE, USE_NOT_IN_AGREEMENT.
     */
    async submitSharingRequest(ctx: Ctx, id: string): Promise<SharingRequestView> {
      authorize(ctx.actor, 'sharing.request');
      return inTransaction(db, ctx, async (tx) => {
        const { row: before, side } = await loadRequest(tx, ctx, id, { lock: true });
        if (side === 'requester')
          await coveringAgreement(
            tx,
            before.requesterInstitutionId,
            before.providerInstitutionId,
            before.agreementId,
            before.use,
          );
        const now = clock();
        const row = await applyTransition(tx, ctx, before, 'submit', side, {
          operation: 'submitSharingRequest',
          now,
          patch: { submittedAt: now },
        });
        await enqueueJob(tx, ctx, proposeSharingItemsJob, { sharingRequestId: row.id });
        return { row, side: 'requester' };
      });
    },

    /**
     * Withdraws the request (the requester, until shipped); reserved specimens go back to stock
     * with their custody recorded. Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND,
     * INVALID_REQUEST_TRANSITION.
     */
    async cancelSharingRequest(
      ctx: Ctx,
      input: { id: string; reason?: string },
    ): Promise<SharingRequestView> {
      authorize(ctx.actor, 'sharing.request');
      return inTransaction(db, ctx, async (tx) => {
        const { row: before, side } = await loadRequest(tx, ctx, input.id, { lock: true });
        assertAllowed(before, 'cancel', side, 'cancelSharingRequest');
        const released =
          before.state === 'reserved'
            ? await releaseReservations(tx, ctx, deps.ledger, before, {
                operation: 'cancelSharingRequest',
                reason: input.reason ?? 'the request was cancelled',
              })
            : 0;
        // Proposed tubes were never held: their items end with the request, not left `proposed`.
        await setItemStates(tx, before.id, ['proposed'], 'released');
        const row = await applyTransition(tx, ctx, before, 'cancel', side, {
          operation: 'cancelSharingRequest',
          now: clock(),
          reason: input.reason ?? null,
          patch: { reason: input.reason ?? null },
          details: { released },
          // The provider never saw a draft: it hears nothing of one dropped.
          notify: before.submittedAt !== null,
        });
        return asView({ row, side });
      });
    },

    /** A request the caller's institution is party to. Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND. */
    async getSharingRequest(ctx: Ctx, id: string): Promise<SharingRequestView> {
      authorize(ctx.actor, 'sharing.read');
      return asView(await loadRequest(db, ctx, id));
    },

    /** The requests of the caller's institution, on either side or the one asked. Throws FORBIDDEN, INVALID_CURSOR. */
    async listSharingRequests(ctx: Ctx, query: ListSharingRequestsQuery): Promise<Page<SharingRequestView>> {
      authorize(ctx.actor, 'sharing.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const after = decodeCursor(query.cursor, z.uuid());
      const rows = await listRequestRows(db, {
        institutionId,
        side: query.side,
        state: query.state,
        afterId: after,
        limit: query.limit + 1,
      });
      return toPage(
        rows,
        query.limit,
        (r) => r.id,
        (row) => ({ row, side: row.requesterInstitutionId === institutionId ? 'requester' : 'provider' }),
      );
    },

    /** The request's items, as the caller's side may see them. Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND, INVALID_CURSOR. */
    async listSharingRequestItems(
      ctx: Ctx,
      query: { id: string; cursor?: string; limit: number },
    ): Promise<Page<SharingItemView>> {
      authorize(ctx.actor, 'sharing.read');
      const { row, side } = asView(await loadRequest(db, ctx, query.id));
      const after = decodeCursor(query.cursor, z.uuid());
      const items = await listItems(db, row.id, { afterId: after, limit: query.limit + 1 });
      const specimens = new Map(
        (
          await findSpecimensByIds(
            db,
            row.providerInstitutionId,
            items.map((i) => i.specimenId),
          )
        ).map((s) => [s.id, s]),
      );
      return toPage(
        items,
        query.limit,
        (i) => i.id,
        (item) => {
          const s = specimens.get(item.specimenId)!;
          return {
            item,
            side,
            specimen: { id: s.id, barcode: s.barcode, type: s.type, sprecCode: s.sprecCode },
          };
        },
      );
    },

    /** The request's timeline, oldest first. Throws FORBIDDEN, SHARING_REQUEST_NOT_FOUND, INVALID_CURSOR. */
    async listSharingRequestEvents(
      ctx: Ctx,
      query: { id: string; cursor?: string; limit: number },
    ): Promise<Page<SharingEventRow>> {
      authorize(ctx.actor, 'sharing.read');
      const { row, side } = await loadRequest(db, ctx, query.id);
      const after = decodeCursor(query.cursor, z.number().int().positive());
      const events = await listEvents(db, row.id, { afterId: after, limit: query.limit + 1 });
      return toPage(
        events,
        query.limit,
        (e) => e.id,
        (e) => eventSeenBy(e, row, side),
      );
    },
  };
}
