import { context, propagation } from '@opentelemetry/api';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Ctx } from '../context.js';
import { newId } from '../db/columns.js';
import type { Db, Tx } from '../db/client.js';
import { TRACE_CONTEXT_FIELD, type JobContract, type JobPayload } from './job.js';
import { outbox } from './outbox.table.js';

/**
 * Writes a job into the outbox inside the caller's transaction. It reaches BullMQ only after
 * commit, through the relay, so a rolled-back change never runs its jobs.
 */
export async function enqueueJob<C extends JobContract>(
  tx: Tx,
  ctx: Ctx,
  job: C,
  payload: JobPayload<C>,
  opts: { runAt?: Date } = {},
): Promise<string> {
  const id = newId();
  const data: unknown = job.payload.parse({ ...payload, requestId: ctx.requestId });
  await tx.insert(outbox).values({
    id,
    queue: job.queue,
    jobName: job.name,
    payload: data,
    runAt: opts.runAt ?? null,
    traceContext: activeTraceContext(),
  });
  return id;
}

/** The active span's W3C trace context; null when tracing is off (no propagator registered). */
function activeTraceContext(): Record<string, string> | null {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? carrier : null;
}

/** What BullMQ gets for an outbox row: its payload, with the trace context of its request. */
export function jobDataOf(row: { payload: unknown; traceContext: Record<string, string> | null }): unknown {
  if (!row.traceContext) return row.payload;
  return { ...(row.payload as Record<string, unknown>), [TRACE_CONTEXT_FIELD]: row.traceContext };
}

/**
 * Replaces the payload of a job still waiting in the outbox, inside the caller's transaction (a
 * transaction that widens the job it queued earlier). False when the row is gone or the relay has
 * already handed it to BullMQ: the caller then queues a new job.
 */
export async function replacePendingJob<C extends JobContract>(
  tx: Tx,
  ctx: Ctx,
  outboxId: string,
  job: C,
  payload: JobPayload<C>,
): Promise<boolean> {
  const data: unknown = job.payload.parse({ ...payload, requestId: ctx.requestId });
  const replaced = await tx
    .update(outbox)
    .set({ payload: data })
    .where(and(eq(outbox.id, outboxId), isNull(outbox.enqueuedAt)))
    .returning({ id: outbox.id });
  return replaced.length > 0;
}

/** Only outbox jobs carry an outbox id as job id; recurring jobs have their scheduler's ids. */
const OUTBOX_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Records in PostgreSQL that an outbox job's handler finished, so the reconciler never puts it
 * back. Written after the handler returned: a crash in between runs the (idempotent) handler again.
 */
export async function markOutboxDone(db: Db, jobId: string | undefined): Promise<void> {
  if (!jobId || !OUTBOX_ID.test(jobId)) return;
  await db
    .update(outbox)
    .set({ doneAt: sql`now()` })
    .where(and(eq(outbox.id, jobId), isNull(outbox.doneAt)));
}

/** Records that an outbox job failed for good (refused, or its last attempt failed): not put back. */
export async function markOutboxFailed(db: Db, jobId: string | undefined): Promise<void> {
  if (!jobId || !OUTBOX_ID.test(jobId)) return;
  await db
    .update(outbox)
    .set({ failedAt: sql`now()` })
    .where(and(eq(outbox.id, jobId), isNull(outbox.doneAt), isNull(outbox.failedAt)));
}
