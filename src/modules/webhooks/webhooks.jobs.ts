import { z } from 'zod';
import { defineJob } from '../../jobs/job.js';

export const deliverWebhookJob = defineJob('webhooks.deliver', 'webhooks', { deliveryId: z.uuid() });
