import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// Issue 13, finding 7: what Fastify and Node answer on their own (a path that does not decode, a
// path parameter over the router's limit, a URL and headers over Node's limit, a request that does
// not parse, a route that does not exist, a draining server) is problem+json like every refusal.

let t: TestApp;
let key: string;
let port: number;
beforeAll(async () => {
  t = await createTestApp();
  key = (await makeInstitution(t, { roles: ['admin'] })).keys.admin;
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.server.address() as AddressInfo).port;
});
afterAll(() => t.close());

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** Sends `head` (request line and headers) on a fresh socket and parses what comes back. */
function raw(requestLine: string, headers: Record<string, string> = {}, body = ''): Promise<RawAnswer> {
  const head = Object.entries({ host: 'localhost', connection: 'close', ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${requestLine}\r\n${head}\r\n${body}`));
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', () => {
      const [top = '', text = ''] = out.split('\r\n\r\n');
      const [statusLine, ...lines] = top.split('\r\n');
      resolve({
        status: Number(statusLine?.split(' ')[1]),
        headers: Object.fromEntries(
          lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
        ),
        body: JSON.parse(text) as Record<string, unknown>,
      });
    });
  });
}

function expectProblem(answer: RawAnswer, status: number, code: string) {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(answer.body).toMatchObject({ status, code });
  expect(String(answer.body.type)).toMatch(/^https:\/\/biobank\.dev\/problems\//);
  expect(JSON.stringify(answer.body)).not.toMatch(/FST_ERR|statusCode/);
}

describe("Fastify's and Node's own refusals", () => {
  it('answers a path parameter over the limit with 414 PATH_PARAMETER_TOO_LONG', async () => {
    const res = await raw(`GET /v1/specimens/by-barcode/${'x'.repeat(300)} HTTP/1.1`, bearer(key));
    expectProblem(res, 414, 'PATH_PARAMETER_TOO_LONG');
    expect(res.body.requestId).toEqual(expect.any(String));
  });

  it('keeps path parameters of 120 characters (an external id value) routable', async () => {
    const res = await raw(`GET /v1/specimens/by-barcode/${'x'.repeat(120)} HTTP/1.1`, bearer(key));
    expect(res.status).toBe(400); // the barcode schema's refusal, not the router's
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });

  it('answers bad percent-encoding with 400 MALFORMED_URL, under /v1 and elsewhere', async () => {
    expectProblem(await raw('GET /v1/specimens/%E0%A4%A HTTP/1.1', bearer(key)), 400, 'MALFORMED_URL');
    expectProblem(await raw('GET /health/%E0%A4%A HTTP/1.1'), 400, 'MALFORMED_URL');
  });

  it('answers a URL longer than the header limit with 431 HEADERS_TOO_LARGE', async () => {
    const res = await raw(`GET /v1/specimens?cursor=${'a'.repeat(20_000)} HTTP/1.1`, bearer(key));
    expectProblem(res, 431, 'HEADERS_TOO_LARGE');
  });

  it('answers the same refusals under /fhir as OperationOutcome, never problem+json', async () => {
    const cases: [RawAnswer, number, string][] = [
      [await raw('GET /fhir/R4/Specimen/%ZZ HTTP/1.1', bearer(key)), 400, 'MALFORMED_URL'],
      [
        await raw(`GET /fhir/R4/Specimen/${'x'.repeat(300)} HTTP/1.1`, bearer(key)),
        414,
        'PATH_PARAMETER_TOO_LONG',
      ],
      [
        await raw(`GET /fhir/R4/Specimen?identifier=urn:oid:1.2|${'a'.repeat(20_000)} HTTP/1.1`, bearer(key)),
        431,
        'HEADERS_TOO_LARGE',
      ],
    ];
    for (const [answer, status, code] of cases) {
      expect(answer.status).toBe(status);
      expect(answer.headers['content-type']).toMatch(/^application\/fhir\+json/);
      expect(answer.body).toMatchObject({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', details: { coding: [expect.objectContaining({ code })] } }],
      });
    }
  });

  it('answers a request that does not parse with 400 MALFORMED_REQUEST', async () => {
    expectProblem(
      await raw('GET /v1/specimens HTTP/1.1', { 'content-length': 'abc' }),
      400,
      'MALFORMED_REQUEST',
    );
    expectProblem(await raw('BREW /v1/specimens HTTP/1.1'), 400, 'MALFORMED_REQUEST');
  });

  it('answers an unknown route, a body too large and one not JSON as problem+json', async () => {
    expectProblem(await raw('GET /nowhere HTTP/1.1'), 404, 'ROUTE_NOT_FOUND');
    const tooLarge = await raw(
      'POST /v1/specimens HTTP/1.1',
      {
        ...bearer(key),
        'content-type': 'application/json',
        'content-length': String(t.config.BODY_LIMIT_BYTES + 1),
      },
      '{}',
    );
    expectProblem(tooLarge, 413, 'PAYLOAD_TOO_LARGE');
    const xml = await raw(
      'POST /v1/specimens HTTP/1.1',
      { ...bearer(key), 'content-type': 'text/xml', 'content-length': '4' },
      '<a/>',
    );
    expectProblem(xml, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('a draining server', () => {
  it('answers a request arriving while it closes with 503 SHUTTING_DOWN as problem+json', async () => {
    const other = await createTestApp();
    let closing: Promise<void> | undefined;
    try {
      closing = other.app.close();
      const res = await other.app.inject({ method: 'GET', url: '/health/live' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ code: 'SHUTTING_DOWN', status: 503 });
      expect(res.headers.connection).toBe('close');
    } finally {
      await closing;
      await other.close();
    }
  });
});
