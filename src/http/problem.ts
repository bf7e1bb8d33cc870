import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError, isDomainError, toProblem, type FieldProblem, type Problem } from '../errors.js';
import { translatePgError } from '../db/pg-errors.js';

/** Fastify's own request errors, in product words. */
const FASTIFY_ERRORS: Record<string, { kind: DomainError['kind']; code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    kind: 'payload_too_large',
    code: 'PAYLOAD_TOO_LARGE',
    message: 'the request body is larger than this service accepts',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    kind: 'unsupported_media_type',
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'send the body as application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    kind: 'bad_request',
    code: 'INVALID_CONTENT_LENGTH',
    message: 'the Content-Length header does not match the body',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    kind: 'bad_request',
    code: 'EMPTY_BODY',
    message: 'the body is empty but the content type says JSON',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    kind: 'bad_request',
    code: 'MALFORMED_JSON',
    message: 'the body is not valid JSON',
  },
};

function fieldsFromValidation(
  err: FastifyError & { validation: { instancePath: string; message?: string; keyword: string }[] },
) {
  const where = (err as { validationContext?: string }).validationContext ?? 'body';
  return err.validation.map<FieldProblem>((v) => ({
    field: [where, ...v.instancePath.split('/').filter(Boolean)].join('.'),
    message: v.message ?? 'is not valid',
    code: v.keyword,
  }));
}

interface InnerGraphqlError {
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
  const reasons: InnerGraphqlError[] = Array.isArray(inner) ? (inner as InnerGraphqlError[]) : [];
  const code = reasons
    .map((r) =>
      r.code === 'MER_ERR_GQL_QUERY_DEPTH'
        ? 'QUERY_TOO_DEEP'
        : typeof r.extensions?.code === 'string'
          ? r.extensions.code
          : undefined,
    )
    .find((c) => c !== undefined);
  const detail = reasons
    .map((r) => r.message?.replaceAll('`', '').trim())
    .filter(Boolean)
    .join('; ');
  return new DomainError(
    'bad_request',
    code ?? 'GRAPHQL_VALIDATION_FAILED',
    detail || 'the GraphQL document is not valid',
  );
}

/** Classifies any thrown value as a DomainError; undefined means a bug (answered as a bare 500). */
export function asDomainError(err: unknown): DomainError | undefined {
  if (isDomainError(err)) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const errors = fieldsFromValidation(err);
    const first = errors[0];
    return new DomainError(
      'bad_request',
      'VALIDATION_FAILED',
      first ? `${first.field}: ${first.message}` : 'the request is not valid',
      errors,
    );
  }
  if (err instanceof z.ZodError) {
    const errors = err.issues.map<FieldProblem>((i) => ({
      field: i.path.join('.'),
      message: i.message,
      code: i.code,
    }));
    return new DomainError(
      'bad_request',
      'VALIDATION_FAILED',
      errors[0] ? `${errors[0].field}: ${errors[0].message}` : 'invalid',
      errors,
    );
  }
  const fst = err as Partial<FastifyError>;
  if (fst.code === 'MER_ERR_GQL_VALIDATION') return graphqlValidationError(err);
  if (fst.code && FASTIFY_ERRORS[fst.code]) {
    const known = FASTIFY_ERRORS[fst.code]!;
    return new DomainError(known.kind, known.code, known.message);
  }
  if (err instanceof SyntaxError && (err as Partial<FastifyError>).statusCode === 400) {
    return new DomainError('bad_request', 'MALFORMED_JSON', 'the body is not valid JSON');
  }
  const pg = translatePgError(err);
  if (pg) return pg;
  if (typeof fst.statusCode === 'number' && fst.statusCode >= 400 && fst.statusCode < 500) {
    return new DomainError('bad_request', 'BAD_REQUEST', fst.message ?? 'bad request');
  }
  return undefined;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
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
    code: 'INTERNAL',
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
