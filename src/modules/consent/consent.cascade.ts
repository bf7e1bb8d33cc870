// The withdrawal cascade, run by the consent worker: a withdrawal holds every tube of the donor
// under the protocol (and lists them for destruction when the donor asked for it), tells the
// subscribers (sharing releases open request items) and the partners that received any of them;
// a re-consent after a liftable withdrawal lifts the holds again.
import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db, Tx } from '../../db/client.js';
import { inTransaction } from '../../db/transaction.js';
import { emitWebhook } from '../webhooks/index.js';
import type { SpecimenCommand, SpecimenLedger, SpecimenRow } from '../specimens/index.js';
import { cascadeNotFound, consentNotFound } from './consent.errors.js';
import {
  completeCascade,
  findCascade,
  findConsentById,
  listConsentRows,
  listForDestruction,
  lockCurrentConsent,
  markCascadeRunning,
  recordCascadeProgress,
  type CascadeRow,
  type ConsentRow,
} from './consent.repo.js';
import { LIFTABLE_SCOPES, type WithdrawalScope } from './consent.table.js';
import { donorSpecimenIds } from './donor-specimens.read-model.js';
import { shippedRecipients } from './shipped-recipients.read-model.js';

/** The sharing capability subscribes to withdrawals to release open request items. */
export interface WithdrawalSubscriber {
  onSpecimensWithdrawn(
    tx: Tx,
    ctx: Ctx,
    event: { consentId: string; scope: WithdrawalScope; specimenIds: string[] },
  ): Promise<void>;
}

/** Specimens per cascade transaction. */
const BATCH = 500;
/** Tubes already gone or out of our hands are not listed for destruction. */
const NOT_DESTROYABLE: ReadonlySet<SpecimenRow['status']> = new Set(['destroyed', 'consumed', 'distributed']);

export function createWithdrawalCascade(deps: {
  db: Db;
  ledger: SpecimenLedger;
  subscribers?: WithdrawalSubscriber[];
}) {
  const { db } = deps;
  const subscribers = deps.subscribers ?? [];

  async function withdrawBatch(tx: Tx, ctx: Ctx, c: ConsentRow, rows: SpecimenRow[]) {
    const scope = c.withdrawalScope!;
    const toHold = rows.filter((r) => !r.holds.includes('CONSENT_WITHDRAWN'));
    await deps.ledger.apply(
      tx,
      ctx,
      toHold.map((r) => ({ kind: 'withdraw_consent', specimen: r, consentId: c.id, scope })),
    );
    const listed =
      scope === 'destroy_specimens'
        ? await listForDestruction(
            tx,
            c.institutionId,
            c.id,
            rows.filter((r) => !NOT_DESTROYABLE.has(r.status)).map((r) => r.id),
          )
        : 0;
    if (toHold.length) {
      for (const s of subscribers)
        await s.onSpecimensWithdrawn(tx, ctx, {
          consentId: c.id,
          scope,
          specimenIds: toHold.map((r) => r.id),
        });
    }
    return { changed: toHold.length, listed };
  }

  /**
   * The donor's consent that lifts the withdrawal's holds now: the current one, when it is active
   * and the last withdrawal before it was liftable. Not only the consent the cascade was queued
   * for: a correction recorded right after a re-consent supersedes it before its cascade runs,
   * and no cascade is queued for the correction (what it supersedes is active).
   */
  async function liftingConsent(tx: Tx, c: ConsentRow): Promise<ConsentRow | undefined> {
    // A consent recorded while this waited for the lock superseded the row it waited for; the
    // new one is read by the next statement (a newer snapshot).
    let current: ConsentRow | undefined;
    for (let tries = 0; !current && tries < 3; tries++)
      current = await lockCurrentConsent(tx, c.participantId, c.protocolId);
    if (current?.status !== 'active') return undefined;
    const history = await listConsentRows(tx, c.institutionId, [c.participantId]);
    const withdrawal = history.find((h) => h.protocolId === c.protocolId && h.status === 'withdrawn');
    return withdrawal?.withdrawalScope && LIFTABLE_SCOPES.has(withdrawal.withdrawalScope)
      ? current
      : undefined;
  }

  async function reconsentBatch(tx: Tx, ctx: Ctx, c: ConsentRow, rows: SpecimenRow[]) {
    // Destroyed and consumed tubes keep the hold (the lifecycle refuses lifting it from them).
    const commands: SpecimenCommand[] = rows
      .filter((r) => r.holds.includes('CONSENT_WITHDRAWN') && !['destroyed', 'consumed'].includes(r.status))
      .map((r) => ({ kind: 'lift_consent_hold', specimen: r, consentId: c.id }));
    await deps.ledger.apply(tx, ctx, commands);
    return { changed: commands.length, listed: 0 };
  }

  /** One webhook per partner that received any of the donor's specimens; returns how many were queued. */
  async function notifyPartners(tx: Tx, ctx: Ctx, c: ConsentRow, cascadeId: string): Promise<number> {
    let sent = 0;
    for (const r of await shippedRecipients(tx, c)) {
      const id = await emitWebhook(tx, ctx, {
        institutionId: r.institutionId,
        eventType: 'consent.withdrawn',
        data: {
          withdrawalId: cascadeId,
          providerInstitutionId: c.institutionId,
          scope: c.withdrawalScope,
          specimenIds: r.specimenIds,
        },
      });
      if (id) sent++;
    }
    return sent;
  }

  return {
    /** Progress and final counts of a cascade. Throws CASCADE_NOT_FOUND. */
    async getConsentCascade(ctx: Ctx, id: string): Promise<CascadeRow> {
      authorize(ctx.actor, 'consent.read');
      const row = await findCascade(db, id, actorInstitutionId(ctx.actor));
      if (!row) throw cascadeNotFound(id);
      return row;
    },

    /**
     * The worker's part (idempotent, safe to re-run): walks the donor's specimens in batches,
     * holding (or releasing) each one with a custody event, until a pass finds nothing left,
     * so tubes created while it runs are covered too. Throws CASCADE_NOT_FOUND, CONSENT_NOT_FOUND.
     */
    async runCascade(
      ctx: Ctx,
      cascadeId: string,
      progress?: (p: object) => Promise<void>,
    ): Promise<CascadeRow> {
      const cascade = await findCascade(db, cascadeId);
      if (!cascade) throw cascadeNotFound(cascadeId);
      const consent = await findConsentById(db, cascade.consentId);
      if (!consent) throw consentNotFound(cascade.consentId);
      const actx: Ctx = {
        ...ctx,
        actor: { kind: 'system', name: 'consent-cascade', institutionId: consent.institutionId },
      };
      await markCascadeRunning(db, cascadeId);
      let found = 0;
      let changed = 0;
      let listed = 0;
      let after: string | null = null;
      for (;;) {
        const batch: { ids: number; changed: number; listed: number; last: string | null } =
          await db.transaction(async (tx) => {
            const ids = await donorSpecimenIds(tx, consent, after, BATCH);
            if (ids.length === 0) return { ids: 0, changed: 0, listed: 0, last: null };
            const rows = await deps.ledger.lock(tx, consent.institutionId, ids);
            // The consent may have changed since the job was queued: act on what holds now.
            let effect = { changed: 0, listed: 0 };
            if (cascade.kind === 'withdraw') {
              const current = await findConsentById(tx, consent.id, { share: true });
              if (current && current.supersededAt === null && current.status === 'withdrawn')
                effect = await withdrawBatch(tx, actx, current, rows);
            } else {
              const lifting = await liftingConsent(tx, consent);
              if (lifting) effect = await reconsentBatch(tx, actx, lifting, rows);
            }
            return { ids: ids.length, ...effect, last: ids[ids.length - 1] ?? null };
          });
        if (batch.ids === 0) break;
        found += batch.ids;
        changed += batch.changed;
        listed += batch.listed;
        after = batch.last;
        await recordCascadeProgress(db, cascadeId, { found, changed: batch.changed, listed: batch.listed });
        await progress?.({ found, changed, listed });
      }
      const partners =
        cascade.kind === 'withdraw' && consent.status !== 'active'
          ? await inTransaction(db, actx, (tx) => notifyPartners(tx, actx, consent, cascadeId))
          : 0;
      const done = await completeCascade(db, cascadeId, { found, partners });
      ctx.log.info({ cascadeId, found, changed, listed, partners }, 'consent cascade completed');
      return done;
    },
  };
}

export type WithdrawalCascade = ReturnType<typeof createWithdrawalCascade>;
