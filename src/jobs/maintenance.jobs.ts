import type { Db } from '../db/client.js';
import { purgeExpiredIdempotencyKeys } from '../http/idempotency.js';
import { defineJob } from './job.js';
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

/**
 * Time-triggered housekeeping goes straight to BullMQ's job scheduler: it is not the consequence
 * of a committed change, so there is nothing for the outbox to make atomic.
 */
export async function scheduleMaintenance(queues: QueueSet): Promise<void> {
  await queues
    .get('maintenance')
    .upsertJobScheduler(
      'purge-idempotency-keys',
      { every: 60 * 60_000 },
      { name: purgeIdempotencyKeysJob.name, data: { requestId: 'scheduler' } },
    );
}
