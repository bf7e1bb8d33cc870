import { and, asc, eq, gt, inArray, isNotNull, isNull, or, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { outbox } from './outbox.table.js';
import { jobDataOf } from './outbox.js';

type OutboxRow = typeof outbox.$inferSelect;
import type { QueueSet } from './queue-set.js';
import type { QueueName } from './queues.js';

const PAGE = 500;

export interface ReconcileResult {
  /** relayed rows whose handler has not finished, looked up in Redis */
  checked: number;
  /** of those, the jobs Redis no longer had, added again under the same id */
  requeued: number;
  /** jobs Redis holds as completed whose outcome PostgreSQL missed (recorded now) */
  completed: number;
  /** jobs Redis failed without their handler saying so (stalled), with tries left: retried */
  retried: number;
}

/**
 * PostgreSQL is the record of work: an outbox row stays open from its relay until its handler has
 * finished. One pass walks the open rows and asks Redis for each job; a job Redis no longer has
 * (a restart without persistence, an eviction, FLUSHALL) is added again under the same id, so a
 * concurrent pass or relay is deduplicated by BullMQ and the idempotent handler runs at most once
 * more. Returns what it did.
 */
export async function reconcileOutbox(deps: { db: Db; queues: QueueSet }): Promise<ReconcileResult> {
  const result: ReconcileResult = { checked: 0, requeued: 0, completed: 0, retried: 0 };
  let after: { enqueuedAt: Date; id: string } | null = null;
  for (;;) {
    const rows: OutboxRow[] = await deps.db
      .select()
      .from(outbox)
      .where(
        and(
          isNotNull(outbox.enqueuedAt),
          isNull(outbox.doneAt),
          isNull(outbox.failedAt),
          after
            ? or(
                gt(outbox.enqueuedAt, after.enqueuedAt),
                and(eq(outbox.enqueuedAt, after.enqueuedAt), gt(outbox.id, after.id)),
              )
            : undefined,
        ),
      )
      .orderBy(asc(outbox.enqueuedAt), asc(outbox.id))
      .limit(PAGE);
    if (rows.length === 0) return result;
    const last = rows[rows.length - 1]!;
    after = { enqueuedAt: last.enqueuedAt!, id: last.id };
    const states = await Promise.all(
      rows.map((row) => deps.queues.get(row.queue as QueueName).getJobState(row.id)),
    );
    const lost = rows.filter((_, i) => states[i] === 'unknown');
    const finished = rows.filter((_, i) => states[i] === 'completed').map((r) => r.id);
    result.checked += rows.length;
    // Failed in Redis but not in PostgreSQL: BullMQ failed it without our handler recording it (a
    // job whose worker died mid-run too often is failed as stalled). Tries left: run it again.
    const abandoned: string[] = [];
    for (const row of rows.filter((_, i) => states[i] === 'failed')) {
      const job = await deps.queues.get(row.queue as QueueName).getJob(row.id);
      if (job && job.attemptsMade < (job.opts.attempts ?? 1)) {
        await job.retry('failed');
        result.retried++;
      } else abandoned.push(row.id);
    }
    if (abandoned.length)
      await deps.db
        .update(outbox)
        .set({ failedAt: sql`now()` })
        .where(and(inArray(outbox.id, abandoned), isNull(outbox.failedAt), isNull(outbox.doneAt)));
    const now = Date.now();
    for (const row of lost) {
      await deps.queues.get(row.queue as QueueName).add(row.jobName, jobDataOf(row), {
        jobId: row.id,
        delay: row.runAt ? Math.max(0, row.runAt.getTime() - now) : undefined,
      });
    }
    if (lost.length)
      await deps.db
        .update(outbox)
        .set({ relayAttempts: sql`${outbox.relayAttempts} + 1` })
        .where(
          inArray(
            outbox.id,
            lost.map((r) => r.id),
          ),
        );
    if (finished.length)
      await deps.db
        .update(outbox)
        .set({ doneAt: sql`now()` })
        .where(and(inArray(outbox.id, finished), isNull(outbox.doneAt)));
    result.requeued += lost.length;
    result.completed += finished.length;
    if (rows.length < PAGE) return result;
  }
}

/**
 * Runs `pass` now and every `everyMs`, one at a time, in the background role. A timer of its own,
 * not a BullMQ recurring job: losing Redis's data would lose that job too. A pass is skipped while
 * Redis is not connected (its commands would wait for it).
 */
export function startReconciler(deps: {
  queues: QueueSet;
  log: Logger;
  everyMs: number;
  pass: () => Promise<ReconcileResult>;
}): { stop(): void } {
  let running = false;
  let stopped = false;
  const tick = () => {
    if (running || stopped || deps.queues.redis.status !== 'ready') return;
    running = true;
    deps
      .pass()
      .then((r) => {
        if (r.requeued || r.completed)
          deps.log.warn(r, 'outbox reconciled: work Redis had lost is queued again');
      })
      .catch((err: unknown) => deps.log.warn({ err }, 'outbox reconciliation pass failed; next one retries'))
      .finally(() => {
        running = false;
      });
  };
  const timer = setInterval(tick, deps.everyMs);
  timer.unref();
  // On start: as soon as Redis is connected (it may still be coming up).
  if (deps.queues.redis.status === 'ready') tick();
  else deps.queues.redis.once('ready', tick);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      deps.queues.redis.off('ready', tick);
    },
  };
}
