import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { etag, preconditionVersion } from '../../http/etag.js';
import { execute } from '../../http/request-context.js';
import { POST_ERRORS, errorResponses, idParams, idempotencyHeaders, pageOf } from '../../http/schemas.js';
import { toDecodeDto, toRulesetDto, toRunDto, toRunResultItemDto, toSpecimenQcDto } from './standards.dto.js';
import { RUN_CSV_HEADER } from './standardization-report.js';
import {
  listRunsQuery,
  miabisCollectionDto,
  putQualityRulesInput,
  qualityRulesQuery,
  qualityRulesetDto,
  runDto,
  runResultItemDto,
  runResultsQuery,
  specimenQcDto,
  sprecDecodeDto,
  sprecDecodeQuery,
  startRunInput,
} from './standards.schemas.js';
import type { StandardsService } from './standards.service.js';

export function standardsRoutes(app: FastifyInstance, deps: { db: Db; standards: StandardsService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { db, standards } = deps;
  const tags = ['standardization'];

  r.get(
    '/v1/sprec/decode',
    {
      schema: {
        operationId: 'decodeSprec',
        tags,
        summary: 'Decode a SPREC code field by field, or give the exact position and reason it is invalid',
        querystring: sprecDecodeQuery,
        response: { 200: sprecDecodeDto, ...errorResponses(403) },
      },
    },
    (req, reply) => execute(db, req, reply, 200, (ctx) => standards.decodeSprec(ctx, req.query), toDecodeDto),
  );

  r.get(
    '/v1/protocols/:id/quality-rules',
    {
      schema: {
        operationId: 'getQualityRules',
        tags,
        summary: "A protocol's current quality rules (or an earlier version); ETag carries the version",
        params: idParams,
        querystring: qualityRulesQuery,
        response: { 200: qualityRulesetDto, ...errorResponses(403, 404) },
      },
    },
    async (req, reply) => {
      const dto = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => standards.getQualityRules(ctx, req.params.id, req.query.version),
        toRulesetDto,
      );
      reply.header('etag', etag(dto.version));
      return dto;
    },
  );

  r.put(
    '/v1/protocols/:id/quality-rules',
    {
      schema: {
        operationId: 'putQualityRules',
        tags,
        summary:
          'Replace a protocol’s quality rules with a new version (If-Match optional; a rule naming an unknown field is refused with 422)',
        params: idParams,
        headers: z.object({ 'if-match': z.string().max(100).optional() }),
        body: putQualityRulesInput,
        response: { 200: qualityRulesetDto, ...errorResponses(403, 404, 409, 412, 422) },
      },
    },
    async (req, reply) => {
      const ifMatch = req.headers['if-match'];
      const expected = ifMatch === undefined ? undefined : preconditionVersion(ifMatch);
      const dto = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => standards.putQualityRules(ctx, req.params.id, req.body, expected),
        (row) => toRulesetDto({ protocolId: row.protocolId, row }),
      );
      reply.header('etag', etag(dto.version));
      return dto;
    },
  );

  r.get(
    '/v1/specimens/:id/qc',
    {
      schema: {
        operationId: 'getSpecimenQc',
        tags,
        summary: "A specimen's QC status, its current check results and the changes of outcome",
        params: idParams,
        response: { 200: specimenQcDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(db, req, reply, 200, (ctx) => standards.getSpecimenQc(ctx, req.params.id), toSpecimenQcDto),
  );

  r.get(
    '/v1/miabis/collections',
    {
      schema: {
        operationId: 'exportMiabisCollections',
        tags,
        summary: "The institution's collections (one per protocol) as MIABIS Core 3.0 aggregates",
        response: {
          200: z.object({
            biobank: z.object({ id: z.string(), acronym: z.string(), name: z.string() }),
            collections: z.array(miabisCollectionDto),
          }),
          ...errorResponses(403),
        },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => standards.exportMiabisCollections(ctx),
        (x) => x,
      ),
  );

  r.post(
    '/v1/standardization/runs',
    {
      schema: {
        operationId: 'startStandardizationRun',
        tags,
        summary: 'Check every specimen matching a filter in the background; follow the run for progress',
        headers: idempotencyHeaders,
        body: startRunInput,
        response: { 202: runDto, ...errorResponses(403, 404, ...POST_ERRORS) },
      },
    },
    (req, reply) =>
      execute(db, req, reply, 202, (ctx) => standards.startStandardizationRun(ctx, req.body), toRunDto),
  );

  r.get(
    '/v1/standardization/runs',
    {
      schema: {
        operationId: 'listStandardizationRuns',
        tags,
        summary: 'Standardization runs, newest first',
        querystring: listRunsQuery,
        response: { 200: pageOf(runDto), ...errorResponses(403) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => standards.listStandardizationRuns(ctx, req.query),
        (p) => ({ items: p.items.map(toRunDto), nextCursor: p.nextCursor }),
      ),
  );

  r.get(
    '/v1/standardization/runs/:id',
    {
      schema: {
        operationId: 'getStandardizationRun',
        tags,
        summary: 'Progress (processed / total) and the summary by check and severity',
        params: idParams,
        response: { 200: runDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(db, req, reply, 200, (ctx) => standards.getStandardizationRun(ctx, req.params.id), toRunDto),
  );

  r.get(
    '/v1/standardization/runs/:id/results',
    {
      schema: {
        operationId: 'listStandardizationRunResults',
        tags,
        summary: 'Per-specimen results of a run, by specimen id (keyset pages)',
        params: idParams,
        querystring: runResultsQuery,
        response: { 200: pageOf(runResultItemDto), ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => standards.listStandardizationRunResults(ctx, req.params.id, req.query),
        (p) => ({ items: p.items.map(toRunResultItemDto), nextCursor: p.nextCursor }),
      ),
  );

  r.get(
    '/v1/standardization/runs/:id/results.csv',
    {
      schema: {
        operationId: 'exportStandardizationRunResults',
        tags,
        summary: 'The results of a run as CSV (streamed): a header, then one line per result',
        params: idParams,
        response: {
          200: z.string().describe(`text/csv with the columns ${RUN_CSV_HEADER.join(', ')}`),
          ...errorResponses(403, 404),
        },
      },
    },
    async (req, reply) => {
      const lines = await execute(
        db,
        req,
        reply,
        200,
        (ctx) => standards.exportStandardizationRunResults(ctx, req.params.id),
        (x) => x,
      );
      return (
        reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="standardization-run-${req.params.id}.csv"`)
          // A stream is sent as is (never serialised); the 200 schema above only documents the body.
          .send(Readable.from(lines) as unknown as string)
      );
    },
  );
}
