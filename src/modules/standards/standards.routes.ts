import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { etag, preconditionVersion } from '../../http/etag.js';
import { execute } from '../../http/request-context.js';
import { POST_ERRORS, errorResponses, idParams, idempotencyHeaders, pageOf } from '../../http/schemas.js';
import { MIABIS_STORAGE_TEMPERATURES } from './miabis.js';
import type { SprecDecodeResult } from './sprec.js';
import type { qcResultDto } from './standards.schemas.js';
import {
  listRunsQuery,
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
import { RUN_CSV_HEADER, readSummary, type StandardsService } from './standards.service.js';
import type { QcResultRow, QualityRulesetRow, StandardizationRunRow } from './standards.table.js';

/** The decode DTO (GET /v1/sprec/decode). */
export const toDecodeDto = (r: SprecDecodeResult): z.infer<typeof sprecDecodeDto> =>
  r.valid
    ? { valid: true, code: r.code, version: r.version, kind: r.kind, fields: r.fields, errors: [] }
    : { valid: false, code: r.code, version: r.version, kind: null, fields: [], errors: r.errors };

/** The quality ruleset DTO (GET /v1/protocols/:id/quality-rules). */
export const toRulesetDto = (x: {
  protocolId: string;
  row: QualityRulesetRow | null;
}): z.infer<typeof qualityRulesetDto> => ({
  protocolId: x.protocolId,
  version: x.row?.version ?? 0,
  rules: (x.row?.rules ?? []) as Record<string, unknown>[],
  createdBy: x.row?.createdBy ?? null,
  createdAt: x.row?.createdAt.toISOString() ?? null,
});

/** The QC result DTO (GET /v1/specimens/:id/qc `results`). */
export const toQcResultDto = (r: QcResultRow): z.infer<typeof qcResultDto> => ({
  check: r.checkCode,
  outcome: r.outcome,
  message: r.message,
  details: r.details ?? null,
  rulesetVersion: r.rulesetVersion,
  runId: r.runId,
  checkedAt: r.checkedAt.toISOString(),
});

export function toRunDto(r: StandardizationRunRow): z.infer<typeof runDto> {
  const summary = readSummary(r.summary);
  return {
    id: r.id,
    status: r.status,
    filter: r.filter,
    total: r.total,
    processed: r.processed,
    progress: r.status === 'completed' ? 1 : r.total ? Math.min(1, (r.processed + r.skipped) / r.total) : 0,
    skipped: r.skipped,
    holdsPlaced: r.holdsPlaced,
    specimens: summary.specimens,
    checks: Object.entries(summary.checks)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([check, c]) => ({ check, ...c })),
    rulesets: Object.entries(r.rulesets).map(([protocolId, version]) => ({ protocolId, version })),
    error: r.error,
    requestedBy: r.requestedBy,
    createdAt: r.createdAt.toISOString(),
    startedAt: r.startedAt?.toISOString() ?? null,
    completedAt: r.completedAt?.toISOString() ?? null,
  };
}

const miabisCollectionDto = z
  .object({
    id: z.string().describe('MIABIS-COLLECTION-01'),
    acronym: z.string().describe('MIABIS-COLLECTION-02: the protocol code'),
    name: z.string().describe('MIABIS-COLLECTION-03'),
    description: z.string().describe('MIABIS-COLLECTION-06'),
    sampleSource: z.literal('Human').describe('MIABIS-COLLECTION-07'),
    sex: z.array(z.string()).describe('MIABIS-COLLECTION-08'),
    ageLow: z.number().int().nullable().describe('MIABIS-COLLECTION-09: youngest donor at donation'),
    ageHigh: z.number().int().nullable().describe('MIABIS-COLLECTION-10: oldest donor at donation'),
    ageLowUnit: z.literal('Years').nullable().describe('MIABIS-COLLECTION-11'),
    ageHighUnit: z.literal('Years').nullable().describe('MIABIS-COLLECTION-12'),
    sampleTypes: z.array(z.string()).describe('MIABIS-COLLECTION-14'),
    materials: z
      .array(
        z.object({
          sampleType: z.string(),
          materialType: z.string().describe('BBMRI-ERIC Directory material type'),
          numberOfSamples: z.number().int(),
        }),
      )
      .describe('samples per sample type (distinct lineage roots)'),
    storageTemperatures: z.array(z.enum(MIABIS_STORAGE_TEMPERATURES)).describe('MIABIS-COLLECTION-15'),
    diseases: z
      .array(z.object({ ontology: z.literal('ICD-10'), code: z.string(), uri: z.string() }))
      .describe('MIABIS-COLLECTION-16'),
    numberOfSamples: z
      .number()
      .int()
      .describe('samples counted as MIABIS does: aliquots and derivatives of one sample count once'),
    totalNumberOfSubjects: z.number().int().describe('MIABIS-COLLECTION-21'),
  })
  .describe('a MIABIS Core 3.0 Collection');

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
    (req, reply) =>
      execute(db, req, reply, 200, (ctx) => standards.decodeSprecCode(ctx, req.query), toDecodeDto),
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
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => standards.getSpecimenQc(ctx, req.params.id),
        (x) => ({
          specimenId: x.specimen.id,
          barcode: x.specimen.barcode,
          qcStatus: x.specimen.qcStatus,
          results: x.results.map(toQcResultDto),
          history: x.history.map((h) => ({
            check: h.checkCode,
            previousOutcome: h.previousOutcome,
            outcome: h.outcome,
            message: h.message,
            rulesetVersion: h.rulesetVersion,
            runId: h.runId,
            checkedAt: h.checkedAt.toISOString(),
          })),
        }),
      ),
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
        (ctx) => standards.listRunResults(ctx, req.params.id, req.query),
        (p) => ({
          items: p.items.map((i) => ({
            specimenId: i.specimenId,
            barcode: i.barcode,
            type: i.type,
            outcome: i.outcome,
            results: i.results.map((x) => {
              const { runId: _runId, ...rest } = toQcResultDto(x);
              return rest;
            }),
          })),
          nextCursor: p.nextCursor,
        }),
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
        (ctx) => standards.exportRunResultsCsv(ctx, req.params.id),
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
