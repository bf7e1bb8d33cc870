import { graphiqlRoutes } from './http/graphiql.js';
import { browserSessions } from './http/browser-session.js';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import { createJsonSchemaTransform, serializerCompiler } from 'fastify-type-provider-zod';
import type { Container } from './container.js';
import { apiKeyRoutes } from './auth/api-keys.routes.js';
import { routeNotFound, shuttingDown, toProblem } from './errors.js';
import { graphqlLimits, registerGraphql } from './graphql/graphql.js';
import { isKeylessUpgrade } from './graphql/subscriptions.js';
import { MAX_PARAM_LENGTH, clientErrorAnswer, frameworkErrors } from './http/framework-errors.js';
import { healthRoutes } from './http/health.js';
import { useStrictJsonParser } from './http/json-body.js';
import { registerMetrics } from './http/metrics.js';
import { restErrorHandler, sendProblem } from './http/problem.js';
import { strictQueryStrings } from './http/schemas.js';
import { closedRestBodies, strictBodyValidatorCompiler } from './http/strict-bodies.js';
import { refuseUnstorableText } from './http/storable-text.js';
import { authenticateHook, authenticateRequest, idempotencyHook } from './http/request-context.js';
import { registerQueueBoard } from './http/queue-board.js';
import { registerRateLimits } from './http/rate-limit.js';
import { registerSecurityHeaders } from './http/security-headers.js';
import { auditRoutes } from './modules/audit/index.js';
import { institutionRoutes } from './modules/institutions/index.js';
import { changeRoutes } from './modules/integration/index.js';
import { importRoutes } from './modules/imports/index.js';
import { FHIR_MOUNT, fhirFrameworkErrors, fhirRefusalFormat, fhirRoutes } from './modules/fhir/index.js';
import { consentRoutes } from './modules/consent/index.js';
import { standardsRoutes } from './modules/standards/index.js';
import { participantRoutes } from './modules/participants/index.js';
import {
  agreementRoutes,
  catalogueRoutes,
  sharingRequestRoutes,
  sharingShipmentRoutes,
} from './modules/sharing/index.js';
import { scanRoutes, specimenRoutes, specimenUpsertRoutes } from './modules/specimens/index.js';
import { storageRoutes } from './modules/storage/index.js';
import { labelRoutes } from './modules/labels/index.js';
import { webhookRoutes } from './modules/webhooks/index.js';
import { asDomainError } from './http/problem.js';
import { nameRequestSpans } from './http/request-span.js';
import { requestLogger } from './logger.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the HTTP application over the container's services. Nothing here holds a rule. */
export async function buildApp(c: Container): Promise<FastifyInstance> {
  // Typed as the default instance so route modules need not carry pino's logger type.
  const app: FastifyInstance = Fastify<Server, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: c.log,
    // A request's logger carries its id without a pino child per request (src/logger.ts).
    childLoggerFactory: (logger, bindings, opts) => requestLogger(logger as Logger, bindings, opts),
    bodyLimit: c.config.BODY_LIMIT_BYTES,
    // The client address failed authentications are counted by (src/http/rate-limit.ts).
    trustProxy: c.config.TRUST_PROXY,
    // An incoming X-Request-Id is kept (when sane) so LIS integrations can trace their calls.
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    // Answered by the onRequest hook below, as problem+json, instead of Fastify's plain JSON.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // What Fastify and Node answer before any handler runs goes out as problem+json too.
    // (Under /fhir, as OperationOutcome: FHIR clients read nothing else.)
    frameworkErrors: (error, request, reply) =>
      request.url.startsWith(`${FHIR_MOUNT}/`)
        ? fhirFrameworkErrors(error, request, reply)
        : frameworkErrors(error, request, reply),
    clientErrorHandler: clientErrorAnswer([fhirRefusalFormat]),
  });
  useStrictJsonParser(app, ['application/json']);
  app.decorateRequest('actor', null);
  app.decorateRequest('idempotency', null);
  if (c.config.OTEL_EXPORTER_OTLP_ENDPOINT) nameRequestSpans(app);
  // While shutting down, answers close their keep-alive connection so close() need not wait them out.
  let draining = false;
  app.addHook('preClose', (done) => {
    draining = true;
    done();
  });
  // A request arriving on a kept-alive connection while draining goes elsewhere (load balancer).
  app.addHook('onRequest', (request, reply, done) => {
    if (draining) {
      void sendProblem(reply, toProblem(shuttingDown(), request.id));
      return;
    }
    done();
  });
  // Callback style: no promise per response for a couple of headers.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    if (draining) reply.header('connection', 'close');
    done(null, payload);
  });
  app.setErrorHandler(restErrorHandler);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, toProblem(routeNotFound(request.method, request.url.split('?')[0] ?? ''), request.id)),
  );

  registerSecurityHeaders(app);
  // Before any route: the plugin attaches its hook to the routes registered after it.
  await registerRateLimits(app, {
    redisUrl: c.config.REDIS_URL,
    prefix: c.config.QUEUE_PREFIX,
    perKey: c.config.RATE_LIMIT_PER_KEY,
    windowMs: c.config.RATE_LIMIT_WINDOW_MS,
    failedAuth: c.config.RATE_LIMIT_FAILED_AUTH,
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'biobank',
        version: '1',
        description:
          'Specimen tracking for biobanks. Errors are RFC 9457 problem+json with a stable `code`. ' +
          'POSTs accept an `Idempotency-Key`; updates need `If-Match` with the last ETag.',
      },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: '`bbk_...` API key' } },
      },
      security: [{ apiKey: [] }],
    },
    // GraphiQL's and the docs' own routes carry no schema: they are not part of the REST contract.
    hideUntagged: true,
    transform: closedRestBodies(
      createJsonSchemaTransform({
        skipList: [
          '/graphql',
          '/graphiql',
          '/graphiql/*',
          '/sign-in',
          '/sign-out',
          '/docs',
          '/docs/*',
          '/openapi.json',
          '/metrics',
          '/admin/queues',
          '/admin/queues/*',
        ],
      }),
    ),
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  healthRoutes(app, c);

  // Sign-in for the pages a browser opens by URL (/graphiql, /admin/queues).
  const sessions = browserSessions({
    apiKeys: c.services.apiKeys,
    secret: c.config.BIOBANK_SECRET,
    ttlMinutes: c.config.BROWSER_SESSION_MINUTES,
  });
  await app.register(sessions.routes);
  await registerMetrics(app, c);

  // REST: zod compilers live only inside this plugin (they break Mercurius at the root).
  await app.register(async (v1) => {
    // zod's validator, with bodies as strict as query strings (src/http/strict-bodies.ts).
    v1.setValidatorCompiler(strictBodyValidatorCompiler);
    v1.setSerializerCompiler(serializerCompiler);
    // JSON only: a text/plain body is an unsupported media type (415), not a malformed object.
    v1.removeContentTypeParser('text/plain');
    v1.addHook('onRequest', authenticateHook(c.services.apiKeys));
    v1.addHook('preValidation', refuseUnstorableText);
    v1.addHook('onRoute', strictQueryStrings);
    // The Idempotency-Key hook only concerns POSTs: it is attached to POST routes alone (ahead of
    // any route-level hook, where plugin-level hooks run), so a GET such as the scan lookup runs
    // no hook that would only return.
    const idempotency = idempotencyHook(c.config.IDEMPOTENCY_WAIT_MS);
    v1.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (!methods.includes('POST')) return;
      const list = <T>(h: T | T[] | undefined): T[] => (h === undefined ? [] : Array.isArray(h) ? h : [h]);
      route.preHandler = [idempotency, ...list(route.preHandler)];
    });
    institutionRoutes(v1, { db: c.db, institutions: c.services.institutions });
    apiKeyRoutes(v1, { db: c.db, apiKeys: c.services.apiKeys });
    auditRoutes(v1, { db: c.db, audit: c.services.audit });
    webhookRoutes(v1, { db: c.db, webhooks: c.services.webhooks });
    participantRoutes(v1, { db: c.db, participants: c.services.participants });
    specimenRoutes(v1, { db: c.db, specimens: c.services.specimens });
    specimenUpsertRoutes(v1, { db: c.db, specimens: c.services.specimens });
    storageRoutes(v1, { db: c.db, storage: c.services.storage });
    labelRoutes(v1, { labels: c.services.labels });
    scanRoutes(v1, { db: c.db, scans: c.services.scans });
    consentRoutes(v1, { db: c.db, consent: c.services.consent });
    standardsRoutes(v1, { db: c.db, standards: c.services.standards });
    changeRoutes(v1, { db: c.db, changes: c.services.changes });
    importRoutes(v1, { db: c.db, imports: c.services.imports });
    agreementRoutes(v1, { db: c.db, sharing: c.services.sharing });
    sharingRequestRoutes(v1, { db: c.db, sharing: c.services.sharing });
    sharingShipmentRoutes(v1, { db: c.db, sharing: c.services.sharing });
    catalogueRoutes(v1, { db: c.db, catalogue: c.services.catalogue });
  });

  // HL7 FHIR R4: the same services and API keys; its own media type and OperationOutcome errors.
  await app.register(fhirRoutes({ apiKeys: c.services.apiKeys, fhir: c.services.fhir }), {
    prefix: FHIR_MOUNT,
  });

  // Registered here rather than by Mercurius (which then uses it) so a subscription message is held
  // to the GraphQL body limit instead of the plugin's 1 MB.
  await app.register(fastifyWebsocket, { options: { maxPayload: c.config.GRAPHQL_BODY_LIMIT_BYTES } });

  // GraphQL: the same services; unauthenticated calls get a coded 401 before Mercurius runs.
  await app.register(async (gql) => {
    gql.addHook('onRequest', async (request, reply) => {
      if (request.url.startsWith('/graphiql')) return;
      try {
        if (isKeylessUpgrade(request)) {
          // GraphiQL signed in: its WebSocket brings the session cookie (from our origin only).
          // Otherwise a browser's WebSocket carries its key in connection_init
          // (src/graphql/subscriptions.ts), and a stale cookie leaves that to decide.
          const fromCookie = await sessions.actorOf(request).catch(() => null);
          if (fromCookie) {
            sessions.assertCsrf(request);
            request.actor = fromCookie;
          }
          return;
        }
        // GraphiQL signed in by cookie sends no Bearer header, and its CSRF token on every call.
        const fromCookie = request.headers.authorization ? null : await sessions.actorOf(request);
        if (fromCookie) {
          sessions.assertCsrf(request);
          request.actor = fromCookie;
        } else await authenticateRequest(c.services.apiKeys)(request, reply);
      } catch (err) {
        const domain = asDomainError(err);
        const retryAfter = domain?.details.retryAfter;
        if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
        return reply.code(domain?.status ?? 401).send({
          data: null,
          errors: [
            {
              message: domain?.message ?? 'unauthenticated',
              extensions: {
                code: domain?.code ?? 'UNAUTHENTICATED',
                status: domain?.status ?? 401,
                ...(typeof retryAfter === 'number' ? { retryAfter } : {}),
              },
            },
          ],
        });
      }
    });
    await registerGraphql(gql, {
      db: c.db,
      services: c.services,
      events: c.events,
      idempotencyWaitMs: c.config.IDEMPOTENCY_WAIT_MS,
      limits: graphqlLimits(c.config),
    });
  });

  // The GraphQL IDE, from our own packages (no request leaves the origin).
  graphiqlRoutes(app, sessions);

  await registerQueueBoard(app, {
    apiKeys: c.services.apiKeys,
    queues: c.queues,
    writes: c.config.QUEUE_BOARD_WRITES,
    sessions,
  });

  return app;
}
