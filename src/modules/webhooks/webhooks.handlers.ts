import { QUEUES } from '../../jobs/queues.js';
import { bindJob } from '../../jobs/registry.js';
import { deliverWebhookJob } from './webhooks.jobs.js';
import type { WebhookService } from './webhooks.service.js';

export const webhookJobs = (webhooks: WebhookService) => [
  bindJob(deliverWebhookJob, (ctx, data, run) =>
    webhooks.attemptWebhookDelivery(ctx, {
      deliveryId: data.deliveryId,
      jobId: run.id,
      final: run.attemptsMade + 1 >= QUEUES.webhooks.job.attempts,
    }),
  ),
];
