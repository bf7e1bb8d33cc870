import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createApiKeyService } from './auth/api-keys.service.js';
import { createDatabase, type Database } from './db/client.js';
import { createEventBus, type EventBus } from './events/event-bus.js';
import { createQueueSet, type QueueSet } from './jobs/queue-set.js';
import { OutboxRelay } from './jobs/relay.js';
import { createRegistry, type JobRegistry } from './jobs/registry.js';
import { createAuditService } from './modules/audit/index.js';
import { createInstitutionService } from './modules/institutions/index.js';
import { createChangeFeedService } from './modules/integration/index.js';
import { createImportService, importJobs } from './modules/imports/index.js';
import { createLabelService } from './modules/labels/index.js';
import { createFhirService } from './modules/fhir/index.js';
import {
  createHttpWebhookSender,
  createWebhookService,
  webhookUrlChecker,
  type WebhookSender,
  type WebhookUrlPolicy,
} from './modules/webhooks/index.js';
import { createParticipantService, hospitalIdHashes } from './modules/participants/index.js';
import {
  createScanService,
  createSpecimenLedger,
  createSpecimenService,
  findSpecimensByBarcodes,
  findSpecimensByIds,
  specimenNotFound,
  specimenViews,
  type UseGate,
} from './modules/specimens/index.js';
import {
  consentJobs,
  createConsentGate,
  createConsentService,
  permittedUses,
} from './modules/consent/index.js';
import {
  createCatalogueService,
  createSharingReservationWatch,
  createSharingService,
  createSharingWithdrawal,
  sharingCustodyLinks,
  sharingJobs,
  sharingRecurringJobs,
} from './modules/sharing/index.js';
import { createStorageService } from './modules/storage/index.js';
import { maintenanceJobs } from './jobs/maintenance.jobs.js';
import { webhookJobs } from './modules/webhooks/index.js';
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
  const database: Database = createDatabase(config.DATABASE_URL, {
    poolSize: config.DATABASE_POOL_SIZE,
    log: log.child({ component: 'db' }),
  });
  const queues: QueueSet = createQueueSet(config.REDIS_URL, config.QUEUE_PREFIX);
  // Live events for GraphQL subscriptions, shared by every API process through Redis.
  const events: EventBus = createEventBus(config.REDIS_URL, config.QUEUE_PREFIX);
  const { db } = database;
  const clock = overrides.clock ?? (() => new Date());

  const webhookUrls: WebhookUrlPolicy = {
    allowHttp: config.WEBHOOK_ALLOW_HTTP,
    allowPrivateHosts: config.WEBHOOK_ALLOW_PRIVATE_HOSTS,
  };
  const services = {
    apiKeys: createApiKeyService({ db, clock, cacheTtlMs: config.AUTH_CACHE_TTL_MS }),
    institutions: createInstitutionService({ db, checkWebhookUrl: webhookUrlChecker(webhookUrls) }),
    audit: createAuditService({ db }),
    participants: createParticipantService({ db, secret: config.BIOBANK_SECRET }),
    webhooks: createWebhookService({
      db,
      clock,
      sender: overrides.webhookSender ?? createHttpWebhookSender(webhookUrls),
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    }),
  };

  const consentGate = createConsentGate({ clock });
  // Specimens ask consent through this interface, so the specimens module never imports consent.
  const useGate: UseGate = {
    assertUsable: (tx, ctx, rows, use) => consentGate.assertUsable(tx, ctx, rows, use),
    holdsAtBirth: (tx, participantId, protocolId) => consentGate.holdsAtBirth(tx, participantId, protocolId),
    usesNow: (facts) => permittedUses({ ...facts, today: consentGate.today() }),
  };
  // The only author of specimen rows. Every write queues its standardization check in the same
  // transaction (outbox); a reserved tube destroyed or lost is released from its sharing request.
  const ledger = createSpecimenLedger({
    changeListeners: [createStandardsChangeListener(), createSharingReservationWatch({ clock })],
    clock,
  });
  // A chain that began at another institution is checked against the provider's through sharing.
  const specimens = createSpecimenService({
    db,
    ledger,
    pool: database.pool,
    useGate,
    clock,
    custodyLinks: sharingCustodyLinks,
  });
  const storage = createStorageService({ db, ledger, findSpecimensByBarcodes });
  const scans = createScanService({ db, ledger, useGate, clock });
  const consent = createConsentService({
    db,
    ledger,
    specimenReads: { findSpecimensByIds, specimenViews, specimenNotFound },
    gate: consentGate,
    clock,
    // Sharing honours a withdrawal in open requests and at receivers; consent never imports sharing.
    subscribers: [createSharingWithdrawal({ ledger, clock })],
  });
  const standards = createStandardsService({ db, ledger, clock });
  const changes = createChangeFeedService({ db, secret: config.BIOBANK_SECRET });
  const fhir = createFhirService({ db, specimens });
  const labels = createLabelService({ specimens });
  const sharing = createSharingService({ db, ledger, gate: consentGate, clock, events });
  const catalogue = createCatalogueService({
    db,
    clock,
    maxAgeMs: config.CATALOGUE_TTL_MS,
    log: log.child({ component: 'catalogue' }),
  });
  // Imports apply through the same services and ledger a call uses.
  const imports = createImportService({
    db,
    ledger,
    useGate,
    clock,
    hashes: hospitalIdHashes(config.BIOBANK_SECRET),
    participants: services.participants,
    consent,
  });
  const domain = {
    ...services,
    imports,
    ledger,
    specimens,
    storage,
    scans,
    consent,
    consentGate,
    standards,
    changes,
    fhir,
    labels,
    sharing,
    catalogue,
  };

  const registry: JobRegistry = createRegistry([
    ...webhookJobs(services.webhooks),
    ...consentJobs(consent),
    ...standardsJobs(standards),
    ...maintenanceJobs({ db }),
    ...sharingJobs(sharing),
    ...importJobs(imports),
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
    events,
    services: domain,
    registry,
    /** jobs run on a timer, beside the maintenance ones */
    recurring: sharingRecurringJobs,
    relay,
    async close() {
      await relay.stop();
      await queues.close();
      await events.close();
      await database.close();
    },
  };
}

export type Container = ReturnType<typeof createContainer>;
export type Services = Container['services'];
