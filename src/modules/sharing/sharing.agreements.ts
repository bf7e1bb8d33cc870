// Agreements: which institution may request from a provider, for which uses, under which MTA,
// between which dates, and with which review deadline (issue 10, point 1). The provider's managers
// and admins write them; both parties read them; anyone else is answered 404.
import { z } from 'zod';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db, DbOrTx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { inTransaction } from '../../db/transaction.js';
import { forbidden, validationFailed, versionConflict } from '../../errors.js';
import { decodeCursor, toPage, type Page } from '../../pagination.js';
import type { Use } from '../../vocabulary/uses.js';
import { recordAudit } from '../audit/index.js';
import { findInstitutionById, institutionNotFound } from '../institutions/index.js';
import {
  findAgreement,
  findAgreementByMta,
  insertAgreement,
  listAgreementRows,
  updateAgreementRow,
} from './sharing.agreements.repo.js';
import type {
  CreateAgreementInput,
  ListAgreementsQuery,
  UpdateAgreementInput,
} from './sharing.agreements.schemas.js';
import {
  agreementExists,
  agreementNotFound,
  agreementNotInForce,
  agreementWithSelf,
  useNotInAgreement,
} from './sharing.errors.js';
import type { AgreementRow } from './sharing.table.js';
import { resolveVersion, type ExpectedVersion } from '../../versions.js';

/**
 * Refuses a request the agreement does not cover on `day` (YYYY-MM-DD): outside its dates
 * (AGREEMENT_NOT_IN_FORCE) or for a use it does not list (USE_NOT_IN_AGREEMENT).
 */
export function assertAgreementCovers(agreement: AgreementRow, use: Use, day: string): void {
  if (day < agreement.validFrom || (agreement.validUntil !== null && day > agreement.validUntil))
    throw agreementNotInForce(agreement.id, day, agreement.validFrom, agreement.validUntil);
  if (!agreement.uses.includes(use)) throw useNotInAgreement(use, agreement.uses);
}

/**
 * The request's agreement still covers its use on `day`: checked again when the provider commits
 * to the request (approval), since the agreement may have been edited, or run out, after the
 * request was sent. Read locked, so an edit of the agreement waits for the approval. Throws
 * AGREEMENT_NOT_FOUND, AGREEMENT_NOT_IN_FORCE, USE_NOT_IN_AGREEMENT.
 */
export async function assertRequestStillCovered(
  tx: DbOrTx,
  request: { agreementId: string; providerInstitutionId: string; use: Use },
  day: string,
): Promise<void> {
  // FOR SHARE: an edit waits, while other approvals and new requests under it (a foreign key's
  // KEY SHARE) go on.
  const agreement = await findAgreement(tx, request.providerInstitutionId, request.agreementId, {
    side: 'provider',
    lock: 'share',
  });
  if (!agreement) throw agreementNotFound(request.agreementId, 'agreementId');
  assertAgreementCovers(agreement, request.use, day);
}

export function createAgreements(deps: { db: Db }) {
  const { db } = deps;

  return {
    /**
     * Records what the caller's institution (the provider) allows another to request. Throws
     * FORBIDDEN, INSTITUTION_NOT_FOUND, AGREEMENT_WITH_SELF, AGREEMENT_EXISTS.
     */
    async createAgreement(ctx: Ctx, input: CreateAgreementInput): Promise<AgreementRow> {
      authorize(ctx.actor, 'agreements.manage');
      const providerId = actorInstitutionId(ctx.actor);
      if (input.requesterInstitutionId === providerId) throw agreementWithSelf();
      return inTransaction(db, ctx, async (tx) => {
        const requester = await findInstitutionById(tx, input.requesterInstitutionId);
        if (!requester) throw institutionNotFound(input.requesterInstitutionId, 'requesterInstitutionId');
        const dup = await findAgreementByMta(tx, providerId, requester.id, input.mtaReference);
        if (dup) throw agreementExists(input.mtaReference);
        const row = await insertAgreement(tx, {
          id: newId(),
          providerInstitutionId: providerId,
          requesterInstitutionId: requester.id,
          uses: input.uses,
          mtaReference: input.mtaReference,
          validFrom: input.validFrom,
          validUntil: input.validUntil ?? null,
          reviewDeadlineDays: input.reviewDeadlineDays,
        });
        await recordAudit(tx, ctx, {
          action: 'createAgreement',
          entityType: 'sharing_agreement',
          entityId: row.id,
          institutionId: providerId,
          after: row,
        });
        return row;
      });
    },

    /**
     * Changes an agreement of the caller's institution as provider, at the version last read.
     * Throws FORBIDDEN (the requester's side), AGREEMENT_NOT_FOUND, VERSION_CONFLICT,
     * VALIDATION_FAILED (validUntil before validFrom), AGREEMENT_EXISTS.
     */
    async updateAgreement(
      ctx: Ctx,
      input: { id: string; expectedVersion: ExpectedVersion; patch: UpdateAgreementInput },
    ): Promise<AgreementRow> {
      authorize(ctx.actor, 'agreements.manage');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        const before = await findAgreement(tx, institutionId, input.id, { lock: 'update' });
        if (!before) throw agreementNotFound(input.id);
        // The requester reads the agreement but never writes it.
        if (before.providerInstitutionId !== institutionId)
          throw forbidden('the requesting institution', 'updateAgreement');
        const what = `sharing agreement ${before.id}`;
        const expected = resolveVersion(input.expectedVersion, before.version);
        if (before.version !== expected) throw versionConflict(what, expected, before.version);
        const { patch } = input;
        const validFrom = patch.validFrom ?? before.validFrom;
        const validUntil = patch.validUntil === undefined ? before.validUntil : patch.validUntil;
        if (validUntil !== null && validUntil < validFrom)
          throw validationFailed([{ field: 'validUntil', message: `before validFrom ${validFrom}` }]);
        if (patch.mtaReference !== undefined && patch.mtaReference !== before.mtaReference) {
          const dup = await findAgreementByMta(
            tx,
            before.providerInstitutionId,
            before.requesterInstitutionId,
            patch.mtaReference,
          );
          if (dup) throw agreementExists(patch.mtaReference);
        }
        const after = await updateAgreementRow(tx, before.id, expected, patch);
        if (!after) throw versionConflict(what, expected, before.version);
        await recordAudit(tx, ctx, {
          action: 'updateAgreement',
          entityType: 'sharing_agreement',
          entityId: after.id,
          institutionId,
          before,
          after,
        });
        return after;
      });
    },

    /** An agreement the caller's institution is party to. Throws FORBIDDEN, AGREEMENT_NOT_FOUND. */
    async getAgreement(ctx: Ctx, id: string): Promise<AgreementRow> {
      authorize(ctx.actor, 'agreements.read');
      const row = await findAgreement(db, actorInstitutionId(ctx.actor), id);
      if (!row) throw agreementNotFound(id);
      return row;
    },

    /** The agreements of the caller's institution, on either side or the one asked. Throws FORBIDDEN, INVALID_CURSOR. */
    async listAgreements(ctx: Ctx, query: ListAgreementsQuery): Promise<Page<AgreementRow>> {
      authorize(ctx.actor, 'agreements.read');
      const after = decodeCursor(query.cursor, z.uuid());
      const rows = await listAgreementRows(db, {
        institutionId: actorInstitutionId(ctx.actor),
        side: query.side,
        afterId: after,
        limit: query.limit + 1,
      });
      return toPage(
        rows,
        query.limit,
        (r) => r.id,
        (r) => r,
      );
    },
  };
}
