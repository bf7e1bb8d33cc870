import { QUEUES } from '../../jobs/queues.js';
import { bindJob } from '../../jobs/registry.js';
import { checkSpecimenJob, runStandardizationJob } from './standards.jobs.js';
import type { StandardsService } from './standards.service.js';

export const standardsJobs = (standards: StandardsService) => [
  bindJob(checkSpecimenJob, (ctx, data) => standards.checkSpecimens(ctx, data.specimenIds)),
  bindJob(runStandardizationJob, async (ctx, data, run) => {
    const done = await standards.processRun(ctx, data.runId, {
      // The last attempt marks the run failed; earlier ones leave it to resume on retry.
      final: run.attemptsMade + 1 >= QUEUES.standards.job.attempts,
      progress: (r) => run.progress({ processed: r.processed, total: r.total ?? 0 }),
    });
    return { status: done.status, processed: done.processed, total: done.total };
  }),
];
