import type { Tx } from '../../db/client.js';
import { enqueueJob, replacePendingJob } from '../../jobs/outbox.js';
import type { SpecimenChangeListener } from '../specimens/index.js';
import { isChecker } from './standards.actor.js';
import { checkSpecimenJob } from './standards.jobs.js';

/** Specimen ids per check job (a transaction changing more queues several jobs). */
export const MAX_IDS_PER_CHECK_JOB = 2_000;

/**
 * Queues the per-specimen check for every specimen a transaction creates or changes: one outbox
 * row per transaction, however many writes it makes (a second call in the same transaction widens
 * the job it already queued). The checker's own writes (QC holds) are ignored, so a check never
 * queues itself.
 */
export function createStandardsChangeListener(): SpecimenChangeListener {
  /** Per open transaction: its last queued job and the ids in it. */
  const queued = new WeakMap<Tx, { outboxId: string; ids: Set<string> }>();
  return {
    async specimensChanged(tx, ctx, specimenIds) {
      if (isChecker(ctx) || specimenIds.length === 0) return;
      const entry = queued.get(tx);
      if (entry && specimenIds.every((id) => entry.ids.has(id))) return;
      const ids = new Set([...(entry?.ids ?? []), ...specimenIds]);
      let pending = [...ids];
      if (entry && ids.size <= MAX_IDS_PER_CHECK_JOB) {
        if (await replacePendingJob(tx, ctx, entry.outboxId, checkSpecimenJob, { specimenIds: pending })) {
          entry.ids = ids;
          return;
        }
        // The job row is gone (it cannot be, short of a rolled-back savepoint): queue all afresh.
      } else if (entry) {
        // The job is full: the new ids go into another one.
        pending = pending.filter((id) => !entry.ids.has(id));
      }
      for (let i = 0; i < pending.length; i += MAX_IDS_PER_CHECK_JOB) {
        const chunk = pending.slice(i, i + MAX_IDS_PER_CHECK_JOB);
        const outboxId = await enqueueJob(tx, ctx, checkSpecimenJob, { specimenIds: chunk });
        queued.set(tx, { outboxId, ids: new Set(chunk) });
      }
    },
  };
}
