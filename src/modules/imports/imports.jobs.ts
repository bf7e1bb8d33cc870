import { z } from 'zod';
import { defineJob } from '../../jobs/job.js';

/** Applies the staged rows of a validated import, chunk by chunk. */
export const applyImportJob = defineJob('imports.apply', 'imports', { importId: z.uuid() });
