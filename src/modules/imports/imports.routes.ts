import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Db } from '../../db/client.js';
import { ctxOf, execute } from '../../http/request-context.js';
import { errorResponses, POST_ERRORS } from '../../http/schemas.js';
import { toImportJobDto, toRowErrorDto } from './imports.dto.js';
import { importMalformed } from './imports.errors.js';
import { unsupportedMediaType, validationFailed } from '../../errors.js';
import {
  importErrorsQuery,
  importJobDto,
  importParams,
  rowErrorPageDto,
  startImportDto,
  startImportQuery,
  templateParams,
} from './imports.schemas.js';
import type { ImportService } from './imports.service.js';

const tags = ['integration'];

/** The upload as the route receives it: the request stream, read by the service as it goes. */
class Upload {
  constructor(readonly stream: Readable) {}
  /** What the Idempotency-Key hook hashes: not the stream (imports are idempotent by natural keys). */
  toJSON() {
    return 'upload';
  }
}

const MEDIA_TYPES = ['text/csv', 'application/x-ndjson', 'application/gzip', 'application/octet-stream'];
const SEND_A_FILE =
  'send the file as text/csv or application/x-ndjson, or gzip of either as application/gzip with format';
const mediaTypeOf = (req: FastifyRequest) =>
  (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();

export function importRoutes(app: FastifyInstance, deps: { db: Db; imports: ImportService }) {
  const { db, imports } = deps;
  // The import route reads its body as a stream (any size; gzip recognised by its bytes), in a
  // scope of its own so no other route accepts these media types.
  app.register(async (scope) => {
    scope.addContentTypeParser(MEDIA_TYPES, (_req: FastifyRequest, payload, done) =>
      done(null, new Upload(payload)),
    );
    const r = scope.withTypeProvider<ZodTypeProvider>();
    r.post(
      '/v1/imports',
      {
        // The route reads the stream itself: no body limit applies to a file.
        bodyLimit: Number.MAX_SAFE_INTEGER,
        // Before any parser: a file in another media type (or none) is told what to send.
        onRequest: (req, _reply, done) => {
          const type = mediaTypeOf(req);
          done(MEDIA_TYPES.includes(type) ? undefined : unsupportedMediaType(SEND_A_FILE));
        },
        schema: {
          operationId: 'startImport',
          tags,
          summary:
            'Imports specimens, participants or consents from a CSV or NDJSON file (gzip accepted), ' +
            'validated in full before anything is applied',
          description:
            'Send the file as the body (`text/csv`, `application/x-ndjson`, or gzip of either as ' +
            '`application/gzip` with `format`). Records are named by natural keys: external ids, ' +
            'barcodes, protocol codes, LIS patient ids. Every bad row is reported with its row ' +
            'number, column and code. A dry run answers 200 with the report; an all-or-nothing file ' +
            'with bad rows is 422 IMPORT_REJECTED and changes nothing; otherwise the rows are applied ' +
            'by a job (202; follow `GET /v1/imports/{id}`). Re-sending a file creates nothing new, ' +
            'so no Idempotency-Key is needed (one sent is not used). A file that cannot be read is ' +
            '400 IMPORT_MALFORMED. Templates: `GET /v1/imports/templates/{kind}.csv`.',
          querystring: startImportQuery,
          consumes: MEDIA_TYPES,
          body: z
            .unknown()
            .describe('the file: CSV with a header row, or NDJSON, optionally gzip-compressed'),
          response: {
            200: startImportDto.describe('a dry run, or a file with nothing left to create'),
            202: startImportDto.describe('validated and queued: the rows are being applied'),
            ...errorResponses(403, ...POST_ERRORS),
          },
        },
      },
      async (req, reply) => {
        if (!(req.body instanceof Upload)) throw importMalformed(SEND_A_FILE);
        const q = req.query;
        const type = mediaTypeOf(req);
        const said = type === 'application/x-ndjson' ? 'ndjson' : type === 'text/csv' ? 'csv' : undefined;
        if (q.format && said && q.format !== said)
          throw validationFailed([
            { field: 'querystring.format', message: `${q.format} contradicts the Content-Type ${type}` },
          ]);
        const format = q.format ?? said ?? 'csv';
        const answer = await imports.startImport(ctxOf(req), {
          kind: q.kind,
          mode: q.mode,
          dryRun: q.dryRun,
          format,
          file: req.body.stream,
        });
        const queued = answer.job.status === 'queued';
        if (queued) reply.header('location', `/v1/imports/${answer.job.id}`);
        reply.code(queued ? 202 : 200);
        return { ...toImportJobDto(answer.job), errors: answer.errors.map(toRowErrorDto) };
      },
    );
  });

  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    '/v1/imports/:id',
    {
      schema: {
        operationId: 'getImport',
        tags,
        summary: 'An import and its progress',
        params: importParams,
        response: { 200: importJobDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(db, req, reply, 200, (ctx) => imports.getImport(ctx, req.params.id), toImportJobDto),
  );

  r.get(
    '/v1/imports/:id/errors',
    {
      schema: {
        operationId: 'listImportErrors',
        tags,
        summary: "An import's row errors in file order (row, column, code, detail), page by page",
        params: importParams,
        querystring: importErrorsQuery,
        response: { 200: rowErrorPageDto, ...errorResponses(403, 404) },
      },
    },
    (req, reply) =>
      execute(
        db,
        req,
        reply,
        200,
        (ctx) => imports.listImportErrors(ctx, { id: req.params.id, ...req.query }),
        (p) => ({ items: p.items.map(toRowErrorDto), nextCursor: p.nextCursor }),
      ),
  );

  r.get(
    '/v1/imports/templates/:kind.csv',
    {
      schema: {
        operationId: 'getImportTemplate',
        tags,
        summary: 'The CSV template of an import kind: the header row and one example row',
        params: templateParams,
        response: { 200: z.string().describe('text/csv'), ...errorResponses(404) },
      },
    },
    async (req, reply) =>
      reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${req.params.kind}.csv"`)
        .send(imports.getImportTemplate(req.params.kind)),
  );
}
