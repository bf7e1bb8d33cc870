import type { FastifyReply, FastifyRequest } from 'fastify';
import { Kind, OperationTypeNode, parse, type OperationDefinitionNode } from 'graphql';
import type { Ctx } from '../context.js';
import type { Db } from '../db/client.js';
import {
  abandonIdempotentRequest,
  beginIdempotentRequest,
  completeIdempotentRequest,
  holdIdempotentRequest,
} from '../http/idempotency.js';
import { asDomainError } from '../http/problem.js';
import { ctxOf } from '../http/request-context.js';

// Idempotency-Key on GraphQL mutations, as on REST POSTs (src/http/idempotency.ts, the same table
// and the same answers): the same key with the same document and variables replays the first
// answer without running it again, with `Idempotent-Replayed: true`; the same key with another
// request is IDEMPOTENCY_KEY_REUSED, and one still running IDEMPOTENCY_KEY_IN_USE. Queries change
// nothing and ignore the header.
//
// A GraphQL answer is shaped after the services' transactions commit, so unlike REST it cannot be
// stored inside them: the first transaction that commits holds the key (holdIdempotentRequest),
// and the answer is stored just before it is sent. A retry in between gets IN_USE; so does every
// retry for 24 hours if the process died in between, rather than a second effect.

interface GraphqlBody {
  query?: unknown;
  operationName?: unknown;
}

/** Is the operation the body asks to run a mutation? A document that does not parse is not. */
function isMutation(body: unknown): boolean {
  const { query, operationName } = (body ?? {}) as GraphqlBody;
  if (typeof query !== 'string') return false;
  try {
    const operations = parse(query, { noLocation: true }).definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    const chosen =
      typeof operationName === 'string'
        ? operations.find((o) => o.name?.value === operationName)
        : operations.length === 1
          ? operations[0]
          : undefined;
    return chosen?.operation === OperationTypeNode.MUTATION;
  } catch {
    return false;
  }
}

/** The answer a refused request gets before it runs, shaped as GraphQL errors (as a refused key). */
function refuse(reply: FastifyReply, err: unknown) {
  const domain = asDomainError(err);
  if (!domain) throw err;
  return reply.code(domain.status).send({
    data: null,
    errors: [{ message: domain.message, extensions: { code: domain.code, status: domain.status } }],
  });
}

export function graphqlIdempotency(db: Db) {
  // The ctx each request's resolvers got, to learn afterwards whether a transaction committed.
  const contexts = new WeakMap<FastifyRequest, Ctx>();

  return {
    /** preHandler: claims the key of a mutation, or answers its replay or refusal. */
    claim: async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.method !== 'POST' || !request.actor || request.headers['idempotency-key'] === undefined)
        return;
      if (!isMutation(request.body)) return;
      try {
        const scope = await beginIdempotentRequest(db, request, reply, request.actor.apiKeyId);
        if (scope === 'replayed') return reply;
        request.idempotency = scope ?? null;
      } catch (err) {
        return refuse(reply, err);
      }
    },

    /** The resolvers' ctx: with a claimed key, its first committing transaction holds the key. */
    ctxOf: (request: FastifyRequest): Ctx => {
      const ctx = ctxOf(request);
      const scope = request.idempotency;
      if (scope) {
        ctx.commitHook = { beforeCommit: (tx) => holdIdempotentRequest(tx, scope) };
        contexts.set(request, ctx);
      }
      return ctx;
    },

    /**
     * onSend: stores the answer under the key, or releases the key when nothing committed and the
     * answer is an error, so a retry runs again (as a failed REST POST does).
     */
    settle: async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const scope = request.idempotency;
      if (!scope || scope.settled) return payload;
      const ctx = contexts.get(request);
      // inTransaction takes the hook from ctx and puts it back only when the transaction failed.
      const committed = ctx !== undefined && ctx.commitHook === undefined;
      let body: { errors?: unknown[] } | null = null;
      try {
        body = typeof payload === 'string' ? (JSON.parse(payload) as { errors?: unknown[] }) : null;
      } catch {
        body = null;
      }
      const failed = reply.statusCode >= 400 || body === null || (body.errors?.length ?? 0) > 0;
      try {
        if (committed || !failed) await completeIdempotentRequest(db, scope, reply.statusCode, body);
        else await abandonIdempotentRequest(db, scope);
      } catch (err) {
        request.log.error({ err }, 'could not settle an idempotency key');
      }
      return payload;
    },
  };
}
