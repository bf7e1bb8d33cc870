import type { Db } from '../db/client.js';
import { purgeExpiredIdempotencyKeys } from '../http/idempotency.js';
import { defineJob, type JobContract } from './job.js';
import type { QueueSet } from './queue-set.js';
import { bindJob } from './registry.js';

export const purgeIdempotencyKeysJob = defineJob('maintenance.purgeIdempotencyKeys', 'maintenance', {});

export const maintenanceJobs = (deps: { db: Db }) => [
  bindJob(purgeIdempotencyKeysJob, async (ctx) => {
    const purged = await purgeExpiredIdempotencyKeys(deps.db);
    ctx.log.info({ purged }, 'expired idempotency keys purged');
    return { purged };
  }),
];

/** A job a module runs on a timer (deadlines): its scheduler id, period and payload-free contract. */
export interface RecurringJob {
  id: string;
  everyMs: number;
  job: JobContract;
}

/**
 * Time-triggered housekeeping goes straight to BullMQ's job scheduler: it is not the consequence
 * of a committed change, so there is nothing for the outbox to make atomic. Modules add their own
 * recurring jobs (`recurring`), whose handlers find the due work themselves.
 */
export async function scheduleMaintenance(
  queues: QueueSet,
  recurring: readonly RecurringJob[] = [],
): Promise<void> {
  await queues
    .get('maintenance')
    .upsertJobScheduler(
      'purge-idempotency-keys',
      { every: 60 * 60_000 },
      { name: purgeIdempotencyKeysJob.name, data: { requestId: 'scheduler' } },
    );
  for (const r of recurring)
    await queues
      .get(r.job.queue)
      .upsertJobScheduler(r.id, { every: r.everyMs }, { name: r.job.name, data: { requestId: 'scheduler' } });
}
