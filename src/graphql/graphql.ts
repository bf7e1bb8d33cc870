import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { GraphQLError } from 'graphql';
import mercurius, { type IResolvers, type MercuriusLoaders } from 'mercurius';
import type { Services } from '../container.js';
import type { Db } from '../db/client.js';
import { INTERNAL_ERROR_CODE, toProblem, type ErrorCode } from '../errors.js';
import { asDomainError } from '../http/problem.js';
import { ctxOf } from '../http/request-context.js';
import { apiKeyResolvers } from '../auth/api-keys.resolvers.js';
import { consentLoaders, consentResolvers } from '../modules/consent/index.js';
import { institutionLoaders, institutionResolvers } from '../modules/institutions/index.js';
import { changeResolvers } from '../modules/integration/index.js';
import { participantResolvers } from '../modules/participants/index.js';
import { catalogueResolvers, sharingResolvers } from '../modules/sharing/index.js';
import { specimenLoaders, specimenResolvers } from '../modules/specimens/index.js';
import { standardsLoaders, standardsResolvers } from '../modules/standards/index.js';
import { storageLoaders, storageResolvers } from '../modules/storage/index.js';
import { aliasLimit, depthLimit } from './limits.js';
import { DateTime, JSONScalar } from './scalars.js';
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
    sharingResolvers,
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

export async function registerGraphql(app: FastifyInstance, deps: { db: Db; services: Services }) {
  await app.register(mercurius, {
    schema: SCHEMA_SDL,
    resolvers: graphqlResolvers(),
    loaders: graphqlLoaders(),
    path: '/graphql',
    graphiql: true,
    // Our own depth rule rather than Mercurius's queryDepth, which counts introspection too.
    validationRules: [depthLimit(GRAPHQL_QUERY_DEPTH), aliasLimit(GRAPHQL_MAX_ALIASES)],
    allowBatchedQueries: false,
    context: (request) => ({ biobank: ctxOf(request), services: deps.services }),
    // Coded errors: the same codes as REST; no stack trace or SQL text reaches the client.
    errorFormatter: (execution, context) => {
      const log = context.reply?.request.log ?? app.log;
      const errors = (execution.errors ?? []).map((error) => {
        const original = error.originalError;
        if (!original || original instanceof GraphQLError) {
          const code =
            (error.extensions?.code as string | undefined) ??
            ('GRAPHQL_VALIDATION_FAILED' satisfies ErrorCode);
          return {
            message: error.message,
            locations: error.locations,
            path: error.path,
            extensions: { code },
          };
        }
        const domain = asDomainError(original);
        if (domain) {
          const problem = toProblem(domain);
          return {
            message: domain.message,
            locations: error.locations,
            path: error.path,
            extensions: {
              code: domain.code,
              status: domain.status,
              ...(domain.errors.length ? { errors: domain.errors } : {}),
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
      return { statusCode: 200, response: { data: execution.data ?? null, errors } };
    },
  });
}
