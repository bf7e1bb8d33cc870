import type { RouteOptions } from 'fastify';
import { z } from 'zod';
import { problemSchema } from './problem.js';

const DESCRIPTIONS: Record<number, string> = {
  400: 'The request is malformed or a field is invalid',
  401: 'Missing, malformed, revoked or expired API key',
  403: "The key's role may not perform this operation",
  404: 'Not found (also for another institution’s objects)',
  409: 'Conflicts with the current state',
  412: 'If-Match does not match the current version',
  413: 'Body too large',
  415: 'Body is not JSON',
  422: 'Breaks a domain rule',
  428: 'If-Match is required',
  503: 'The database could not be reached (DATABASE_UNAVAILABLE) or had no connection or answer in time (DATABASE_BUSY, TIMEOUT): retry after Retry-After seconds',
};

/**
 * Problem responses for a route's OpenAPI entry (every route lists its errors, STYLE.md rule 13):
 * the given ones, and 400, 401 and 503, which any route may answer.
 */
export function errorResponses(...statuses: number[]) {
  const all = new Set([400, 401, ...statuses, 503]);
  return Object.fromEntries([...all].map((s) => [s, problemSchema.describe(DESCRIPTIONS[s] ?? 'Error')]));
}

/** Extra errors every POST may answer: its Idempotency-Key handling and body limits. */
export const POST_ERRORS = [409, 413, 415, 422] as const;

export const idParams = z.object({ id: z.uuid() });

export { pageQuery } from '../pagination.js';

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const idempotencyHeaders = z.object({
  // Its form (1 to 255 visible ASCII characters) is checked where the key is read, as for GraphQL:
  // one code, INVALID_IDEMPOTENCY_KEY, for every malformed key.
  'idempotency-key': z
    .string()
    .optional()
    .describe(
      'makes a retried POST safe: the first response is replayed for 24 hours; 1 to 255 visible ' +
        'ASCII characters (400 INVALID_IDEMPOTENCY_KEY otherwise)',
    ),
});

/** `If-Match` on an upsert (PUT): without it the body wins; with it a stale version is 412. */
export const optionalIfMatch = z.object({
  'if-match': z
    .string()
    .max(100)
    .optional()
    .describe('the ETag last read: the change is refused (412) when the record moved on since'),
});
/**
 * onRoute hook of the REST plugin: query strings are as strict as bodies. A route's query schema
 * refuses parameters it does not declare, and a route without one refuses any, so a typo
 * (`?participantID=`) or a filter that does not exist (`?updatedSince=`) answers 400 naming the
 * parameter instead of the whole unfiltered list.
 */
export function strictQueryStrings(route: RouteOptions): void {
  const schema = (route.schema ??= {});
  if (schema.querystring === undefined) schema.querystring = z.object({}).strict();
  else if (schema.querystring instanceof z.ZodObject) schema.querystring = schema.querystring.strict();
}
