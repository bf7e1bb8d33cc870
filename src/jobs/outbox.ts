import type { Ctx } from '../context.js';
import { newId } from '../db/columns.js';
import type { Tx } from '../db/client.js';
import type { JobContract, JobPayload } from './job.js';
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
  await tx
    .insert(outbox)
    .values({ id, queue: job.queue, jobName: job.name, payload: data, runAt: opts.runAt ?? null });
  return id;
}
