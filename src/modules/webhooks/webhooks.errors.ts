// The webhooks module's errors, one constructor per code (catalogue in src/errors.ts).
import { DomainError } from '../../errors.js';

export const webhookDeliveryNotFound = (id: string) =>
  new DomainError('WEBHOOK_DELIVERY_NOT_FOUND', `webhook delivery ${id} was not found`);

export const webhookNotConfigured = () =>
  new DomainError('WEBHOOK_NOT_CONFIGURED', 'set a webhook URL on the institution first');
