import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { GraphQLError } from 'graphql';
import mercurius, { type IResolvers, type MercuriusLoaders } from 'mercurius';
import type { Services } from '../container.js';
import type { Db } from '../db/client.js';
import type { EventBus } from '../events/event-bus.js';
import { INTERNAL_ERROR_CODE, statusOfCode, toProblem, type ErrorCode } from '../errors.js';
import { asDomainError } from '../http/problem.js';
import { apiKeyResolvers } from '../auth/api-keys.resolvers.js';
import { consentLoaders, consentResolvers } from '../modules/consent/index.js';
import { institutionLoaders, institutionResolvers } from '../modules/institutions/index.js';
import { changeResolvers } from '../modules/integration/index.js';
import { importResolvers } from '../modules/imports/index.js';
import { participantResolvers } from '../modules/participants/index.js';
import {
  catalogueResolvers,
  sharingRequestResolvers,
  sharingResolvers,
  sharingShipmentResolvers,
  sharingSubscriptionResolvers,
} from '../modules/sharing/index.js';
import { specimenLoaders, specimenResolvers } from '../modules/specimens/index.js';
import { standardsLoaders, standardsResolvers } from '../modules/standards/index.js';
import { storageLoaders, storageResolvers } from '../modules/storage/index.js';
import { batchedLoaders } from './batch.js';
import { IdempotentReplay } from '../http/idempotency.js';
import { graphqlIdempotency } from './idempotency.js';
import { configSchema, type Config } from '../config.js';
import {
  introspectionHook,
  storableInputHook,
  subscriptionDocumentHook,
  subscriptionOverHttpHook,
  textOnlyHook,
  type IntrospectionPolicy,
} from './guards.js';
import { registerCostLimits } from './cost-gate.js';
import { aliasLimit, depthLimit, singleOperation } from './limits.js';
import { DateTime, JSONScalar } from './scalars.js';
import { subscriptionOptions } from './subscriptions.js';
import './context.js';

// Loaded relative to this module so the source tree and a build resolve the same file.
export const SCHEMA_SDL = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');

/** Deep-merges module resolver maps (Query and Mutation are shared). */
export function mergeResolvers(...maps: IResolvers[]): IResolvers {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const map of maps) {
    for (const [type, fields] of Object.entries(map)) {
      merged[type] = { ...(merged[type] ?? {}), ...(fields as Record<string, unknown>) };
    }
  }
  return merged as IResolvers;
}

export function graphqlResolvers(): IResolvers {
  return mergeResolvers(
    { DateTime, JSON: JSONScalar },
    institutionResolvers,
    apiKeyResolvers,
    participantResolvers,
    specimenResolvers,
    storageResolvers,
    consentResolvers,
    standardsResolvers,
    changeResolvers,
    importResolvers,
    sharingResolvers,
    sharingRequestResolvers,
    sharingShipmentResolvers,
    sharingSubscriptionResolvers,
    catalogueResolvers,
  );
}

export function graphqlLoaders(): MercuriusLoaders {
  return mergeResolvers(
    institutionLoaders,
    specimenLoaders,
    storageLoaders,
    consentLoaders,
    standardsLoaders,
  ) as MercuriusLoaders;
}

export const GRAPHQL_QUERY_DEPTH = 8;
/** Aliases per document: each alias of a list is one more page to build. */
export const GRAPHQL_MAX_ALIASES = 30;

/** What a document may weigh before it is parsed, kept or run (config GRAPHQL_*). */
export interface GraphqlLimits {
  bodyLimitBytes: number;
  maxTokens: number;
  /** parsed documents Mercurius keeps (and as many refused ones); 0: none */
  documentCache: number;
  introspection: IntrospectionPolicy;
  /** most objects one query may ask for (src/graphql/cost.ts) */
  maxCost: number;
  /** most cost running at once in this process, and how long a query waits for room (cost-gate.ts) */
  costInFlight: number;
  costWaitMs: number;
}

export const graphqlLimits = (config: Pick<Config, `GRAPHQL_${string}` & keyof Config>): GraphqlLimits => ({
  bodyLimitBytes: config.GRAPHQL_BODY_LIMIT_BYTES,
  maxTokens: config.GRAPHQL_MAX_TOKENS,
  documentCache: config.GRAPHQL_DOCUMENT_CACHE,
  introspection: config.GRAPHQL_INTROSPECTION,
  maxCost: config.GRAPHQL_MAX_COST,
  costInFlight: config.GRAPHQL_COST_IN_FLIGHT,
  costWaitMs: config.GRAPHQL_COST_WAIT_MS,
});

/** The rules every document passes, queries and subscriptions alike. */
export const documentRules = () => [
  singleOperation(),
  // Our own depth rule rather than Mercurius's queryDepth, which counts introspection too.
  depthLimit(GRAPHQL_QUERY_DEPTH),
  aliasLimit(GRAPHQL_MAX_ALIASES),
];

export async function registerGraphql(
  app: FastifyInstance,
  deps: {
    db: Db;
    services: Services;
    events: EventBus;
    idempotencyWaitMs: number;
    limits?: GraphqlLimits;
  },
) {
  const limits = deps.limits ?? graphqlLimits(configSchema.parse({}));
  // Idempotency-Key on mutations, as on REST POSTs (src/graphql/idempotency.ts).
  const idempotency = graphqlIdempotency(deps.db, deps.idempotencyWaitMs);
  app.addHook('preHandler', idempotency.claim);
  app.addHook('onSend', idempotency.settle);
  await app.register(mercurius, {
    schema: SCHEMA_SDL,
    // Relations batch per request and tick without Mercurius' stringified cache keys (batch.ts).
    resolvers: mergeResolvers(graphqlResolvers(), batchedLoaders(graphqlLoaders())),
    path: '/graphql',
    // GraphiQL comes from our own routes (src/http/graphiql.ts): Mercurius' page loads a CDN.
    graphiql: false,
    validationRules: documentRules(),
    allowBatchedQueries: false,
    // A document run a second time is compiled by graphql-jit (kept with the parsed document in
    // the cache below): the nested page's per-field work of graphql-js' execute was a tenth of its
    // CPU (issue 16). Only with the document cache on; subscriptions run through graphql-js.
    jit: 1,
    // Mercurius keys its caches by the whole document text; each entry holds the text and its
    // tree (about 270 bytes a token), so entries x maxTokens bounds their memory (issue 13).
    cache: limits.documentCache === 0 ? false : limits.documentCache,
    graphql: { parseOptions: { maxTokens: limits.maxTokens } },
    // A document is text: the REST body limit (uploads of batches) would let one request hold
    // megabytes of syntax tree.
    additionalRouteOptions: { bodyLimit: limits.bodyLimitBytes },
    context: (request) => ({ biobank: idempotency.ctxOf(request), services: deps.services }),
    subscription: subscriptionOptions(app, {
      services: deps.services,
      events: deps.events,
      apiKeys: deps.services.apiKeys,
    }),
    // Coded errors: the same codes as REST; no stack trace or SQL text reaches the client.
    errorFormatter: (execution, context) => {
      const log = context.reply?.request.log ?? app.log;
      const errors = (execution.errors ?? []).map((error) => {
        const original = error.originalError;
        if (!original || original instanceof GraphQLError) {
          const code =
            (error.extensions?.code as string | undefined) ??
            ('GRAPHQL_VALIDATION_FAILED' satisfies ErrorCode);
          // Every error says its status, whichever path graphql-js (or its compiled form) took.
          const status = statusOfCode(code) ?? 400;
          return {
            message: error.message,
            locations: error.locations,
            path: error.path,
            extensions: { code, status },
          };
        }
        // Another attempt under the same Idempotency-Key committed first: this answer is replaced
        // by that attempt's (graphqlIdempotency's onSend). Not a failure to log.
        if (original instanceof IdempotentReplay) {
          return {
            message: original.message,
            locations: error.locations,
            path: error.path,
            extensions: { code: 'IDEMPOTENCY_KEY_IN_USE' satisfies ErrorCode },
          };
        }
        const domain = asDomainError(original);
        if (domain) {
          const problem = toProblem(domain);
          // A service names its page arguments as REST does; a connection calls them first/after.
          const errors = domain.errors.map((e) =>
            domain.code === 'INVALID_CURSOR' && e.field === 'cursor' ? { ...e, field: 'after' } : e,
          );
          // A refusal worth retrying says when, as REST does (SERVER_BUSY, DATABASE_BUSY).
          if (typeof problem.retryAfter === 'number') {
            context.reply?.header('retry-after', String(problem.retryAfter));
          }
          return {
            message: domain.message,
            locations: error.locations,
            path: error.path,
            extensions: {
              code: domain.code,
              status: domain.status,
              ...(errors.length ? { errors } : {}),
              ...Object.fromEntries(
                Object.entries(problem).filter(
                  ([k]) => !['type', 'title', 'status', 'detail', 'code', 'errors'].includes(k),
                ),
              ),
            },
          };
        }
        // Mercurius wraps its own failures (depth limit, validation) with a code of their own.
        const merCode = (original as { code?: string }).code;
        if (merCode?.startsWith('MER_ERR')) {
          return {
            message: original.message,
            locations: error.locations,
            path: error.path,
            extensions: { code: 'GRAPHQL_VALIDATION_FAILED' satisfies ErrorCode },
          };
        }
        log.error({ err: original }, 'unhandled GraphQL resolver error');
        return {
          message: 'internal error',
          locations: error.locations,
          path: error.path,
          extensions: { code: INTERNAL_ERROR_CODE },
        };
      });
      return {
        statusCode: transportStatus(execution.errors),
        response: { data: execution.data ?? null, errors },
      };
    },
  });
  app.graphql.addHook('preValidation', textOnlyHook());
  app.graphql.addHook('preExecution', introspectionHook(limits.introspection));
  app.graphql.addHook('preExecution', storableInputHook());
  app.graphql.addHook('preExecution', subscriptionOverHttpHook());
  // Last: a query waits for room only once every other check has passed.
  registerCostLimits(app, {
    maxCost: limits.maxCost,
    costInFlight: limits.costInFlight,
    waitMs: limits.costWaitMs,
  });
  app.graphql.addHook('preSubscriptionExecution', subscriptionDocumentHook(documentRules()));
}

/**
 * GraphQL answers 200 with coded errors, except for what concerns the HTTP request itself (a body
 * too large or not JSON, too many requests): those keep their HTTP status.
 */
function transportStatus(errors: readonly { originalError?: unknown }[] | undefined): number {
  for (const e of errors ?? []) {
    const domain = e.originalError ? asDomainError(e.originalError) : undefined;
    if (domain && TRANSPORT_STATUSES.has(domain.status)) return domain.status;
  }
  return 200;
}
const TRANSPORT_STATUSES = new Set([413, 415, 429, 503]);
