import type { FastifyInstance } from 'fastify';
import fastifyHelmet from '@fastify/helmet';

/** Paths whose answers carry donor or institution data: never stored by a browser or proxy. */
const API_PREFIXES = ['/v1/', '/graphql', '/fhir/'];

const isApiPath = (url: string) =>
  API_PREFIXES.some((p) => url.startsWith(p) || url === p.replace(/\/$/, '')) &&
  // /graphiql shares no prefix with /graphql, but be explicit: it is a page, not data.
  !url.startsWith('/graphiql');

/**
 * Helmet's API profile: no MIME sniffing, no referrer, no framing, HSTS. The API's own answers
 * get `Cache-Control: no-store` and a CSP that allows nothing; the swagger UI (/docs) and
 * GraphiQL (/graphiql) are pages with their own scripts and styles, so they keep the framing
 * and sniffing protection but no CSP of ours.
 */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(fastifyHelmet, {
    global: true,
    contentSecurityPolicy: false,
    crossOriginEmbedderPolicy: false,
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
  // Callback style: no promise per request for two headers.
  app.addHook('onRequest', (request, reply, done) => {
    if (isApiPath(request.url)) {
      reply.header('cache-control', 'no-store');
      reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    }
    done();
  });
}
