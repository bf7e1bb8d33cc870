// Consent records: a donor's signed consents per protocol, their history and withdrawal. The
// withdrawal itself is recorded here, in the request; its effect on the tubes runs later in the
// consent worker (consent.cascade.ts).
import { systemClock, utcDay, type Clock } from '../../clock.js';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { lockNaturalKey } from '../../db/natural-keys.js';
import { inTransaction } from '../../db/transaction.js';
import { invalidExpiry } from '../../errors.js';
import { enqueueJob } from '../../jobs/outbox.js';
import { recordAudit } from '../audit/index.js';
import { findParticipantWithTiers, participantNotFound } from '../participants/index.js';
import {
  consentAlreadyWithdrawn,
  consentNotFound,
  consentSignedBeforeCurrent,
  consentSuperseded,
  signedDateInFuture,
  tierNotInProtocol,
} from './consent.errors.js';
import { consentCascadeJob } from './consent.jobs.js';
import {
  findConsent,
  insertCascade,
  insertConsent,
  listConsentRows,
  lockCurrentConsent,
  markConsentWithdrawn,
  supersedeConsent,
  type CascadeRow,
  type ConsentRow,
} from './consent.repo.js';
import type { RecordConsentInput, WithdrawConsentInput } from './consent.schemas.js';
import { LIFTABLE_SCOPES, type ConsentResponse } from './consent.table.js';

/** The status a consent has on `day` (YYYY-MM-DD): an expiry date in the past reads as expired. */
export function effectiveStatus(c: ConsentRow, day: string): ConsentRow['status'] {
  if (c.status === 'active' && c.expiresOn !== null && c.expiresOn <= day) return 'expired';
  return c.status;
}

export function createConsentRecords(deps: { db: Db; clock?: Clock }) {
  const { db } = deps;
  const today = utcDay(deps.clock ?? systemClock);
  /** Consents leave the service with the status they have today. */
  const asOfToday = (c: ConsentRow): ConsentRow => ({ ...c, status: effectiveStatus(c, today()) });

  async function loadOwn(handle: Db, ctx: Ctx, id: string): Promise<ConsentRow> {
    const row = await findConsent(handle, actorInstitutionId(ctx.actor), id);
    if (!row) throw consentNotFound(id);
    return row;
  }

  return {
    /**
     * Records a signed consent; a current one for the same donor and protocol is superseded and
     * kept as history. Re-consent after a liftable withdrawal releases the holds (through the
     * worker). Throws PARTICIPANT_NOT_FOUND, TIER_NOT_IN_PROTOCOL, SIGNED_DATE_IN_FUTURE,
     * INVALID_EXPIRY, CONSENT_SIGNED_BEFORE_CURRENT.
     */
    async recordConsent(ctx: Ctx, input: RecordConsentInput): Promise<ConsentRow> {
      authorize(ctx.actor, 'consent.manage');
      const institutionId = actorInstitutionId(ctx.actor);
      const day = today();
      if (input.signedOn > day) {
        throw signedDateInFuture(input.signedOn, day);
      }
      if (input.expiresOn && input.expiresOn <= input.signedOn) {
        throw invalidExpiry('expiresOn', input.expiresOn, `signedOn ${input.signedOn}`);
      }
      return inTransaction(db, ctx, async (tx) => {
        const p = await findParticipantWithTiers(tx, institutionId, input.participantId);
        if (!p) throw participantNotFound(input.participantId, 'participantId');
        const extra = Object.keys(input.responses).filter((t) => !p.tiers.includes(t));
        if (extra.length) throw tierNotInProtocol(extra, p.tiers);
        const responses: Record<string, ConsentResponse> = Object.fromEntries(
          p.tiers.map((t) => [t, input.responses[t as keyof typeof input.responses] ?? 'unspecified']),
        );
        // Versions recorded at once queue here, each superseding the one before it: the row lock
        // alone would let a waiter find the row it waited for superseded, and no current one.
        await lockNaturalKey(tx, 'consent_current', p.participant.id, p.participant.protocolId);
        const previous = await lockCurrentConsent(tx, p.participant.id, p.participant.protocolId);
        // An older document replayed late (an LIS sending history newest first) must not become
        // the donor's current decision.
        if (previous && input.signedOn < previous.signedOn) {
          throw consentSignedBeforeCurrent(input.signedOn, previous);
        }
        if (previous) await supersedeConsent(tx, previous.id);
        const row = await insertConsent(tx, {
          institutionId,
          participantId: p.participant.id,
          protocolId: p.participant.protocolId,
          documentVersion: input.documentVersion,
          signedOn: input.signedOn,
          obtainedBy: input.obtainedBy,
          responses,
          expiresOn: input.expiresOn ?? null,
          supersedesId: previous?.id ?? null,
        });
        await recordAudit(tx, ctx, {
          action: 'recordConsent',
          entityType: 'consent',
          entityId: row.id,
          institutionId,
          before: previous ?? null,
          after: row,
        });
        if (
          previous?.status === 'withdrawn' &&
          previous.withdrawalScope &&
          LIFTABLE_SCOPES.has(previous.withdrawalScope)
        ) {
          const cascade = await insertCascade(tx, { institutionId, consentId: row.id, kind: 'reconsent' });
          await enqueueJob(tx, ctx, consentCascadeJob, { cascadeId: cascade.id });
        }
        return asOfToday(row);
      });
    },

    /** Throws CONSENT_NOT_FOUND. */
    async getConsent(ctx: Ctx, id: string): Promise<ConsentRow> {
      authorize(ctx.actor, 'consent.read');
      return asOfToday(await loadOwn(db, ctx, id));
    },

    /** Every version for a participant, newest first. */
    async listConsents(ctx: Ctx, q: { participantId: string }): Promise<ConsentRow[]> {
      authorize(ctx.actor, 'consent.read');
      return (await listConsentRows(db, actorInstitutionId(ctx.actor), [q.participantId])).map(asOfToday);
    },

    /** Every consent version of each given participant, newest first, in one query. Throws FORBIDDEN. */
    async listConsentsOfParticipants(ctx: Ctx, participantIds: readonly string[]): Promise<ConsentRow[]> {
      authorize(ctx.actor, 'consent.read');
      if (participantIds.length === 0) return [];
      return (await listConsentRows(db, actorInstitutionId(ctx.actor), participantIds)).map(asOfToday);
    },

    /**
     * Withdraws consent now; the cascade (holds on every tube of the donor under the protocol,
     * destruction list, partner webhooks) runs in the consent worker. Throws CONSENT_NOT_FOUND,
     * CONSENT_ALREADY_WITHDRAWN, CONSENT_SUPERSEDED.
     */
    async withdrawConsent(
      ctx: Ctx,
      id: string,
      input: WithdrawConsentInput,
    ): Promise<{ consent: ConsentRow; cascade: CascadeRow }> {
      authorize(ctx.actor, 'consent.manage');
      return inTransaction(db, ctx, async (tx) => {
        const before = await findConsent(tx, actorInstitutionId(ctx.actor), id, { lock: true });
        if (!before) throw consentNotFound(id);
        if (before.supersededAt) throw consentSuperseded(id);
        if (before.status === 'withdrawn') throw consentAlreadyWithdrawn(id, before.withdrawnAt);
        const after = await markConsentWithdrawn(tx, id, {
          scope: input.scope,
          reason: input.reason ?? null,
        });
        const cascade = await insertCascade(tx, {
          institutionId: before.institutionId,
          consentId: id,
          kind: 'withdraw',
        });
        await enqueueJob(tx, ctx, consentCascadeJob, { cascadeId: cascade.id });
        await recordAudit(tx, ctx, {
          action: 'withdrawConsent',
          entityType: 'consent',
          entityId: id,
          institutionId: before.institutionId,
          before,
          after,
        });
        return { consent: asOfToday(after), cascade };
      });
    },
  };
}

export type ConsentRecords = ReturnType<typeof createConsentRecords>;
