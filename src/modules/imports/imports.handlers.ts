import { bindJob } from '../../jobs/registry.js';
import { applyImportJob } from './imports.jobs.js';
import type { ImportService } from './imports.service.js';

export const importJobs = (imports: ImportService) => [
  bindJob(applyImportJob, async (ctx, data, run) => {
    const job = await imports.applyImport(ctx, data.importId, {
      progress: (j) => run.progress({ appliedRows: j.appliedRows, validRows: j.validRows }),
    });
    return job && { status: job.status, appliedRows: job.appliedRows };
  }),
];
