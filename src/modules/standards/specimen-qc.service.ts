import type { Ctx } from '../../context.js';
import { actorInstitutionId, authorize } from '../../auth/roles.js';
import type { Db } from '../../db/client.js';
import { loadConsentContexts } from '../consent/index.js';
import { findSpecimen, specimenNotFound } from '../specimens/index.js';
import { saveCheckpoints, verifyFromCheckpoints } from './custody-checkpoint.js';
import { loadQcFactsOfSpecimens } from './qc-facts.read-model.js';
import type { QcRecorder } from './qc-recorder.js';
import { listQcResultsOf, specimenQcRecord } from './qc-results.repo.js';
import { currentRulesets } from './quality-rules.repo.js';
import { memoDecoder } from './standards.rules.js';
import type { QcResultRow } from './standards.table.js';

/** One specimen's checks: run after every change, and read back with their history. */
export function createSpecimenQcService(deps: { db: Db; recorder: QcRecorder; clock: () => Date }) {
  const { db, recorder, clock } = deps;
  return {
    /** Current results (and changes of outcome) of one specimen. Throws SPECIMEN_NOT_FOUND. */
    async getSpecimenQc(ctx: Ctx, specimenId: string) {
      authorize(ctx.actor, 'standards.read');
      const institutionId = actorInstitutionId(ctx.actor);
      // One snapshot: the QC status and the results it summarises are written together.
      return db.transaction(
        async (tx) => {
          const specimen = await findSpecimen(tx, institutionId, specimenId);
          if (!specimen) throw specimenNotFound(specimenId);
          const { results, history } = await specimenQcRecord(tx, specimenId);
          return { specimen, results, history };
        },
        { isolationLevel: 'repeatable read', accessMode: 'read only' },
      );
    },

    /**
     * The worker's per-specimen check (after every change): loads the specimens, verifies each
     * custody chain from the head its last check verified (rehashing the new events only), reads
     * consent through the consent module's loader, evaluates and writes the results, placing QC
     * holds where a rule asks, and advances the verified heads. Idempotent; unknown ids are ignored.
     */
    async checkSpecimens(
      ctx: Ctx,
      specimenIds: readonly string[],
    ): Promise<{ checked: number; holdsPlaced: number }> {
      const ids = [...new Set(specimenIds)];
      if (ids.length === 0) return { checked: 0, holdsPlaced: 0 };
      const loaded = await loadQcFactsOfSpecimens(db, ids);
      if (loaded.length === 0) return { checked: 0, holdsPlaced: 0 };
      const facts = loaded.map((l) => l.facts);
      const advances = await verifyFromCheckpoints(db, loaded);
      const consents = await loadConsentContexts(db, facts);
      for (const f of facts) {
        if (f.participantId) {
          const c = consents.get(`${f.participantId}:${f.protocolId}`)?.consent ?? null;
          f.consent = c ? { status: c.status, expiresOn: c.expiresOn } : null;
        }
      }
      const rulesets = await currentRulesets(db, [
        ...new Set(facts.map((f) => f.protocolId).filter((p): p is string => p !== null)),
      ]);
      const evaluated = recorder.evaluate(loaded, rulesets, memoDecoder());
      const outcome = await db.transaction(async (tx) => {
        const recorded = await recorder.record(tx, ctx, evaluated, null);
        await saveCheckpoints(tx, advances, clock());
        return recorded;
      });
      return { checked: outcome.written.size, holdsPlaced: outcome.holdsPlaced };
    },

    /**
     * Current results of a page of specimens (the GraphQL loader's one statement), by specimen id
     * and then check; another institution's specimens, and unknown ids, have none.
     */
    async listQcResultsOfSpecimens(
      ctx: Ctx,
      specimenIds: readonly string[],
    ): Promise<Map<string, QcResultRow[]>> {
      authorize(ctx.actor, 'standards.read');
      const ids = [...new Set(specimenIds)];
      const bySpecimen = new Map<string, QcResultRow[]>();
      if (ids.length === 0) return bySpecimen;
      for (const r of await listQcResultsOf(db, actorInstitutionId(ctx.actor), ids)) {
        const list = bySpecimen.get(r.specimenId);
        if (list) list.push(r);
        else bySpecimen.set(r.specimenId, [r]);
      }
      return bySpecimen;
    },
  };
}
