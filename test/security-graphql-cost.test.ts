import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'graphql';
import { queryCost } from '../src/graphql/cost.js';
import { executableSchema, type GqlResult } from './helpers/graphql.js';
import { bearer, createTestApp, makeInstitution, until, type TestApp } from './helpers/test-app.js';

// Issue 13, finding 2: a query's cost counts the objects it may return (lists by their `first`,
// or their default size, times what they select) and one over GRAPHQL_MAX_COST is refused with
// QUERY_TOO_COSTLY naming the cost and the limit, before any resolver runs.

let t: TestApp;
let keys: Awaited<ReturnType<typeof makeInstitution>>['keys'];
beforeAll(async () => {
  t = await createTestApp();
  keys = (await makeInstitution(t)).keys;
});
afterAll(() => t.close());

async function gql(app: TestApp, query: string, variables?: Record<string, unknown>) {
  const res = await app.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(keys.manager),
    payload: { query, variables },
  });
  return { res, body: res.json<GqlResult>() };
}

const page = (first: number | string) =>
  `specimens(first: ${first}) { edges { node { barcode location { path } permittedUses qcResults { outcome } } } }`;
const aliases = (n: number, field: (i: number) => string) =>
  `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field(i)}`).join(' ')} }`;

describe('GraphQL cost limit', () => {
  it('refuses 30 aliases of specimens(first: 500) with their locations and QC results: QUERY_TOO_COSTLY', async () => {
    const statements = t.logs.length;
    const { res, body } = await gql(
      t,
      aliases(30, () => page(500)),
    );
    expect(res.statusCode).toBe(200);
    expect(body.data).toBeNull();
    const error = body.errors![0]!;
    expect(error.extensions.code).toBe('QUERY_TOO_COSTLY');
    const { cost, limit } = error.extensions as unknown as { cost: number; limit: number };
    expect(limit).toBe(t.config.GRAPHQL_MAX_COST);
    expect(cost).toBeGreaterThan(limit);
    expect(error.message).toContain(`costs ${cost}, over the limit of ${limit}`);
    expect(t.logs.slice(statements).some((l) => l.level === 50)).toBe(false);
  });

  it('refuses 30 aliases of box maps with free positions', async () => {
    const box = `container(id: "00000000-0000-7000-8000-000000000000") {
      map { positions { position occupant { __typename } } } freePositions(count: 500) { position } }`;
    const { body } = await gql(
      t,
      aliases(30, () => box),
    );
    expect(body.errors![0]!.extensions.code).toBe('QUERY_TOO_COSTLY');
  });

  it('counts a page size sent as a variable, and the default page when none is sent', async () => {
    const query = `query($n: Int) { ${page('$n')} }`;
    const big = await gql(t, query, { n: 100_000 });
    expect(big.body.errors![0]!.extensions.code).toBe('QUERY_TOO_COSTLY');
    const small = await gql(t, query, { n: 10 });
    expect(small.body.errors).toBeUndefined();
    const schema = await executableSchema(t);
    const byDefault = queryCost(
      schema,
      parse(`{ specimens { edges { node { barcode location { path } } } } }`),
    );
    const fifty = queryCost(
      schema,
      parse(`{ specimens(first: 50) { edges { node { barcode location { path } } } } }`),
    );
    expect(byDefault).toBe(fifty);
    // specimens, edges, node and location: 50 each.
    expect(fifty).toBe(200);
  });

  it('multiplies nested lists and counts fragments where they are spread', async () => {
    const schema = await executableSchema(t);
    const flat = queryCost(schema, parse(`{ specimens(first: 10) { edges { node { barcode } } } }`));
    const nested = queryCost(
      schema,
      parse(
        `{ specimens(first: 10) { edges { node { ...F } } } } fragment F on Specimen { children { qcResults { outcome } } }`,
      ),
    );
    // 10 children lists of 20, each with 20 QC results.
    expect(nested - flat).toBe(10 * 20 + 10 * 20 * 20);
    expect(queryCost(schema, parse('{ __schema { types { name fields { name } } } }'))).toBe(0);
  });

  it('answers an ordinary page under the default limit', async () => {
    const { body } = await gql(t, `{ ${page(100)} }`);
    expect(body.errors).toBeUndefined();
  });

  it('takes its limit from GRAPHQL_MAX_COST', async () => {
    const small = await createTestApp({ env: { GRAPHQL_MAX_COST: '150' } });
    try {
      const own = (await makeInstitution(small, { roles: ['manager'] })).keys;
      const res = await small.app.inject({
        method: 'POST',
        url: '/graphql',
        headers: bearer(own.manager),
        payload: { query: `{ specimens(first: 50) { edges { node { barcode location { path } } } } }` },
      });
      const error = res.json<GqlResult>().errors![0]!;
      expect(error.extensions.code).toBe('QUERY_TOO_COSTLY');
      expect(error.message).toContain('costs 200, over the limit of 150');
    } finally {
      await small.close();
    }
  });

  it('runs at most GRAPHQL_COST_IN_FLIGHT of cost at once: the rest waits, then 503 SERVER_BUSY', async () => {
    const busy = await createTestApp({ env: { GRAPHQL_COST_IN_FLIGHT: '300', GRAPHQL_COST_WAIT_MS: '0' } });
    try {
      const own = (await makeInstitution(busy, { roles: ['manager'] })).keys;
      const send = () =>
        busy.app.inject({
          method: 'POST',
          url: '/graphql',
          headers: bearer(own.manager),
          payload: { query: `{ specimens(first: 50) { edges { node { barcode location { path } } } } }` },
        });
      expect((await send()).statusCode).toBe(200);
      // The first query holds its room while PostgreSQL keeps it waiting on a lock.
      const lock = await busy.sql.connect();
      await lock.query('begin');
      await lock.query('lock table specimen in access exclusive mode');
      let first: ReturnType<typeof send> | undefined;
      try {
        first = send();
        await until(async () => {
          const { rows } = await busy.sql.query(
            "select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
          );
          return rows.length > 0;
        });
        const refused = await send();
        expect(refused.statusCode).toBe(503);
        expect(refused.headers['retry-after']).toBe('1');
        expect(refused.json<GqlResult>().errors![0]!.extensions.code).toBe('SERVER_BUSY');
      } finally {
        await lock.query('commit');
        lock.release();
      }
      expect((await first).statusCode).toBe(200);
      // The answer gave its room back.
      expect((await send()).statusCode).toBe(200);
      // A cheap query never waits.
      const cheap = await busy.app.inject({
        method: 'POST',
        url: '/graphql',
        headers: bearer(own.manager),
        payload: { query: '{ viewer { role } }' },
      });
      expect(cheap.statusCode).toBe(200);
    } finally {
      await busy.close();
    }
  });
});
