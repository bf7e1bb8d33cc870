import { useStrictJsonParser } from '../../http/json-body.js';
import { frameworkRefusal, type RefusalFormat } from '../../http/framework-errors.js';
// HL7 FHIR R4 under /fhir/R4: the CapabilityStatement, Specimen read, vread, search and update.
// Register with the prefix `/fhir` (FHIR_MOUNT), so every answer under /fhir, an unknown route's
// too, is FHIR. The routes are left out of the OpenAPI document (the
// CapabilityStatement describes them); answers are application/fhir+json, errors OperationOutcome.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyService } from '../../auth/api-keys.service.js';
import { methodNotAllowed, routeNotFound, validationFailed } from '../../errors.js';
import { preconditionVersion } from '../../http/etag.js';
import { asDomainError } from '../../http/problem.js';
import { refuseUnstorableText } from '../../http/storable-text.js';
import { authenticateHook, ctxOf } from '../../http/request-context.js';
import type { SpecimenView } from '../specimens/index.js';
import { capabilityStatement } from './fhir.capability.js';
import { toFhirSpecimen, toSearchBundle, type BundleLink } from './fhir.dto.js';
import { fhirStatusOf, internalOutcome, toOperationOutcome } from './fhir.outcome.js';
import { assertAcceptsFhirJson } from './fhir.accept.js';
import { checkReadParameters, parseSpecimenSearch, splitEscaped } from './fhir.search.js';
import { classifyIdentifier } from './fhir-specimen.input.js';
import type { FhirService, UpdateTarget } from './fhir.service.js';
import { FHIR_CONTENT_TYPE } from './fhir.vocabulary.js';

/** Where the plugin is mounted; the R4 base is below it. */
export const FHIR_MOUNT = '/fhir';
const R4 = '/R4';
export const FHIR_PREFIX = `${FHIR_MOUNT}${R4}`;

type Query = Record<string, string | string[] | undefined>;

/** The absolute FHIR base URL as the client reached it (links and fullUrl are absolute). */
const baseOf = (request: FastifyRequest) => `${request.protocol}://${request.host}${FHIR_PREFIX}`;

function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type(FHIR_CONTENT_TYPE).send(JSON.stringify(body));
}

/** Answers one specimen with its version headers (ETag for If-Match, Last-Modified). */
function sendSpecimen(reply: FastifyReply, status: number, view: SpecimenView) {
  reply.header('etag', `W/"${view.row.version}"`).header('last-modified', view.row.updatedAt.toUTCString());
  return send(reply, status, toFhirSpecimen(view));
}

/** The one error handler under /fhir: DomainErrors as OperationOutcome, bugs as a bare 500. */
function fhirErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const domain = asDomainError(err);
  if (!domain) {
    request.log.error({ err }, 'unhandled error');
    return send(reply, 500, internalOutcome(request.id));
  }
  if (domain.status >= 500) request.log.error({ err }, domain.message);
  else request.log.info({ code: domain.code, status: domain.status }, domain.message);
  if (domain.status === 401) reply.header('www-authenticate', 'Bearer');
  return send(reply, fhirStatusOf(domain), toOperationOutcome(domain, request.id));
}

/** Fastify's framework errors (a path that does not decode, a parameter too long) under /fhir. */
export function fhirFrameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void fhirErrorHandler(frameworkRefusal(error) ?? error, request, reply);
}

/** What Node refuses before there is a request (headers or URL too large), under /fhir. */
export const fhirRefusalFormat: RefusalFormat = {
  prefix: `${FHIR_MOUNT}/`,
  contentType: FHIR_CONTENT_TYPE,
  body: (refusal) => toOperationOutcome(refusal, 'not read: it did not parse'),
};

/** The conditional update's `identifier=system|value`: exactly one, with a system. */
function updateTarget(query: Query): UpdateTarget {
  const { identifier: raw, ...rest } = query;
  checkReadParameters(rest);
  if (typeof raw !== 'string')
    throw validationFailed([
      {
        field: 'identifier',
        message: 'a conditional update names the specimen by one identifier=system|value',
      },
    ]);
  const parts = splitEscaped(raw, '|');
  const t = parts.length === 2 && parts[0] && parts[1] ? classifyIdentifier(parts[0], parts[1]) : null;
  if (t === null || typeof t === 'string')
    throw validationFailed([{ field: 'identifier', message: t ?? `${raw} is not system|value` }]);
  return { identifier: t };
}

/** What a Specimen URL takes (the CapabilityStatement's interactions). */
const SPECIMEN_METHODS = ['GET', 'HEAD', 'PUT'] as const;

export function fhirRoutes(deps: { apiKeys: ApiKeyService; fhir: FhirService }) {
  const { apiKeys, fhir } = deps;
  return async (app: FastifyInstance) => {
    // application/fhir+json (and the older application/json+fhir) parse as JSON; text is refused (415).
    app.removeContentTypeParser('text/plain');
    useStrictJsonParser(app, ['application/fhir+json', 'application/json+fhir']);
    app.setErrorHandler(fhirErrorHandler);
    app.setNotFoundHandler((request, reply) =>
      fhirErrorHandler(routeNotFound(request.method, request.url.split('?')[0] ?? ''), request, reply),
    );

    // A client that reads no JSON (XML, Turtle) hears so before anything else, even the metadata.
    app.addHook('onRequest', async (request) => assertAcceptsFhirJson(request.headers.accept));

    // Public, as FHIR clients discover a server by it before they hold credentials.
    app.get(`${R4}/metadata`, { schema: { hide: true } }, async (request, reply) => {
      checkReadParameters(request.query as Query);
      return send(reply, 200, capabilityStatement(baseOf(request)));
    });

    // Interactions FHIR defines that this server does not take (create by POST, delete, patch,
    // search by POST): 405 with Allow, so a client never reads "not found" as "no such specimen".
    const notSupported = (request: FastifyRequest, reply: FastifyReply) => {
      reply.header('allow', SPECIMEN_METHODS.join(', '));
      throw methodNotAllowed(request.method, request.url.split('?')[0] ?? '', SPECIMEN_METHODS);
    };
    for (const url of [`${R4}/Specimen`, `${R4}/Specimen/:id`])
      app.route({ method: ['POST', 'DELETE', 'PATCH'], url, schema: { hide: true }, handler: notSupported });

    await app.register(async (api) => {
      api.addHook('onRequest', authenticateHook(apiKeys));
      // As for REST: a NUL or lone surrogate anywhere in a path, search parameter or resource is a 400.
      api.addHook('preValidation', refuseUnstorableText);

      api.get<{ Params: { id: string } }>(
        `${R4}/Specimen/:id`,
        { schema: { hide: true } },
        async (request, reply) => {
          checkReadParameters(request.query as Query);
          return sendSpecimen(reply, 200, await fhir.readFhirSpecimen(ctxOf(request), request.params.id));
        },
      );

      api.get<{ Params: { id: string; vid: string } }>(
        `${R4}/Specimen/:id/_history/:vid`,
        { schema: { hide: true } },
        async (request, reply) => {
          checkReadParameters(request.query as Query);
          const { id, vid } = request.params;
          return sendSpecimen(reply, 200, await fhir.readFhirSpecimen(ctxOf(request), id, vid));
        },
      );

      api.get(`${R4}/Specimen`, { schema: { hide: true } }, async (request, reply) => {
        const q = parseSpecimenSearch(request.query as Query);
        const page = await fhir.searchFhirSpecimens(ctxOf(request), q);
        const base = baseOf(request);
        // The links say what was answered: the filters, then the page size or the count alone.
        // The next page leaves the total out: every page would count every match again.
        const link = (cursor: string | undefined, total: boolean) => {
          const params = new URLSearchParams(q.filters);
          if (q.answer === 'count') params.set('_summary', 'count');
          else {
            params.set('_count', String(q.count));
            if (total) params.set('_total', 'accurate');
          }
          if (cursor !== undefined) params.set('_cursor', cursor);
          return `${base}/Specimen?${params.toString()}`;
        };
        const links: BundleLink[] = [{ relation: 'self', url: link(q.cursor, q.answer === 'page+total') }];
        if (page.nextCursor) links.push({ relation: 'next', url: link(page.nextCursor, false) });
        return send(reply, 200, toSearchBundle(base, page, links, new Date()));
      });

      const update = async (request: FastifyRequest, reply: FastifyReply, target: UpdateTarget) => {
        const ifMatch = request.headers['if-match'];
        const { view, created } = await fhir.updateFhirSpecimen(ctxOf(request), {
          target,
          resource: request.body,
          ...(ifMatch !== undefined ? { expectedVersion: preconditionVersion(ifMatch) } : {}),
        });
        if (created)
          reply.header('location', `${baseOf(request)}/Specimen/${view.row.id}/_history/${view.row.version}`);
        return sendSpecimen(reply, created ? 201 : 200, view);
      };
      api.put(`${R4}/Specimen`, { schema: { hide: true } }, (request, reply) =>
        update(request, reply, updateTarget(request.query as Query)),
      );
      api.put<{ Params: { id: string } }>(
        `${R4}/Specimen/:id`,
        { schema: { hide: true } },
        (request, reply) => {
          checkReadParameters(request.query as Query);
          return update(request, reply, { id: request.params.id });
        },
      );
    });
  };
}
