import { z } from 'zod';
import { defineJob } from '../../jobs/job.js';

/** Applies a withdrawal (holds, destruction list, partner webhooks) or a re-consent (lifts holds). */
export const consentCascadeJob = defineJob('consent.cascade', 'consent', { cascadeId: z.uuid() });
