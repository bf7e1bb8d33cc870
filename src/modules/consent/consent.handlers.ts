import { bindJob } from '../../jobs/registry.js';
import { consentCascadeJob } from './consent.jobs.js';
import type { ConsentService } from './consent.service.js';

export const consentJobs = (consent: ConsentService) => [
  bindJob(consentCascadeJob, (ctx, data, run) =>
    consent.runCascade(ctx, data.cascadeId, (p) => run.progress(p)),
  ),
];
