import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createApiKeyService } from './auth/api-keys.service.js';
import { createDatabase, type Database } from './db/client.js';
import { createQueueSet, type QueueSet } from './jobs/queue-set.js';
import { OutboxRelay } from './jobs/relay.js';
import { createRegistry, type JobRegistry } from './jobs/registry.js';
import { createAuditService } from './modules/audit/audit.service.js';
import { createInstitutionService } from './modules/institutions/index.js';
import { createWebhookService, httpWebhookSender, type WebhookSender } from './modules/webhooks/index.js';
import { createParticipantService } from './modules/participants/participants.service.js';
import { createScanService } from './modules/specimens/scans.service.js';
import { createSpecimenService } from './modules/specimens/specimens.service.js';
import { createConsentGate } from './modules/consent/consent.gate.js';
import { consentJobs } from './modules/consent/consent.handlers.js';
import { createConsentService } from './modules/consent/consent.service.js';
import { createStorageService } from './modules/storage/storage.service.js';
import { maintenanceJobs } from './jobs/maintenance.jobs.js';
import { webhookJobs } from './modules/webhooks/webhooks.handlers.js';
import {
  createStandardsChangeListener,
  createStandardsService,
  standardsJobs,
} from './modules/standards/index.js';

export interface ContainerOverrides {
  webhookSender?: WebhookSender;
  clock?: () => Date;
}

/** The composition root: config in, every dependency built explicitly (no globals). */
export function createContainer(config: Config, log: Logger, overrides: ContainerOverrides = {}) {
  const database: Database = createDatabase(config.DATABASE_URL, { poolSize: config.DATABASE_POOL_SIZE });
  const queues: QueueSet = createQueueSet(config.REDIS_URL, config.QUEUE_PREFIX);
  const { db } = database;
  const clock = overrides.clock ?? (() => new Date());

  const services = {
    apiKeys: createApiKeyService({ db, clock, cacheTtlMs: config.AUTH_CACHE_TTL_MS }),
    institutions: createInstitutionService({ db }),
    audit: createAuditService({ db }),
    participants: createParticipantService({ db, secret: config.BIOBANK_SECRET }),
    webhooks: createWebhookService({
      db,
      clock,
      sender: overrides.webhookSender ?? httpWebhookSender,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    }),
  };

  const consentGate = createConsentGate();
  // Every specimen write queues its standardization check in the same transaction (outbox).
  const specimens = createSpecimenService({
    db,
    pool: database.pool,
    useGate: consentGate,
    changeListeners: [createStandardsChangeListener()],
  });
  const storage = createStorageService({ db, specimens });
  const scans = createScanService({ db, specimens, useGate: consentGate });
  const consent = createConsentService({ db, specimens, gate: consentGate });
  const standards = createStandardsService({ db, specimens, clock });
  const domain = { ...services, specimens, storage, scans, consent, consentGate, standards };

  const registry: JobRegistry = createRegistry([
    ...webhookJobs(services.webhooks),
    ...consentJobs(consent),
    ...standardsJobs(standards),
    ...maintenanceJobs({ db }),
  ]);
  const relay = new OutboxRelay({
    db,
    queues,
    log: log.child({ component: 'outbox-relay' }),
    databaseUrl: config.DATABASE_URL,
    pollMs: config.OUTBOX_POLL_MS,
  });

  return {
    config,
    log,
    database,
    db,
    queues,
    services: domain,
    registry,
    relay,
    async close() {
      await relay.stop();
      await queues.close();
      await database.close();
    },
  };
}

export type Container = ReturnType<typeof createContainer>;
export type Services = Container['services'];
