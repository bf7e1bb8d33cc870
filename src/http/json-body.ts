import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { malformedJson } from '../errors.js';

type Done = (err: Error | null, body?: unknown) => void;

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The JSON body parser of every route (REST, GraphQL, FHIR). JSON travels as UTF-8 (RFC 8259):
 * a body that is not, such as Latin-1 from an older LIS, is refused, where decoding it would have
 * stored "M\uFFFDller" for "Müller" without a word. A `__proto__` or `constructor.prototype`
 * member is refused too, saying so (it is valid JSON, just not accepted).
 */
export function strictJsonParser(app: FastifyInstance) {
  const parse = app.getDefaultJsonParser('error', 'error');
  return (request: FastifyRequest, body: Buffer, done: Done): void => {
    if (!isUtf8(body)) {
      done(malformedJson('the body is not valid UTF-8, the only encoding JSON is sent in (RFC 8259)'));
      return;
    }
    const text = body.toString('utf8');
    void parse(request, text, (err, value) => {
      // Fastify's parser says only "not valid JSON": if it is, a poisoning member was the reason.
      if (err && (err as { code?: string }).code === 'FST_ERR_CTP_INVALID_JSON_BODY' && isJson(text)) {
        done(malformedJson('a __proto__ or constructor.prototype member is refused'));
        return;
      }
      done(err, value);
    });
  };
}

/** Replaces Fastify's JSON parser by the strict one above, for `types`. */
export function useStrictJsonParser(app: FastifyInstance, types: string[]): void {
  for (const type of types) if (app.hasContentTypeParser(type)) app.removeContentTypeParser(type);
  app.addContentTypeParser(types, { parseAs: 'buffer' }, strictJsonParser(app));
}
