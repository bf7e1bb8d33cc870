import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Db } from '../../db/client.js';
import { execute } from '../../http/request-context.js';
import { errorResponses } from '../../http/schemas.js';
import { toChangeDto } from './changes.dto.js';
import { changePageDto, listChangesQuery } from './changes.schemas.js';
import type { ChangeFeedService } from './changes.service.js';

export function changeRoutes(app: FastifyInstance, deps: { db: Db; changes: ChangeFeedService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, changes } = deps;
  // Long polls in progress: closing the server answers them at once instead of waiting them out.
  const waiting = new Set<AbortController>();
  app.addHook('preClose', (done) => {
    for (const controller of waiting) controller.abort();
    done();
  });

  r.get(
    '/v1/changes',
    {
      schema: {
        operationId: 'listChanges',
        tags: ['integration'],
        summary:
          "The institution's change feed: every committed change to its specimens, participants, " +
          'consents and containers, in commit order, after a cursor (admins, managers, integrations)',
        description:
          'Keep `nextCursor` and pass it as `after` next time: no committed change is skipped or ' +
          'repeated, even when transactions commit in another order than they started. ' +
          '`wait` holds the answer (up to 30 s) until a change arrives. A cursor that was edited ' +
          'or issued to another institution is 400 INVALID_CURSOR.',
        querystring: listChangesQuery,
        response: { 200: changePageDto, ...errorResponses(403) },
      },
    },
    async (req, reply) => {
      const { wait } = req.query;
      const controller = wait > 0 ? new AbortController() : undefined;
      if (controller) {
        waiting.add(controller);
        // The consumer went away: stop waiting for it.
        reply.raw.once('close', () => controller.abort());
      }
      try {
        const body = await execute(
          db,
          req,
          reply,
          200,
          (ctx) => changes.listChanges(ctx, { ...req.query, signal: controller?.signal }),
          (page) => ({
            items: page.items.map(toChangeDto),
            nextCursor: page.nextCursor,
            hasMore: page.hasMore,
          }),
        );
        // Serialized here, past the type provider's check of every item against the schema: a
        // drain answers thousands of changes a second and the DTO is typed (as the scan lookup).
        const raw: FastifyReply = reply;
        return raw.type('application/json; charset=utf-8').send(JSON.stringify(body));
      } finally {
        if (controller) waiting.delete(controller);
      }
    },
  );
}
