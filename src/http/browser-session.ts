// Browser sign-in for the pages a person opens by URL (/graphiql, /admin/queues), which cannot send
// a Bearer header. A person pastes an API key once; the server answers a short-lived session
// cookie: HttpOnly, SameSite=Strict, Secure over https, holding the key sealed with AES-256-GCM
// under a key derived from BIOBANK_SECRET. Each request opens it and authenticates the key as a
// Bearer call would (a revoked or expired key ends the session). API calls keep Bearer keys.
//
// CSRF: the forms (sign-in, sign-out) must come from this origin (Origin header); a write
// authenticated by the cookie (POST /graphql from GraphiQL, a queue board action) must carry
// `x-csrf-token`, an HMAC of the session the GraphiQL page is given and another site cannot read.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyActor } from '../auth/roles.js';
import type { ApiKeyService } from '../auth/api-keys.service.js';
import { forbidden, unauthenticated } from '../errors.js';

export const SESSION_COOKIE = 'biobank_session';
export const CSRF_HEADER = 'x-csrf-token';
/** Where a signed-in person may be sent back to: the browser pages, nothing else (no open redirect). */
const RETURN_TO = ['/graphiql', '/admin/queues'] as const;

export interface BrowserSessions {
  /** The actor of the request's session cookie, or null when there is none. Throws UNAUTHENTICATED. */
  actorOf(request: FastifyRequest): Promise<ApiKeyActor | null>;
  /** The CSRF token of the request's session, or null. */
  csrfTokenOf(request: FastifyRequest): string | null;
  /**
   * Throws FORBIDDEN unless a cookie-authenticated write carries its CSRF token, or a
   * cookie-authenticated WebSocket comes from our own origin.
   */
  assertCsrf(request: FastifyRequest): void;
}

export function browserSessions(deps: {
  apiKeys: Pick<ApiKeyService, 'authenticate'>;
  secret: string;
  ttlMinutes: number;
  clock?: () => Date;
}): BrowserSessions & { routes: (app: FastifyInstance) => Promise<void> } {
  const clock = deps.clock ?? (() => new Date());
  const sealKey = createHash('sha256').update(`biobank browser session\0${deps.secret}`).digest();
  const csrfKey = createHash('sha256').update(`biobank csrf\0${deps.secret}`).digest();

  const seal = (token: string, expiresAt: number) => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', sealKey, iv);
    const body = Buffer.concat([
      cipher.update(JSON.stringify({ t: token, e: expiresAt }), 'utf8'),
      cipher.final(),
    ]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  };
  const open = (value: string): { token: string; expiresAt: number } | null => {
    try {
      const raw = Buffer.from(value, 'base64url');
      if (raw.length < 29) return null;
      const decipher = createDecipheriv('aes-256-gcm', sealKey, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      const parsed = JSON.parse(text) as { t?: unknown; e?: unknown };
      if (typeof parsed.t !== 'string' || typeof parsed.e !== 'number') return null;
      return { token: parsed.t, expiresAt: parsed.e };
    } catch {
      return null; // tampered, truncated or sealed under another secret
    }
  };
  const cookieOf = (request: FastifyRequest): string | null => {
    for (const part of (request.headers.cookie ?? '').split(';')) {
      const [name, ...rest] = part.trim().split('=');
      if (name === SESSION_COOKIE) return rest.join('=') || null;
    }
    return null;
  };
  const csrfFor = (sessionValue: string) =>
    createHmac('sha256', csrfKey).update(sessionValue).digest('base64url');
  const sameOrigin = (request: FastifyRequest) =>
    request.headers.origin === `${request.protocol}://${request.headers.host ?? ''}`;

  const setCookie = (request: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number) => {
    const secure = request.protocol === 'https' ? '; Secure' : '';
    reply.header(
      'set-cookie',
      `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure}`,
    );
  };

  const sessions: BrowserSessions = {
    async actorOf(request) {
      const value = cookieOf(request);
      if (!value) return null;
      const session = open(value);
      if (!session || session.expiresAt <= clock().getTime()) throw unauthenticated();
      return deps.apiKeys.authenticate(session.token);
    },
    csrfTokenOf(request) {
      const value = cookieOf(request);
      return value && open(value) ? csrfFor(value) : null;
    },
    assertCsrf(request) {
      // A WebSocket carries no header of its own: its Origin is the check (cross-site WebSocket
      // hijacking), which browsers always send and another site cannot set.
      if (request.headers.upgrade?.toLowerCase() === 'websocket') {
        if (!sameOrigin(request)) throw forbidden('a browser session', 'a WebSocket from another origin');
        return;
      }
      if (request.method === 'GET' || request.method === 'HEAD') return;
      const value = cookieOf(request);
      const sent = request.headers[CSRF_HEADER];
      const expected = value ? Buffer.from(csrfFor(value)) : null;
      const given = typeof sent === 'string' ? Buffer.from(sent) : null;
      if (!expected || !given || given.length !== expected.length || !timingSafeEqual(given, expected))
        throw forbidden('a browser session', `${request.method} without its ${CSRF_HEADER} header`);
    },
  };

  const page = (title: string, body: string) =>
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"></head>` +
    `<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto">${body}</body></html>`;
  const PAGE_POLICY =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
  // The forms' POSTs are checked by their Origin, which a browser sends as `null` under the API's
  // `Referrer-Policy: no-referrer`: these pages say `same-origin` (nothing leaves the origin either).
  const REFERRER_POLICY = 'same-origin';
  const returnTo = (value: unknown) =>
    (RETURN_TO as readonly string[]).includes(String(value)) ? String(value) : RETURN_TO[0];

  async function routes(app: FastifyInstance) {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
      done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    const signInForm = (next: string, message = '') =>
      page(
        'Sign in',
        `<h1>biobank: sign in</h1>${message}<form method="post" action="/sign-in">` +
          `<p><label>API key<br><input name="apiKey" type="password" autocomplete="off" required size="50"></label></p>` +
          `<input type="hidden" name="next" value="${next}">` +
          `<p><button type="submit">Sign in</button></p></form>` +
          `<p>The key stays on the server side of a session cookie for ${deps.ttlMinutes} minutes; ` +
          `sign out on a shared computer.</p>` +
          `<form method="post" action="/sign-out"><button type="submit">Sign out</button></form>`,
      );

    app.get<{ Querystring: { next?: string } }>('/sign-in', { schema: { hide: true } }, (req, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', PAGE_POLICY)
        .header('referrer-policy', REFERRER_POLICY)
        .send(signInForm(returnTo(req.query.next))),
    );

    app.post<{ Body: { apiKey?: string; next?: string } }>(
      '/sign-in',
      { schema: { hide: true } },
      async (req, reply) => {
        if (!sameOrigin(req)) throw forbidden('a form from another site', 'sign-in');
        const next = returnTo(req.body?.next);
        const token = String(req.body?.apiKey ?? '').trim();
        try {
          await deps.apiKeys.authenticate(token);
        } catch {
          return reply
            .code(401)
            .type('text/html; charset=utf-8')
            .header('content-security-policy', PAGE_POLICY)
            .header('referrer-policy', REFERRER_POLICY)
            .send(signInForm(next, '<p role="alert">That key was not accepted.</p>'));
        }
        const seconds = deps.ttlMinutes * 60;
        setCookie(req, reply, seal(token, clock().getTime() + seconds * 1000), seconds);
        return reply.code(303).header('location', next).send();
      },
    );

    app.post('/sign-out', { schema: { hide: true } }, async (req, reply) => {
      if (!sameOrigin(req)) throw forbidden('a form from another site', 'sign-out');
      setCookie(req, reply, '', 0);
      return reply.code(303).header('location', '/sign-in').send();
    });
  }

  return { ...sessions, routes };
}
