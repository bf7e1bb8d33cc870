import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Db } from '../../db/client.js';
import { execute } from '../../http/request-context.js';
import { errorResponses } from '../../http/schemas.js';
import { toCatalogueDto } from './sharing.catalogue.dto.js';
import { catalogueDto, catalogueQuery } from './sharing.catalogue.schemas.js';
import type { CatalogueService } from './sharing.catalogue.js';

export function catalogueRoutes(app: FastifyInstance, deps: { db: Db; catalogue: CatalogueService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, catalogue } = deps;

  r.get(
    '/v1/catalogue',
    {
      schema: {
        operationId: 'getCatalogue',
        tags: ['sharing'],
        summary:
          'Counts of specimens your agreements let you request for a use, fit for your criteria (rounded down to 5; "<5" below)',
        querystring: catalogueQuery,
        response: { 200: catalogueDto, ...errorResponses(403) },
      },
    },
    (req, reply) =>
      execute(db, req, reply, 200, (ctx) => catalogue.getCatalogue(ctx, req.query), toCatalogueDto),
  );
}
