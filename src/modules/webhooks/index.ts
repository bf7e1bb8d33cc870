export {
  createWebhookService,
  emitWebhook,
  type WebhookService,
  type WebhookEvent,
} from './webhooks.service.js';
export { deliverWebhookJob } from './webhooks.jobs.js';
export {
  createHttpWebhookSender,
  RESPONSE_EXCERPT_BYTES,
  type WebhookSender,
  type WebhookRequest,
  type WebhookResponse,
} from './webhook-sender.js';
export { webhookJobs } from './webhooks.handlers.js';
export { webhookRoutes } from './webhooks.routes.js';
export { toWebhookDeliveryDto } from './webhooks.dto.js';
export {
  checkWebhookUrlForm,
  isInternalAddress,
  webhookUrlChecker,
  type WebhookUrlPolicy,
} from './webhook-url.js';
