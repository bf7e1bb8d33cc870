import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  headersTooLarge,
  malformedRequest,
  malformedUrl,
  pathParameterTooLong,
  requestTimeout,
  toProblem,
  type DomainError,
} from '../errors.js';
import { PROBLEM_CONTENT_TYPE, restErrorHandler, sendProblem } from './problem.js';

// What Fastify and Node answer on their own, before any route or error handler runs, answered as
// problem+json like every other refusal (issue 13, finding 7).

/** The longest path parameter: an id, a barcode or an external id value (120), percent-encoded. */
export const MAX_PARAM_LENGTH = 256;

/** The refusal a Fastify framework error stands for: a path that does not decode, or a parameter over the router's limit. */
export function frameworkRefusal(error: FastifyError): DomainError | undefined {
  return error.code === 'FST_ERR_BAD_URL'
    ? malformedUrl()
    : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? pathParameterTooLong(MAX_PARAM_LENGTH)
      : undefined;
}

/** Fastify's `frameworkErrors`, as problem+json. */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const domain = frameworkRefusal(error);
  if (!domain) {
    void restErrorHandler(error, request, reply);
    return;
  }
  request.log.info({ code: domain.code, status: domain.status }, domain.message);
  void sendProblem(reply, toProblem(domain, request.id));
}

/** How a refusal is written for requests whose path starts with a prefix (FHIR's OperationOutcome). */
export interface RefusalFormat {
  prefix: string;
  contentType: string;
  body: (refusal: DomainError) => unknown;
}

/**
 * Node's `clientError`: the request did not parse (headers and URL too large, a malformed request
 * line or header) or did not arrive in time. There is no request, hence no request id: the answer
 * is written on the socket, which is then closed, as Node itself does. Some paths have a format of
 * their own (FHIR's OperationOutcome), read from the start of what arrived (`GET /fhir/...`), when
 * it arrived far enough to say; every other answer is problem+json.
 */
export function clientErrorAnswer(formats: RefusalFormat[] = []) {
  return (err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const domain: DomainError =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? headersTooLarge()
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? requestTimeout()
          : malformedRequest();
    if (socket.writable) {
      const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket : undefined;
      const target = raw?.toString('latin1', 0, 256).split(' ', 2)[1] ?? '';
      const format = formats.find((f) => target.startsWith(f.prefix));
      const body = JSON.stringify(format ? format.body(domain) : toProblem(domain));
      socket.write(
        `HTTP/1.1 ${domain.status} ${domain.title}\r\nContent-Type: ${format?.contentType ?? PROBLEM_CONTENT_TYPE}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(err);
  };
}
