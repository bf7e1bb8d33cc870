import { validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/test-app.js';

// The OpenAPI document is the REST contract (STYLE.md rule 13): valid OpenAPI 3.1, and every
// operation named, tagged, summarised and listing its errors.

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

interface Operation {
  operationId?: string;
  tags?: string[];
  summary?: string;
  responses?: Record<string, { content?: Record<string, unknown> }>;
  security?: unknown[];
}
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

async function fetchDoc(): Promise<Doc> {
  const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.json<Doc>();
}

function operations(doc: Doc): [string, Operation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]),
  );
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const doc = await fetchDoc();
    expect(doc.openapi).toMatch(/^3\.1\./);
    // validate() dereferences in place: give it a copy.
    const result = await validate(structuredClone(doc) as never);
    expect(result.valid ? [] : result.errors.map((e) => e.message)).toEqual([]);
    expect(result.specification).toBe('OpenAPI');
  });

  // The FHIR routes under /fhir/R4 are described by their CapabilityStatement (GET /fhir/R4/metadata).
  it('describes only the REST API under /v1 (no health, metrics, docs, GraphQL or FHIR routes)', async () => {
    const doc = await fetchDoc();
    const paths = Object.keys(doc.paths);
    expect(paths.length).toBeGreaterThan(0);
    expect(paths.filter((p) => !p.startsWith('/v1/'))).toEqual([]);
    expect(paths).toEqual(
      expect.arrayContaining(['/v1/institutions', '/v1/institutions/{id}', '/v1/api-keys']),
    );
  });

  it('gives every operation an operationId, tags, a summary and the 400, 401 and 503 problems', async () => {
    const doc = await fetchDoc();
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThan(5);
    const incomplete: string[] = [];
    for (const [name, op] of ops) {
      const problems = [
        !op.operationId && 'operationId',
        !op.tags?.length && 'tags',
        !op.summary && 'summary',
        !op.responses?.['400'] && '400',
        !op.responses?.['401'] && '401',
        !op.responses?.['503'] && '503',
        !Object.keys(op.responses ?? {}).some((s) => /^2\d\d$/.test(s)) && 'a 2xx response',
      ].filter(Boolean);
      if (problems.length) incomplete.push(`${name}: ${problems.join(', ')}`);
    }
    expect(incomplete).toEqual([]);
  });

  it('uses each operationId once', async () => {
    const ids = operations(await fetchDoc()).map(([, op]) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('declares bearer authentication for the whole API', async () => {
    const doc = (await fetchDoc()) as Doc & {
      components: { securitySchemes: Record<string, { type: string; scheme?: string }> };
      security: Record<string, unknown>[];
    };
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ apiKey: [] }]);
  });
});

describe('GET /docs', () => {
  it('answers 200 with the interactive HTML documentation', async () => {
    let res = await t.app.inject({ method: 'GET', url: '/docs' });
    for (let hops = 0; hops < 3 && res.statusCode >= 300 && res.statusCode < 400; hops++) {
      res = await t.app.inject({ method: 'GET', url: String(res.headers.location) });
    }
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/<html/i);
  });

  it('serves its JSON document equal to /openapi.json', async () => {
    const docs = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(docs.statusCode).toBe(200);
    expect(docs.json()).toEqual(await fetchDoc());
  });
});
