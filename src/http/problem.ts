import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  INTERNAL_ERROR_CODE,
  emptyBody,
  frameworkRefusal,
  GRAPHQL_DOCUMENT_CODES,
  graphqlDocumentRefused,
  type GraphqlDocumentCode,
  invalidContentLength,
  isDomainError,
  malformedJson,
  payloadTooLarge,
  toProblem,
  unsupportedMediaType,
  validationFailed,
  type DomainError,
  type FieldProblem,
  type Problem,
  type ZodIssueCode,
} from '../errors.js';
import { translatePgError } from '../db/pg-errors.js';

/** Fastify's own request errors, in product words. */
const FASTIFY_ERRORS: Record<string, () => DomainError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: payloadTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: unsupportedMediaType,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: invalidContentLength,
  FST_ERR_CTP_EMPTY_JSON_BODY: emptyBody,
  FST_ERR_CTP_INVALID_JSON_BODY: malformedJson,
};

/** graphql-js's words when a document has more tokens than the parser's `maxTokens`. */
const TOKEN_LIMIT = /^Syntax Error: Document contains more tha[nt] (\d+) tokens/;

const isGraphqlDocumentCode = (c: unknown): c is GraphqlDocumentCode =>
  (GRAPHQL_DOCUMENT_CODES as readonly unknown[]).includes(c);

function fieldsFromValidation(
  err: FastifyError & {
    validation: { instancePath: string; message?: string; keyword: string; params?: { keys?: unknown } }[];
  },
) {
  const where = (err as { validationContext?: string }).validationContext ?? 'body';
  return err.validation.flatMap<FieldProblem>((v) => {
    const path = [where, ...v.instancePath.split('/').filter(Boolean)];
    // An object with keys it does not know: each key is a problem of its own, named by its path
    // (`querystring.participantID`), so a typo in a query string is as plain as one in a body.
    const keys = v.keyword === 'unrecognized_keys' ? v.params?.keys : undefined;
    if (Array.isArray(keys) && keys.length) {
      return keys.map((key) => ({
        field: [...path, String(key)].join('.'),
        // A member of a structured parameter (`criteria`) is a field of it, not a parameter.
        message: where === 'querystring' && path.length === 1 ? 'unknown query parameter' : 'unknown field',
        code: 'unrecognized_keys' as const,
      }));
    }
    // No body at all where an object is expected: say so, rather than "received null".
    const noBody =
      where === 'body' &&
      path.length === 1 &&
      v.keyword === 'invalid_type' &&
      /received (null|undefined)/.test(v.message ?? '');
    return [
      {
        field: path.join('.'),
        message: noBody
          ? 'a JSON body is required (send {} when there is nothing to give)'
          : (v.message ?? 'is not valid'),
        // fastify-type-provider-zod puts the zod issue code in `keyword`
        code: v.keyword as ZodIssueCode,
      },
    ];
  });
}

export interface InnerGraphqlError {
  message?: string;
  code?: string;
  extensions?: { code?: unknown };
}

/**
 * Mercurius refuses a document (unknown field, bad argument, depth or alias limit) with one error
 * wrapping the list of reasons. The reasons are the useful part: they become the detail, and the
 * first coded one (our validation rules and scalars set `extensions.code`) gives the code.
 */
function graphqlValidationError(err: unknown): DomainError {
  const inner = (err as { errors?: unknown }).errors;
  return graphqlValidationRefusal(Array.isArray(inner) ? (inner as InnerGraphqlError[]) : []);
}

/** A document's validation errors as one refusal: the first coded reason's code, every message. */
export function graphqlValidationRefusal(reasons: readonly InnerGraphqlError[]): DomainError {
  const code = reasons
    .map((r) =>
      r.code === 'MER_ERR_GQL_QUERY_DEPTH'
        ? 'QUERY_TOO_DEEP'
        : TOKEN_LIMIT.test(r.message ?? '')
          ? 'TOO_MANY_TOKENS'
          : isGraphqlDocumentCode(r.extensions?.code)
            ? r.extensions.code
            : undefined,
    )
    .find((c) => c !== undefined);
  const detail = reasons
    .map((r) => {
      const limit = TOKEN_LIMIT.exec(r.message ?? '')?.[1];
      return limit ? `the document has more than ${limit} tokens` : r.message?.replaceAll('`', '').trim();
    })
    .filter(Boolean)
    .join('; ');
  return graphqlDocumentRefused(detail, code ?? 'GRAPHQL_VALIDATION_FAILED');
}

/** Classifies any thrown value as a DomainError; undefined means a bug (answered as a bare 500). */
export function asDomainError(err: unknown): DomainError | undefined {
  if (isDomainError(err)) return err;
  if (hasZodFastifySchemaValidationErrors(err)) return validationFailed(fieldsFromValidation(err));
  if (err instanceof z.ZodError) {
    return validationFailed(
      err.issues.flatMap<FieldProblem>((i) =>
        // One problem per unknown member, named by its path, as REST names them.
        i.code === 'unrecognized_keys' && i.keys.length
          ? i.keys.map((key) => ({
              field: [...i.path, key].join('.'),
              message: 'unknown field',
              code: i.code,
            }))
          : [{ field: i.path.join('.'), message: i.message, code: i.code }],
      ),
    );
  }
  const fst = err as Partial<FastifyError>;
  if (fst.code === 'MER_ERR_GQL_VALIDATION') return graphqlValidationError(err);
  const known = fst.code ? FASTIFY_ERRORS[fst.code] : undefined;
  if (known) return known();
  if (err instanceof SyntaxError && (err as Partial<FastifyError>).statusCode === 400) return malformedJson();
  const pg = translatePgError(err);
  if (pg) return pg;
  if (typeof fst.statusCode === 'number' && fst.statusCode >= 400 && fst.statusCode < 500) {
    return frameworkRefusal(fst.message ?? 'bad request');
  }
  return undefined;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  // A refusal that is worth retrying says when (errors.ts RetryAfter).
  if (typeof problem.retryAfter === 'number') reply.header('retry-after', String(problem.retryAfter));
  // Bypass the route's response schema: a problem has its own shape.
  return reply
    .code(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .serializer((p: unknown) => JSON.stringify(p))
    .send(problem);
}

/** The one REST error handler: domain errors as problem+json, bugs as a bare 500 with the request id. */
export function restErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const domain = asDomainError(err);
  if (domain) {
    if (domain.status >= 500) request.log.error({ err }, domain.message);
    else request.log.info({ code: domain.code, status: domain.status }, domain.message);
    return sendProblem(reply, toProblem(domain, request.id));
  }
  request.log.error({ err }, 'unhandled error');
  return sendProblem(reply, {
    type: 'about:blank',
    title: 'Internal server error',
    status: 500,
    detail: 'the service failed to answer; the request id identifies the failure in the logs',
    code: INTERNAL_ERROR_CODE,
    requestId: request.id,
  });
}

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().describe('stable machine-readable error code'),
    requestId: z.string().optional(),
    errors: z
      .array(z.object({ field: z.string(), message: z.string(), code: z.string().optional() }))
      .optional()
      .describe('per-field problems'),
  })
  .loose()
  .describe('RFC 9457 problem details');
