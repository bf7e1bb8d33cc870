import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GraphQLError } from 'graphql';
import type { MercuriusContext } from 'mercurius';
import type { ApiKeyService } from '../auth/api-keys.service.js';
import type { Ctx } from '../context.js';
import type { Services } from '../container.js';
import { INTERNAL_ERROR_CODE, unauthenticated } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import { asDomainError } from '../http/problem.js';
import { ctxOf } from '../http/request-context.js';

// GraphQL subscriptions over WebSocket (graphql-ws and subscriptions-transport-ws, as Mercurius
// speaks them). The API key is checked when the connection opens: in the upgrade request's
// Authorization header (scripts), or in the connection_init payload (browsers cannot set headers
// on a WebSocket). Events travel through Redis, so every API process sees every publication.

/** The key a connection_init payload carries: `{ authorization: 'Bearer KEY' }` (or in `headers`). */
export function connectionToken(payload: unknown): string | undefined {
  if (!payload || typeof payload !== 'object') return undefined;
  const p = payload as Record<string, unknown>;
  const headers = (p.headers && typeof p.headers === 'object' ? p.headers : p) as Record<string, unknown>;
  const value = headers.authorization ?? headers.Authorization;
  if (typeof value !== 'string') return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(value)?.[1];
}

/** An upgrade to WebSocket without a key: the key is expected in connection_init instead. */
export function isKeylessUpgrade(request: FastifyRequest): boolean {
  return request.headers.upgrade?.toLowerCase() === 'websocket' && !request.headers.authorization;
}

export function subscriptionOptions(
  app: FastifyInstance,
  deps: { services: Services; events: EventBus; apiKeys: ApiKeyService },
) {
  return {
    emitter: deps.events.emitter,
    context: (_socket: unknown, request: FastifyRequest) => ({
      ...(request.actor ? { biobank: ctxOf(request) } : {}),
      services: deps.services,
    }),
    onConnect: async ({ payload }: { payload: unknown }) => {
      const token = connectionToken(payload);
      // No key here: the upgrade request must have carried one (checked at subscribe).
      if (token === undefined) return true;
      try {
        const actor = await deps.apiKeys.authenticate(token);
        const requestId = randomUUID();
        const biobank: Ctx = {
          actor,
          requestId,
          log: app.log.child({ reqId: requestId, actor: `${actor.role}@${actor.institutionCode}` }),
        };
        return { biobank };
      } catch {
        return false; // connection_error "Forbidden", then the socket closes
      }
    },
    // Pings keep idle subscriptions open through proxies that cut silent connections.
    keepAlive: 25_000,
  };
}

/** The subscriber's context, or UNAUTHENTICATED when the connection carried no key at all. */
export function subscriberCtx(context: MercuriusContext): Ctx {
  const ctx = (context as { biobank?: Ctx }).biobank;
  if (!ctx) throw unauthenticated();
  return ctx;
}

/**
 * A subscription's subscribe function whose refusals reach the client coded as query errors are
 * (`extensions.code`, `status`, field `errors`): Mercurius sends a subscribe failure as it is,
 * without the error formatter. Anything else is logged and answered INTERNAL.
 */
export function codedSubscribe<A extends unknown[], R>(
  subscribe: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await subscribe(...args);
    } catch (err) {
      const domain = asDomainError(err);
      if (domain) {
        throw new GraphQLError(domain.message, {
          extensions: {
            code: domain.code,
            status: domain.status,
            ...(domain.errors.length ? { errors: domain.errors } : {}),
          },
        });
      }
      const context = args[2] as MercuriusContext | undefined;
      context?.app.log.error({ err }, 'unhandled GraphQL subscription error');
      throw new GraphQLError('internal error', { extensions: { code: INTERNAL_ERROR_CODE } });
    }
  };
}
