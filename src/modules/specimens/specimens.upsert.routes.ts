import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { answerUpsert, optionalPreconditionVersion } from '../../http/etag.js';
import { execute } from '../../http/request-context.js';
import { errorResponses, optionalIfMatch } from '../../http/schemas.js';
import { toSpecimenDto } from './specimens.dto.js';
import {
  identifierSystem,
  identifierValue,
  registerSpecimenInput,
  specimenDto,
} from './specimens.schemas.js';
import type { SpecimenService } from './specimens.service.js';

/** PUT /v1/specimens/by-external-id/{system}/{value} (GraphQL: `upsertSpecimen`). */
export function specimenUpsertRoutes(app: FastifyInstance, deps: { db: Db; specimens: SpecimenService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, specimens } = deps;

  r.put(
    '/v1/specimens/by-external-id/:system/:value',
    {
      schema: {
        operationId: 'upsertSpecimen',
        tags: ['specimens'],
        summary:
          'Create (201, Location) or update (200) the specimen holding this external id, from the register body; ' +
          'the same body again changes nothing',
        description:
          'The same upsert as the upsertSpecimen mutation and the FHIR conditional update ' +
          '(PUT /fhir/R4/Specimen?identifier=system|value), with the same decisions. Fields left out keep their ' +
          'value. barcode, type, quantity, unit, participant and protocol cannot change (409 IMMUTABLE_FIELD; ' +
          'FHIR answers it with 422). External ids are added, never removed: those listed and the path one join ' +
          "the tube's (PATCH removes). containerId and position place a new tube only. If-Match is optional: a " +
          'stale version is 412 VERSION_CONFLICT unless the tube already is as sent (200, nothing written, ' +
          'RFC 9110 13.1.1); any version for an id nothing holds yet is 412 NO_CURRENT_VERSION',
        params: z.object({
          system: identifierSystem.describe('a URI, an OID or a token such as LIS (URL-encoded)'),
          value: identifierValue.describe('the id in that system, e.g. the accession number (URL-encoded)'),
        }),
        headers: optionalIfMatch,
        body: registerSpecimenInput,
        response: {
          200: specimenDto.describe('updated, or already as sent'),
          201: specimenDto.describe('created'),
          ...errorResponses(403, 404, 409, 412, 422),
        },
      },
    },
    async (req, reply) => {
      const expectedVersion = optionalPreconditionVersion(req.headers['if-match']);
      const { created, dto } = await execute(
        db,
        req,
        reply,
        200,
        (ctx) =>
          specimens.upsertSpecimen(ctx, {
            key: { kind: 'external', system: req.params.system, value: req.params.value },
            body: req.body,
            expectedVersion,
          }),
        (u) => ({ created: u.created, dto: toSpecimenDto(u.specimen) }),
      );
      answerUpsert(reply, created, `/v1/specimens/${dto.id}`, dto.version);
      return dto;
    },
  );
}
