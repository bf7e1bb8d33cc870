import type { FastifyInstance } from 'fastify';

/** Paths whose answers carry donor or institution data: never stored by a browser or proxy. */
const API_PREFIXES = ['/v1/', '/graphql', '/fhir/'];

const isApiPath = (url: string) =>
  API_PREFIXES.some((p) => url.startsWith(p) || url === p.replace(/\/$/, '')) &&
  // /graphiql shares no prefix with /graphql, but be explicit: it is a page, not data.
  !url.startsWith('/graphiql');

/**
 * Helmet's API profile, as helmet 8 writes it with its CSP and COEP off, framing denied and no
 * referrer: no MIME sniffing, no framing, HSTS, same-origin opener and resources. A fixed set,
 * written once here: @fastify/helmet built helmet's middleware again for every request (a tenth
 * of a scan lookup's CPU, BENCHMARKS.md).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

/** What the API's own answers carry on top: not stored, and a CSP that allows nothing. */
const API_HEADERS: Readonly<Record<string, string>> = {
  ...SECURITY_HEADERS,
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
};

/**
 * Every answer gets the security headers; the API's own answers also `Cache-Control: no-store`
 * and the deny-all CSP. The swagger UI (/docs) and GraphiQL (/graphiql) are pages with their own
 * scripts and styles, so they keep the framing and sniffing protection but no CSP of ours.
 */
export function registerSecurityHeaders(app: FastifyInstance): void {
  // Callback style, one hook: no promise per request for a fixed set of headers.
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(isApiPath(request.url) ? API_HEADERS : SECURITY_HEADERS);
    done();
  });
}
