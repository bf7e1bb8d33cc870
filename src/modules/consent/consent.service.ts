import { and, asc, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Ctx } from '../../context.js';
import { actorInstitutionId, actorLabel, authorize } from '../../auth/roles.js';
import type { Db, Tx } from '../../db/client.js';
import { newId } from '../../db/columns.js';
import { inTransaction } from '../../db/transaction.js';
import { DomainError, badRequest, conflict, notFound, unprocessable } from '../../errors.js';
import { enqueueJob } from '../../jobs/outbox.js';
import { recordAudit } from '../audit/audit.repo.js';
import { custodyEvents } from '../custody/index.js';
import { CONSENT_TIERS } from '../../vocabulary/consent-tiers.js';
import { participants, protocols } from '../participants/participants.table.js';
import { loadContainersWithAncestors } from '../storage/storage.repo.js';
import { locationOf } from '../storage/index.js';
import { findSpecimensByIds, lockSpecimens, lockSpecimensByBarcode } from '../specimens/specimens.repo.js';
import type { SpecimenCommand, SpecimenLedger } from '../specimens/index.js';
import { specimenViews } from '../specimens/specimens.dto.js';
import { specimens, type SpecimenRow } from '../specimens/specimens.table.js';
import { emitWebhook } from '../webhooks/index.js';
import { createConsentGate, today, type ConsentGate } from './consent.gate.js';
import { consentCascadeJob } from './consent.jobs.js';
import {
  CONSENT_RESPONSES,
  WITHDRAWAL_SCOPES,
  consentCascades,
  consents,
  destructionItems,
  type WithdrawalScope,
} from './consent.table.js';
import type { Use } from '../../vocabulary/uses.js';

export const recordConsentInput = z.object({
  participantId: z.uuid(),
  documentVersion: z.string().trim().min(1).max(40),
  signedOn: z.iso.date().describe('date the donor signed (YYYY-MM-DD)'),
  obtainedBy: z.string().trim().min(1).max(120).describe('who obtained the consent (staff id or name)'),
  responses: z
    .partialRecord(z.enum(CONSENT_TIERS), z.enum(CONSENT_RESPONSES))
    .describe('a response per tier the protocol asks'),
  expiresOn: z.iso.date().optional(),
});
export type RecordConsentInput = z.infer<typeof recordConsentInput>;

export const withdrawConsentInput = z.object({
  scope: z.enum(WITHDRAWAL_SCOPES),
  reason: z.string().trim().max(500).optional(),
});

export type ConsentRow = typeof consents.$inferSelect;
export type CascadeRow = typeof consentCascades.$inferSelect;

/** The sharing capability subscribes to withdrawals to release open request items. */
export interface WithdrawalSubscriber {
  onSpecimensWithdrawn(
    tx: Tx,
    ctx: Ctx,
    event: { consentId: string; scope: WithdrawalScope; specimenIds: string[] },
  ): Promise<void>;
}

/** Withdrawn or destroyed specimens cannot come back under a new consent; held ones can. */
const LIFTABLE: ReadonlySet<WithdrawalScope> = new Set<WithdrawalScope>(['stop_future_use', 'stop_data_use']);
const BATCH = 500;

/** The status a consent has today: an expiry date in the past reads as expired. */
export function effectiveStatus(c: ConsentRow, day = today()): ConsentRow['status'] {
  if (c.status === 'active' && c.expiresOn !== null && c.expiresOn <= day) return 'expired';
  return c.status;
}

export function createConsentService(deps: {
  db: Db;
  ledger: SpecimenLedger;
  subscribers?: WithdrawalSubscriber[];
  /** The gate holds no state; the container may pass its own. */
  gate?: ConsentGate;
}) {
  const { db } = deps;
  const gate = deps.gate ?? createConsentGate();
  const subscribers = deps.subscribers ?? [];

  async function loadOwn(tx: Db | Tx, ctx: Ctx, id: string, lock = false): Promise<ConsentRow> {
    const q = tx
      .select()
      .from(consents)
      .where(and(eq(consents.id, id), eq(consents.institutionId, actorInstitutionId(ctx.actor))));
    const [row] = lock ? await q.for('update') : await q;
    if (!row) throw notFound('CONSENT_NOT_FOUND', `consent ${id} was not found`);
    return row;
  }

  /** Specimens of the donor under the protocol, every generation (children inherit both ids). */
  async function donorSpecimenIds(tx: Tx, c: ConsentRow, afterId: string | null): Promise<string[]> {
    const rows = await tx
      .select({ id: specimens.id })
      .from(specimens)
      .where(
        and(
          eq(specimens.institutionId, c.institutionId),
          sql`(${specimens.rootId} in (select s.root_id from specimen s where s.participant_id = ${c.participantId} and s.protocol_id = ${c.protocolId}))`,
          afterId ? sql`${specimens.id} > ${afterId}` : undefined,
        ),
      )
      .orderBy(asc(specimens.id))
      .limit(BATCH);
    return rows.map((r) => r.id);
  }

  async function withdrawBatch(tx: Tx, ctx: Ctx, c: ConsentRow, rows: SpecimenRow[]) {
    const scope = c.withdrawalScope!;
    const toHold = rows.filter((r) => !r.holds.includes('CONSENT_WITHDRAWN'));
    await deps.ledger.apply(
      tx,
      ctx,
      toHold.map((r) => ({ kind: 'withdraw_consent', specimen: r, consentId: c.id, scope })),
    );
    let listed = 0;
    if (scope === 'destroy_specimens') {
      const live = rows.filter((r) => !['destroyed', 'consumed', 'distributed'].includes(r.status));
      if (live.length) {
        const inserted = await tx
          .insert(destructionItems)
          .values(
            live.map((r) => ({
              id: newId(),
              institutionId: c.institutionId,
              specimenId: r.id,
              consentId: c.id,
            })),
          )
          .onConflictDoNothing()
          .returning({ id: destructionItems.id });
        listed = inserted.length;
      }
    }
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

  async function reconsentBatch(tx: Tx, ctx: Ctx, c: ConsentRow, rows: SpecimenRow[]) {
    const commands: SpecimenCommand[] = rows
      .filter((r) => r.holds.includes('CONSENT_WITHDRAWN') && !['destroyed', 'consumed'].includes(r.status))
      .map((r) => ({ kind: 'lift_consent_hold', specimen: r, consentId: c.id }));
    await deps.ledger.apply(tx, ctx, commands);
    return { changed: commands.length, listed: 0 };
  }

  /** Partners that received any of these specimens (shipment custody events name them). */
  async function notifyPartners(tx: Tx, ctx: Ctx, c: ConsentRow, cascadeId: string): Promise<number> {
    const recipients = await tx.execute<{ institution_id: string; specimen_ids: string[] }>(sql`
      select e.details->>'recipientInstitutionId' as institution_id, array_agg(distinct e.specimen_id) as specimen_ids
        from ${custodyEvents} e join specimen s on s.id = e.specimen_id
       where s.institution_id = ${c.institutionId} and s.participant_id = ${c.participantId} and s.protocol_id = ${c.protocolId}
         and e.type in ('shipped', 'received_by_partner') and e.details ? 'recipientInstitutionId'
       group by 1`);
    let sent = 0;
    for (const r of recipients.rows) {
      const id = await emitWebhook(tx, ctx, {
        institutionId: r.institution_id,
        eventType: 'consent.withdrawn',
        data: {
          withdrawalId: cascadeId,
          providerInstitutionId: c.institutionId,
          scope: c.withdrawalScope,
          specimenIds: r.specimen_ids,
        },
      });
      if (id) sent++;
    }
    return sent;
  }

  return {
    /**
     * Records a signed consent; a current one for the same donor and protocol is superseded and
     * kept as history. Re-consent after a liftable withdrawal releases the holds (through the
     * worker). Throws PARTICIPANT_NOT_FOUND, TIER_NOT_IN_PROTOCOL, SIGNED_DATE_IN_FUTURE, INVALID_EXPIRY.
     */
    async recordConsent(ctx: Ctx, input: RecordConsentInput): Promise<ConsentRow> {
      authorize(ctx.actor, 'consent.manage');
      const institutionId = actorInstitutionId(ctx.actor);
      const day = today();
      if (input.signedOn > day) {
        throw badRequest('SIGNED_DATE_IN_FUTURE', `signedOn ${input.signedOn} is after today (${day})`, [
          { field: 'signedOn', message: 'in the future' },
        ]);
      }
      if (input.expiresOn && input.expiresOn <= input.signedOn) {
        throw badRequest('INVALID_EXPIRY', 'expiresOn must be after signedOn', [
          { field: 'expiresOn', message: 'not after signedOn' },
        ]);
      }
      return inTransaction(db, ctx, async (tx) => {
        const [p] = await tx
          .select({ participant: participants, tiers: protocols.consentTiers })
          .from(participants)
          .innerJoin(protocols, eq(protocols.id, participants.protocolId))
          .where(
            and(eq(participants.id, input.participantId), eq(participants.institutionId, institutionId)),
          );
        if (!p)
          throw new DomainError(
            'not_found',
            'PARTICIPANT_NOT_FOUND',
            `participant ${input.participantId} was not found`,
            [{ field: 'participantId', message: 'unknown participant' }],
          );
        const extra = Object.keys(input.responses).filter((t) => !p.tiers.includes(t));
        if (extra.length) {
          throw unprocessable(
            'TIER_NOT_IN_PROTOCOL',
            `the protocol does not ask for ${extra.join(', ')}; it asks ${p.tiers.join(', ') || 'no tiers'}`,
            extra.map((t) => ({ field: `responses.${t}`, message: 'not a tier of this protocol' })),
          );
        }
        const responses = Object.fromEntries(
          p.tiers.map((t) => [t, input.responses[t as keyof typeof input.responses] ?? 'unspecified']),
        );
        const [previous] = await tx
          .select()
          .from(consents)
          .where(
            and(
              eq(consents.participantId, p.participant.id),
              eq(consents.protocolId, p.participant.protocolId),
              isNull(consents.supersededAt),
            ),
          )
          .for('update');
        if (previous) {
          await tx
            .update(consents)
            .set({ supersededAt: sql`now()`, updatedAt: sql`now()`, version: sql`${consents.version} + 1` })
            .where(eq(consents.id, previous.id));
        }
        const [row] = await tx
          .insert(consents)
          .values({
            id: newId(),
            institutionId,
            participantId: p.participant.id,
            protocolId: p.participant.protocolId,
            documentVersion: input.documentVersion,
            signedOn: input.signedOn,
            obtainedBy: input.obtainedBy,
            responses,
            expiresOn: input.expiresOn ?? null,
            supersedesId: previous?.id ?? null,
          })
          .returning();
        await recordAudit(tx, ctx, {
          action: 'recordConsent',
          entityType: 'consent',
          entityId: row!.id,
          institutionId,
          before: previous ?? null,
          after: row,
        });
        if (
          previous?.status === 'withdrawn' &&
          previous.withdrawalScope &&
          LIFTABLE.has(previous.withdrawalScope)
        ) {
          const cascadeId = newId();
          await tx
            .insert(consentCascades)
            .values({ id: cascadeId, institutionId, consentId: row!.id, kind: 'reconsent' });
          await enqueueJob(tx, ctx, consentCascadeJob, { cascadeId });
        }
        return row!;
      });
    },

    /** Throws CONSENT_NOT_FOUND. */
    async getConsent(ctx: Ctx, id: string): Promise<ConsentRow> {
      authorize(ctx.actor, 'consent.read');
      return loadOwn(db, ctx, id);
    },

    /** Every version for a participant, newest first. */
    async listConsents(ctx: Ctx, q: { participantId: string }): Promise<ConsentRow[]> {
      authorize(ctx.actor, 'consent.read');
      return db
        .select()
        .from(consents)
        .where(
          and(
            eq(consents.institutionId, actorInstitutionId(ctx.actor)),
            eq(consents.participantId, q.participantId),
          ),
        )
        .orderBy(desc(consents.createdAt), desc(consents.id));
    },

    /**
     * Withdraws consent now; the cascade (holds on every tube of the donor under the protocol,
     * destruction list, partner webhooks) runs in the consent worker. Throws CONSENT_NOT_FOUND,
     * CONSENT_ALREADY_WITHDRAWN, CONSENT_SUPERSEDED.
     */
    async withdrawConsent(
      ctx: Ctx,
      id: string,
      input: z.infer<typeof withdrawConsentInput>,
    ): Promise<{ consent: ConsentRow; cascade: CascadeRow }> {
      authorize(ctx.actor, 'consent.manage');
      return inTransaction(db, ctx, async (tx) => {
        const before = await loadOwn(tx, ctx, id, true);
        if (before.supersededAt)
          throw conflict(
            'CONSENT_SUPERSEDED',
            `consent ${id} was superseded by a newer version; withdraw the current one`,
          );
        if (before.status === 'withdrawn')
          throw conflict(
            'CONSENT_ALREADY_WITHDRAWN',
            `consent ${id} was already withdrawn on ${before.withdrawnAt?.toISOString() ?? ''}`,
          );
        const [after] = await tx
          .update(consents)
          .set({
            status: 'withdrawn',
            withdrawnAt: sql`now()`,
            withdrawalScope: input.scope,
            withdrawalReason: input.reason ?? null,
            updatedAt: sql`now()`,
            version: sql`${consents.version} + 1`,
          })
          .where(eq(consents.id, id))
          .returning();
        const [cascade] = await tx
          .insert(consentCascades)
          .values({ id: newId(), institutionId: before.institutionId, consentId: id, kind: 'withdraw' })
          .returning();
        await enqueueJob(tx, ctx, consentCascadeJob, { cascadeId: cascade!.id });
        await recordAudit(tx, ctx, {
          action: 'withdrawConsent',
          entityType: 'consent',
          entityId: id,
          institutionId: before.institutionId,
          before,
          after,
        });
        return { consent: after!, cascade: cascade! };
      });
    },

    /** Progress and final counts of a cascade. Throws CASCADE_NOT_FOUND. */
    async getCascade(ctx: Ctx, id: string): Promise<CascadeRow> {
      authorize(ctx.actor, 'consent.read');
      const [row] = await db
        .select()
        .from(consentCascades)
        .where(
          and(eq(consentCascades.id, id), eq(consentCascades.institutionId, actorInstitutionId(ctx.actor))),
        );
      if (!row) throw notFound('CASCADE_NOT_FOUND', `consent cascade ${id} was not found`);
      return row;
    },

    /**
     * The worker's part (idempotent, safe to re-run): walks the donor's specimens in batches,
     * holding (or releasing) each one with a custody event, until a pass finds nothing left,
     * so tubes created while it runs are covered too.
     */
    async runCascade(
      ctx: Ctx,
      cascadeId: string,
      progress?: (p: object) => Promise<void>,
    ): Promise<CascadeRow> {
      const [cascade] = await db.select().from(consentCascades).where(eq(consentCascades.id, cascadeId));
      if (!cascade) throw notFound('CASCADE_NOT_FOUND', `consent cascade ${cascadeId} was not found`);
      const [consent] = await db.select().from(consents).where(eq(consents.id, cascade.consentId));
      if (!consent) throw notFound('CONSENT_NOT_FOUND', `consent ${cascade.consentId} was not found`);
      const actx: Ctx = {
        ...ctx,
        actor: { kind: 'system', name: 'consent-cascade', institutionId: consent.institutionId },
      };
      await db
        .update(consentCascades)
        .set({ status: 'running', startedAt: sql`coalesce(${consentCascades.startedAt}, now())` })
        .where(eq(consentCascades.id, cascadeId));
      let found = 0;
      let changed = 0;
      let listed = 0;
      let after: string | null = null;
      for (;;) {
        const batch: { ids: number; changed: number; listed: number; last: string | null } =
          await db.transaction(async (tx) => {
            const ids = await donorSpecimenIds(tx, consent, after);
            if (ids.length === 0) return { ids: 0, changed: 0, listed: 0, last: null };
            const rows = await lockSpecimens(tx, consent.institutionId, ids);
            // The consent may have changed since the job was queued: act on what holds now.
            const [current] = await tx
              .select()
              .from(consents)
              .where(eq(consents.id, consent.id))
              .for('share');
            const stillCurrent = current !== undefined && current.supersededAt === null;
            const effect =
              cascade.kind === 'withdraw'
                ? stillCurrent && current.status === 'withdrawn'
                  ? await withdrawBatch(tx, actx, current, rows)
                  : { changed: 0, listed: 0 }
                : stillCurrent && current.status === 'active'
                  ? await reconsentBatch(tx, actx, current, rows)
                  : { changed: 0, listed: 0 };
            return { ids: ids.length, ...effect, last: ids[ids.length - 1] ?? null };
          });
        if (batch.ids === 0) break;
        found += batch.ids;
        changed += batch.changed;
        listed += batch.listed;
        after = batch.last;
        await db
          .update(consentCascades)
          .set({
            specimensFound: found,
            specimensChanged: sql`${consentCascades.specimensChanged} + ${batch.changed}`,
            destructionListed: sql`${consentCascades.destructionListed} + ${batch.listed}`,
          })
          .where(eq(consentCascades.id, cascadeId));
        await progress?.({ found, changed, listed });
      }
      const partners =
        cascade.kind === 'withdraw' && consent.status !== 'active'
          ? await inTransaction(db, actx, (tx) => notifyPartners(tx, actx, consent, cascadeId))
          : 0;
      const [done] = await db
        .update(consentCascades)
        .set({
          status: 'completed',
          completedAt: sql`now()`,
          specimensFound: found,
          partnersNotified: sql`${consentCascades.partnersNotified} + ${partners}`,
        })
        .where(eq(consentCascades.id, cascadeId))
        .returning();
      ctx.log.info({ cascadeId, found, changed, listed, partners }, 'consent cascade completed');
      return done!;
    },

    /** Tubes to destroy after withdrawals, sorted for picking (freezer, rack, box, position). */
    async listDestruction(ctx: Ctx) {
      authorize(ctx.actor, 'destruction.read');
      const institutionId = actorInstitutionId(ctx.actor);
      const rows = await db
        .select({ item: destructionItems, specimen: specimens })
        .from(destructionItems)
        .innerJoin(specimens, eq(specimens.id, destructionItems.specimenId))
        .where(and(eq(destructionItems.institutionId, institutionId), isNull(destructionItems.confirmedAt)));
      const containers = await loadContainersWithAncestors(
        db,
        institutionId,
        rows.map((r) => r.specimen.containerId).filter((c): c is string => c !== null),
      );
      const items = rows.map((r) => ({
        item: r.item,
        specimen: r.specimen,
        location: locationOf(r.specimen, containers),
      }));
      const key = (x: (typeof items)[number]) =>
        [
          x.location?.path.replace(/ \/ [^/]+$/, '') ?? '~',
          x.specimen.positionRow ?? 0,
          x.specimen.positionCol ?? 0,
        ] as const;
      return items.sort((a, b) => {
        const ka = key(a);
        const kb = key(b);
        return ka[0].localeCompare(kb[0]) || ka[1] - kb[1] || ka[2] - kb[2];
      });
    },

    /**
     * Confirms destruction by scanning: each listed tube is destroyed (custody event) and its
     * item closed. Throws BATCH_REJECTED when a barcode is unknown or not on the list.
     */
    async confirmDestruction(ctx: Ctx, input: { barcodes: string[]; occurredAt?: string }) {
      authorize(ctx.actor, 'destruction.confirm');
      const institutionId = actorInstitutionId(ctx.actor);
      return inTransaction(db, ctx, async (tx) => {
        const rows = await lockSpecimensByBarcode(tx, institutionId, input.barcodes);
        const byBarcode = new Map(rows.map((r) => [r.barcode, r]));
        const open = rows.length
          ? await tx
              .select()
              .from(destructionItems)
              .where(
                and(
                  inArray(
                    destructionItems.specimenId,
                    rows.map((r) => r.id),
                  ),
                  isNull(destructionItems.confirmedAt),
                ),
              )
          : [];
        const listed = new Set(open.map((o) => o.specimenId));
        const problems = input.barcodes.flatMap((b, i) => {
          const r = byBarcode.get(b);
          if (!r)
            return [
              { field: `barcodes.${i}`, message: `no specimen has barcode ${b}`, code: 'SPECIMEN_NOT_FOUND' },
            ];
          if (!listed.has(r.id))
            return [
              {
                field: `barcodes.${i}`,
                message: `${b} is not on the destruction list`,
                code: 'NOT_ON_DESTRUCTION_LIST',
              },
            ];
          return [];
        });
        if (problems.length)
          throw new DomainError(
            'unprocessable',
            'BATCH_REJECTED',
            `${problems.length} of ${input.barcodes.length} scans were refused; nothing was destroyed`,
            problems,
          );
        const occurredAt = input.occurredAt ? new Date(input.occurredAt) : null;
        // Tubes already destroyed or consumed stay as they are: the list is settled for them.
        const commands: SpecimenCommand[] = rows
          .filter((r) => r.status !== 'destroyed' && r.status !== 'consumed')
          .map((r) => ({
            kind: 'destroy',
            specimen: r,
            occurredAt,
            reason: 'consent withdrawn',
            details: { consentIds: open.filter((o) => o.specimenId === r.id).map((o) => o.consentId) },
            action: 'confirmDestruction',
          }));
        const changed = new Map((await deps.ledger.apply(tx, ctx, commands)).map((r) => [r.id, r]));
        const after = rows.map((r) => changed.get(r.id) ?? r);
        await tx
          .update(destructionItems)
          .set({ confirmedAt: sql`now()`, confirmedBy: actorLabel(ctx.actor) })
          .where(
            and(
              inArray(
                destructionItems.specimenId,
                rows.map((r) => r.id),
              ),
              isNull(destructionItems.confirmedAt),
            ),
          );
        return specimenViews(tx, institutionId, after);
      });
    },

    /** Every consent version of each given participant, newest first, in one query. Throws FORBIDDEN. */
    async listConsentsOfParticipants(ctx: Ctx, participantIds: readonly string[]): Promise<ConsentRow[]> {
      authorize(ctx.actor, 'consent.read');
      if (participantIds.length === 0) return [];
      return db
        .select()
        .from(consents)
        .where(
          and(
            eq(consents.institutionId, actorInstitutionId(ctx.actor)),
            inArray(consents.participantId, [...participantIds]),
          ),
        )
        .orderBy(desc(consents.createdAt), desc(consents.id));
    },

    /**
     * The uses each given specimen of the caller's institution may be put to now, by the same
     * decision the gate applies at every use. Three queries whatever the count (specimens,
     * current consents, protocol tiers); another institution's ids are left out. Throws FORBIDDEN.
     */
    async permittedUses(ctx: Ctx, specimenIds: readonly string[]): Promise<Map<string, Use[]>> {
      authorize(ctx.actor, 'specimens.read');
      const rows = await findSpecimensByIds(db, actorInstitutionId(ctx.actor), specimenIds);
      return gate.permittedUsesOf(db, rows);
    },
  };
}

export type ConsentService = ReturnType<typeof createConsentService>;
