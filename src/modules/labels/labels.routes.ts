import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ctxOf } from '../../http/request-context.js';
import { errorResponses, idParams } from '../../http/schemas.js';
import { labelOptions, printLabelsInput } from './labels.schemas.js';
import type { LabelFormat, LabelService, PrintedLabels } from './labels.service.js';

const labelBody = z
  .string()
  .describe(
    'text/plain (ZPL II, one ^XA...^XZ per label), application/pdf (one page per label) or image/png (labels one under another, 300 dpi)',
  );

/** `format` when given, else the first of PDF or PNG the client accepts, else ZPL. */
function formatOf(request: FastifyRequest, asked: LabelFormat | undefined): LabelFormat {
  if (asked) return asked;
  const accept = request.headers.accept ?? '';
  if (/\bapplication\/pdf\b/.test(accept)) return 'pdf';
  if (/\bimage\/png\b/.test(accept)) return 'png';
  return 'zpl';
}

function send(reply: FastifyReply, printed: PrintedLabels, name: string) {
  const raw: FastifyReply = reply;
  return raw
    .type(printed.mediaType)
    .header('content-disposition', `inline; filename="${name}.${printed.format}"`)
    .header('x-label-count', String(printed.count))
    .send(printed.body);
}

export function labelRoutes(app: FastifyInstance, deps: { labels: LabelService }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { labels } = deps;
  const tags = ['labels'];

  r.get(
    '/v1/specimens/:id/label',
    {
      schema: {
        operationId: 'printSpecimenLabel',
        tags,
        summary: "A specimen's label: its barcode as DataMatrix or Code 128, type, date and box position",
        params: idParams,
        querystring: labelOptions,
        response: { 200: labelBody, ...errorResponses(403, 404) },
      },
    },
    async (req, reply) => {
      const printed = await labels.printSpecimenLabel(ctxOf(req), {
        ...req.query,
        id: req.params.id,
        format: formatOf(req, req.query.format),
      });
      return send(reply, printed, `label-${req.params.id}`);
    },
  );

  r.post(
    '/v1/labels',
    {
      schema: {
        operationId: 'printLabels',
        tags,
        summary: 'Labels for a list of specimens (e.g. the aliquots just made), in the order given',
        body: printLabelsInput,
        response: { 200: labelBody, ...errorResponses(403, 404, 413, 415) },
      },
    },
    async (req, reply) => {
      // A read: printing again is harmless, so no Idempotency-Key answer is stored.
      const printed = await labels.printLabels(ctxOf(req), {
        ...req.body,
        format: formatOf(req, req.body.format),
      });
      return send(reply, printed, 'labels');
    },
  );
}
