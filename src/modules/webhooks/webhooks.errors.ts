// The webhooks module's errors, one constructor per code (catalogue in src/errors.ts).
import { DomainError } from '../../errors.js';

export const webhookDeliveryNotFound = (id: string) =>
  new DomainError('WEBHOOK_DELIVERY_NOT_FOUND', `webhook delivery ${id} was not found`);

export const webhookDeliveryPending = (id: string) =>
  new DomainError(
    'WEBHOOK_DELIVERY_PENDING',
    `webhook delivery ${id} is still being retried: redeliver it once it is delivered or has failed`,
  );

export const webhookNotConfigured = () =>
  new DomainError('WEBHOOK_NOT_CONFIGURED', 'set a webhook URL on the institution first');

/** `why` completes "the webhook URL ...": `must be https`, `reaches an internal address (10.0.0.5)`. */
export const webhookUrlRefused = (why: string) =>
  // The URL itself is not quoted: it may carry credentials, and messages reach logs.
  new DomainError('WEBHOOK_URL_REFUSED', `the webhook URL ${why}`, [{ field: 'webhookUrl', message: why }]);
