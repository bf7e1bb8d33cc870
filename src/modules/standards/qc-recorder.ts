// Evaluating loaded specimens and recording what the checks found, the same way for the
// per-specimen check and the batch run: results written in one statement per institution
// (qc-results.repo.ts), then the specimen's QC status and, where a failing rule asks, a QC_FAILED
// hold, both through the specimen ledger (holds as the checker).

import type { Ctx } from '../../context.js';
import type { Tx } from '../../db/client.js';
import { today } from '../consent/index.js';
import {
  transition,
  type SpecimenCommand,
  type SpecimenLedger,
  type SpecimenStatus,
} from '../specimens/index.js';
import type { LoadedFacts } from './qc-facts.read-model.js';
import { writeResults, type EvaluatedSpecimen } from './qc-results.repo.js';
import { checkerCtx } from './standards.actor.js';
import { evaluateSpecimen, worstOutcome, type Ruleset, type SprecDecoder } from './standards.rules.js';
import { withoutJit } from './standards.sql.js';

export interface RecordOutcome {
  /** specimens whose results were written */
  written: Set<string>;
  holdsPlaced: number;
}

export interface QcRecorderDeps {
  ledger: SpecimenLedger;
  clock: () => Date;
}

export function createQcRecorder(deps: QcRecorderDeps) {
  const { ledger, clock } = deps;

  /**
   * Places a QC_FAILED hold (the ledger writes its hold_placed custody event and audit row, as for
   * placeHold) on written specimens a failing rule asks to hold. Idempotent: a held specimen is
   * skipped, as is one whose status takes no hold or that changed since it was evaluated.
   */
  async function placeHolds(
    tx: Tx,
    ctx: Ctx,
    institutionId: string,
    items: EvaluatedSpecimen[],
    written: Set<string>,
    runId: string | null,
  ) {
    const wanted = items.filter(
      (i) =>
        written.has(i.facts.id) &&
        i.results.some((r) => r.hold) &&
        !i.facts.holds.includes('QC_FAILED') &&
        transition(i.facts.status as SpecimenStatus, 'place_hold').ok,
    );
    if (wanted.length === 0) return 0;
    const byId = new Map(wanted.map((w) => [w.facts.id, w]));
    const locked = await ledger.lock(tx, institutionId, [...byId.keys()]);
    const commands: SpecimenCommand[] = [];
    for (const row of locked) {
      const w = byId.get(row.id);
      if (!w || row.holds.includes('QC_FAILED') || !transition(row.status, 'place_hold').ok) continue;
      const failed = w.results.filter((r) => r.hold).map((r) => r.check);
      commands.push({
        kind: 'place_hold',
        specimen: row,
        reason: 'QC_FAILED',
        details: { checks: failed, ...(runId ? { runId } : {}) },
      });
    }
    if (commands.length) await ledger.apply(tx, checkerCtx(ctx, institutionId), commands);
    return commands.length;
  }

  return {
    /** Runs every check on the loaded specimens; rulesets by protocol id. */
    evaluate(
      loaded: LoadedFacts[],
      rulesets: Map<string, Ruleset>,
      decode: SprecDecoder,
    ): EvaluatedSpecimen[] {
      const day = today(clock());
      return loaded.map(({ facts: f, currentChecks }) => {
        const results = evaluateSpecimen(f, f.protocolId ? (rulesets.get(f.protocolId) ?? null) : null, {
          today: day,
          decode,
        });
        const now = new Set(results.map((r) => r.check));
        return { facts: f, results, stale: currentChecks.filter((c) => !now.has(c)) };
      });
    },

    /**
     * Writes evaluated specimens grouped by institution: their results, then their QC status (the
     * worst result) for those still at the evaluated version, then the holds their results ask.
     */
    async record(tx: Tx, ctx: Ctx, items: EvaluatedSpecimen[], runId: string | null): Promise<RecordOutcome> {
      const byInstitution = new Map<string, EvaluatedSpecimen[]>();
      for (const i of items) {
        const list = byInstitution.get(i.facts.institutionId) ?? [];
        list.push(i);
        byInstitution.set(i.facts.institutionId, list);
      }
      const written = new Set<string>();
      let holdsPlaced = 0;
      const now = clock();
      await withoutJit(tx);
      for (const [institutionId, list] of byInstitution) {
        const w = await writeResults(tx, institutionId, list, runId, now);
        for (const id of w) written.add(id);
        await ledger.recordQcStatus(
          tx,
          list
            .filter((i) => w.has(i.facts.id))
            .map((i) => ({ id: i.facts.id, version: i.facts.version, qcStatus: worstOutcome(i.results) })),
        );
        holdsPlaced += await placeHolds(tx, ctx, institutionId, list, w, runId);
      }
      return { written, holdsPlaced };
    },
  };
}

export type QcRecorder = ReturnType<typeof createQcRecorder>;
