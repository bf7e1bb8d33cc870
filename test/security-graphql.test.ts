import { getIntrospectionQuery, parse } from 'graphql';
import type { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GqlResult } from './helpers/graphql.js';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// Issue 13, finding 1: no GraphQL request can exhaust the process. The body of /graphql is small,
// a document has a bounded number of tokens, one operation, is GraphQL text (never a JSON syntax
// tree), and only admins read the schema; subscriptions pass the same checks.

let t: TestApp;
let keys: Awaited<ReturnType<typeof makeInstitution>>['keys'];
beforeAll(async () => {
  t = await createTestApp();
  keys = (await makeInstitution(t)).keys;
});
afterAll(() => t.close());

async function post(app: TestApp, payload: unknown, token = keys.admin, contentType = 'application/json') {
  const res = await app.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { ...bearer(token), 'content-type': contentType },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
  return { res, body: res.json<GqlResult>() };
}

/** A document of `n` + 2 tokens. */
const tokens = (n: number) => `{ ${'__typename '.repeat(n)}}`;

function expectNoInternals(text: string) {
  expect(text).not.toMatch(/\n\s+at |\.(ts|js):\d+|node_modules|INTERNAL/);
}

describe('GraphQL document limits', () => {
  it('refuses a body over the GraphQL limit with 413 PAYLOAD_TOO_LARGE, while REST keeps its own', async () => {
    const query = `{ viewer { role } } # ${'x'.repeat(t.config.GRAPHQL_BODY_LIMIT_BYTES)}`;
    const { res, body } = await post(t, { query });
    expect(res.statusCode).toBe(413);
    expect(body.errors![0]!.extensions.code).toBe('PAYLOAD_TOO_LARGE');
    expect(t.config.BODY_LIMIT_BYTES).toBeGreaterThan(t.config.GRAPHQL_BODY_LIMIT_BYTES);
  });

  it('stops parsing a document with more tokens than the limit: TOO_MANY_TOKENS', async () => {
    const { res, body } = await post(t, { query: tokens(2_500) });
    expect(res.statusCode).toBe(200);
    expect(body.data).toBeNull();
    expect(body.errors![0]!.extensions.code).toBe('TOO_MANY_TOKENS');
    expect(body.errors![0]!.message).toMatch(/more than 2000 tokens/);
  });

  it('answers a document just under the token limit', async () => {
    // 200 fragments of 7 tokens and their spreads of 2: 1,806 tokens.
    const names = Array.from({ length: 200 }, (_, i) => `F${i}`);
    const query =
      `{ viewer { ${names.map((n) => `...${n}`).join(' ')} } }\n` +
      names.map((n) => `fragment ${n} on Viewer { role }`).join('\n');
    const { body } = await post(t, { query });
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({ viewer: { role: 'admin' } });
  });

  it('refuses a document holding several operations with TOO_MANY_OPERATIONS', async () => {
    const query = Array.from({ length: 50 }, (_, i) => `query q${i} { viewer { role } }`).join('\n');
    const { body } = await post(t, { query, operationName: 'q1' });
    expect(body.data).toBeNull();
    expect(body.errors![0]!.extensions.code).toBe('TOO_MANY_OPERATIONS');
    expect(body.errors![0]!.message).toMatch(/holds 50 operations/);
  });

  it('refuses a JSON syntax tree sent as the query text, valid or malformed, with a coded error', async () => {
    const valid = JSON.stringify(parse('{ viewer { role } }', { noLocation: true }));
    const malformed = JSON.stringify({ kind: 'Document', definitions: [{ kind: 'OperationDefinition' }] });
    for (const query of [valid, malformed]) {
      const { res, body } = await post(t, { query });
      expect(res.statusCode).toBe(200);
      expect(body.data).toBeNull();
      expect(body.errors![0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(body.errors![0]!.message).toMatch(/must be GraphQL text/);
      expectNoInternals(res.body);
    }
  });

  it('refuses a query that is not a string', async () => {
    const { body } = await post(t, { query: parse('{ viewer { role } }') });
    expect(body.errors![0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('introspection', () => {
  const introspection = getIntrospectionQuery();

  it('answers the schema to admin keys', async () => {
    const { body } = await post(t, { query: introspection });
    expect(body.errors).toBeUndefined();
    expect(body.data).toHaveProperty('__schema');
  });

  it('refuses every other role, also for the text an admin just sent (the verdict is not cached)', async () => {
    for (const role of ['manager', 'technician', 'partner', 'integration'] as const) {
      const { body } = await post(t, { query: introspection }, keys[role]);
      expect(body.data).toBeNull();
      expect(body.errors![0]!.extensions.code).toBe('FORBIDDEN');
      expect(body.errors![0]!.message).toBe(
        `the ${role} role may not perform introspection (__schema, __type)`,
      );
    }
    const viaFragment = await post(
      t,
      { query: 'query { ...F } fragment F on Query { __type(name: "Specimen") { name } }' },
      keys.technician,
    );
    expect(viaFragment.body.errors![0]!.extensions.code).toBe('FORBIDDEN');
  });

  it('leaves __typename to everyone', async () => {
    const { body } = await post(t, { query: '{ __typename viewer { role } }' }, keys.partner);
    expect(body.errors).toBeUndefined();
  });
});

describe('configured limits', () => {
  let strict: TestApp;
  let admin: string;
  beforeAll(async () => {
    strict = await createTestApp({
      env: { GRAPHQL_INTROSPECTION: 'off', GRAPHQL_MAX_TOKENS: '300', GRAPHQL_BODY_LIMIT_BYTES: '4096' },
    });
    admin = (await makeInstitution(strict, { roles: ['admin'] })).keys.admin;
  });
  afterAll(() => strict.close());

  it('applies GRAPHQL_INTROSPECTION=off to admins too', async () => {
    const { body } = await post(strict, { query: '{ __schema { queryType { name } } }' }, admin);
    expect(body.errors![0]!.extensions.code).toBe('FORBIDDEN');
  });

  it('applies GRAPHQL_MAX_TOKENS and GRAPHQL_BODY_LIMIT_BYTES', async () => {
    expect((await post(strict, { query: tokens(300) }, admin)).body.errors![0]!.extensions.code).toBe(
      'TOO_MANY_TOKENS',
    );
    expect((await post(strict, { query: tokens(290) }, admin)).body.errors).toBeUndefined();
    const big = await post(strict, { query: `{ viewer { role } } #${'x'.repeat(4096)}` }, admin);
    expect(big.res.statusCode).toBe(413);
  });
});

describe('subscriptions (WebSocket) pass the same checks', () => {
  interface Message {
    type: string;
    id?: string;
    payload?: unknown;
  }

  async function connect(): Promise<{
    ws: WebSocket;
    next: () => Promise<Message>;
    closed: Promise<number>;
  }> {
    const queue: Message[] = [];
    const waiting: ((m: Message) => void)[] = [];
    const ws = await t.app.injectWS('/graphql', {
      headers: { ...bearer(keys.admin), 'sec-websocket-protocol': 'graphql-transport-ws' },
    });
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as Message;
      if (m.type === 'ping' || m.type === 'pong') return;
      const w = waiting.shift();
      if (w) w(m);
      else queue.push(m);
    });
    const next = () =>
      new Promise<Message>((resolve) => {
        const m = queue.shift();
        if (m) resolve(m);
        else waiting.push(resolve);
      });
    ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    expect((await next()).type).toBe('connection_ack');
    return { ws, next, closed };
  }

  const codeOf = (m: Message) => (m.payload as { extensions?: { code?: string } }[])[0]?.extensions?.code;

  it('acknowledges a connection authenticated at the upgrade, and refuses two operations', async () => {
    const { ws, next } = await connect();
    const query = 'subscription a { x } subscription b { y }';
    ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, operationName: 'a' } }));
    const m = await next();
    expect(m.type).toBe('error');
    expect(codeOf(m)).toBe('TOO_MANY_OPERATIONS');
    ws.terminate();
  });

  it('refuses a syntax tree sent as the subscription query', async () => {
    const { ws, next } = await connect();
    const query = parse('subscription { x }', { noLocation: true });
    ws.send(JSON.stringify({ id: '2', type: 'subscribe', payload: { query } }));
    const m = await next();
    expect(m.type).toBe('error');
    expect(codeOf(m)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(m.payload)).toMatch(/must be GraphQL text/);
    ws.terminate();
  });

  it('closes the socket on a message over the GraphQL body limit (1009)', async () => {
    const { ws, closed } = await connect();
    const query = `subscription { x } # ${'x'.repeat(t.config.GRAPHQL_BODY_LIMIT_BYTES)}`;
    ws.send(JSON.stringify({ id: '3', type: 'subscribe', payload: { query } }));
    expect(await closed).toBe(1009);
  });
});
