// GraphiQL served by this server from the npm packages it depends on (graphiql, react, react-dom),
// never from a CDN: hospital networks are often closed, and the IDE must work there. The page loads
// only same-origin files, which its Content-Security-Policy enforces too.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BrowserSessions } from './browser-session.js';

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

/**
 * Starts the IDE: the query from `?query=` if any. Signed in, calls carry the session's CSRF token
 * (the cookie goes by itself); otherwise the key goes in an editable Authorization header.
 * Subscriptions go over a WebSocket to the same /graphql (ws: or wss: as the page): the cookie goes
 * with its upgrade, or GraphiQL puts the editor's headers, the key, in connection_init.
 */
const START = `'use strict';
(function () {
  var params = new URLSearchParams(location.search);
  var csrf = document.querySelector('meta[name="biobank-csrf"]');
  var headers = csrf ? { 'x-csrf-token': csrf.getAttribute('content') } : {};
  var fetcher = GraphiQL.createFetcher({
    url: location.origin + '/graphql',
    subscriptionUrl: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/graphql',
    headers: headers,
  });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      // A ?query= link wins over the tabs GraphiQL kept from an earlier visit (defaultQuery alone
      // applies only when none were kept).
      query: params.get('query') || undefined,
      defaultQuery: params.get('query') || 'query Viewer {\\n  viewer {\\n    role\\n    institution { code name }\\n  }\\n}\\n',
      defaultHeaders: csrf ? '' : '{\\n  "Authorization": "Bearer bbk_..."\\n}',
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: false,
    }),
  );
})();
`;

const page = (csrf: string | null) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>biobank GraphiQL</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/graphiql/assets/graphiql.css">
${csrf ? `<meta name="biobank-csrf" content="${csrf}">` : ''}
<style>html, body { height: 100%; margin: 0; } #graphiql { height: calc(100% - 2rem); }
#session { height: 2rem; display: flex; gap: 1rem; align-items: center; padding: 0 1rem; font: 13px sans-serif; }</style>
</head>
<body>
<div id="session">${
  csrf
    ? '<span>Signed in</span><form method="post" action="/sign-out"><button type="submit">Sign out</button></form>'
    : '<a href="/sign-in?next=/graphiql">Sign in with an API key</a><span>or send it in the Authorization header below</span>'
}</div>
<div id="graphiql">Loading GraphiQL…</div>
<script src="/graphiql/assets/react.js"></script>
<script src="/graphiql/assets/react-dom.js"></script>
<script src="/graphiql/assets/graphiql.js"></script>
<script src="/graphiql/assets/start.js"></script>
</body>
</html>
`;

/** Same origin only; GraphiQL's styles are inline and its fonts data: URLs. */
const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; " +
  "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

interface Asset {
  type: string;
  body: string | Buffer;
}

function loadAssets(): Record<string, Asset> {
  const js = 'text/javascript; charset=utf-8';
  const file = (pkg: string, path: string) => readFileSync(join(packageDir(pkg), path));
  return {
    'react.js': { type: js, body: file('react', 'umd/react.production.min.js') },
    'react-dom.js': { type: js, body: file('react-dom', 'umd/react-dom.production.min.js') },
    'graphiql.js': { type: js, body: file('graphiql', 'graphiql.min.js') },
    'graphiql.css': { type: 'text/css; charset=utf-8', body: file('graphiql', 'graphiql.min.css') },
    'start.js': { type: js, body: START },
  };
}

/** `/graphiql` and its assets; read once at start-up (about 2.5 MB). */
export function graphiqlRoutes(app: FastifyInstance, sessions: Pick<BrowserSessions, 'csrfTokenOf'>): void {
  const assets = loadAssets();
  app.get('/graphiql', { schema: { hide: true } }, (req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', PAGE_POLICY)
      // Its sign-out form is checked by its Origin, which `no-referrer` would send as `null`.
      .header('referrer-policy', 'same-origin')
      .header('cache-control', 'no-store')
      .send(page(sessions.csrfTokenOf(req))),
  );
  app.get<{ Params: { file: string } }>(
    '/graphiql/assets/:file',
    { schema: { hide: true } },
    (req, reply) => {
      const asset = Object.hasOwn(assets, req.params.file) ? assets[req.params.file] : undefined;
      if (!asset) return reply.callNotFound();
      return reply.type(asset.type).header('cache-control', 'public, max-age=3600').send(asset.body);
    },
  );
}
