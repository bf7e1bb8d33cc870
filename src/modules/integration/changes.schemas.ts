import { z } from 'zod';
import { CHANGE_ENTITIES, CHANGE_OPERATIONS } from './changes.table.js';

// Change feed schemas REST and GraphQL both validate with.

export const CHANGE_FEED_MAX_LIMIT = 1000;
/** A long poll holds a connection: 30 s stays under common proxy and load-balancer idle timeouts. */
export const CHANGE_FEED_MAX_WAIT_SECONDS = 30;

export const listChangesQuery = z.object({
  after: z
    .string()
    .max(200)
    .optional()
    .describe('`nextCursor` of the previous answer; absent: from the first recorded change'),
  limit: z.coerce.number().int().min(1).max(CHANGE_FEED_MAX_LIMIT).default(100),
  wait: z.coerce
    .number()
    .int()
    .min(0)
    .max(CHANGE_FEED_MAX_WAIT_SECONDS)
    .default(0)
    .describe('seconds to hold the answer until a change arrives when there is none yet (long poll)'),
});
export type ListChangesQuery = z.infer<typeof listChangesQuery>;

export const changeDto = z.object({
  entity: z.enum(CHANGE_ENTITIES),
  entityId: z.uuid(),
  version: z
    .number()
    .int()
    .nullable()
    .describe("the entity's version after the change (before it, for a deletion)"),
  operation: z.enum(CHANGE_OPERATIONS),
  changedFields: z
    .array(z.string())
    .describe(
      'API fields an update changed, as the entity shows them (`location`, `identity.birthYear`, ' +
        '`path`); empty for a creation or a deletion, which concern the whole entity',
    ),
  changedAt: z.iso.datetime().describe('database time of the writing transaction'),
  requestId: z.string().nullable().describe('X-Request-Id of the request that made the change'),
});
export type ChangeDto = z.infer<typeof changeDto>;

export const changePageDto = z.object({
  items: z.array(changeDto),
  nextCursor: z.string().describe('keep it: the next call passes it as `after`'),
  hasMore: z.boolean().describe('more changes are ready now: call again without waiting'),
});
