import { AsyncLocalStorage } from 'node:async_hooks';
import Fastify from 'fastify';
import {
  Kind,
  type GraphQLEnumType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import pg from 'pg';
import { expect } from 'vitest';
import { registerGraphql } from '../../src/graphql/graphql.js';
import { bearer, json, type TestApp } from './test-app.js';

// Shared by the GraphQL test files: requests to /graphql and REST next to them, the executable
// schema and its types, and counting the SQL statements a query sends.

export interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions: { code: string; status?: number; errors?: { field: string; message: string }[] };
}
export interface GqlResult<D = Record<string, unknown>> {
  data: D | null;
  errors?: GqlError[];
}

/**
 * Requests against the app of `app()` with `token()` unless another token is given; both are
 * read at each call, so they may name variables a beforeAll assigns.
 */
export function graphqlRequests(app: () => TestApp, token: () => string) {
  async function gql<D = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    as: string = token(),
  ) {
    const res = await app().app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(as),
      payload: { query, ...(variables ? { variables } : {}) },
    });
    expect(res.statusCode).toBe(200);
    return json<GqlResult<D>>(res);
  }

  /** A query that must succeed: its data. */
  async function ok<D = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    as?: string,
  ) {
    const body = await gql<D>(query, variables, as);
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    return body.data!;
  }

  /** The one error of a refused operation. */
  async function refusal(query: string, variables?: Record<string, unknown>, as?: string) {
    const body = await gql(query, variables, as);
    expect(body.errors, JSON.stringify(body.data)).toHaveLength(1);
    return body.errors![0]!;
  }

  /** A REST request that must succeed: its body. */
  async function rest<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    payload?: unknown,
    as: string = token(),
  ) {
    const res = await app().app.inject({
      method,
      url,
      headers: bearer(as),
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
    expect(res.statusCode, res.body).toBeLessThan(300);
    return json<T>(res);
  }

  return { gql, ok, refusal, rest };
}

/** The executable schema, registered exactly as the app does (there it lives in a child context). */
export async function executableSchema(t: TestApp): Promise<GraphQLSchema> {
  const bare = Fastify();
  await registerGraphql(bare, {
    db: t.c.db,
    services: t.c.services,
    events: t.c.events,
    idempotencyWaitMs: t.c.config.IDEMPOTENCY_WAIT_MS,
  });
  await bare.ready();
  const schema = bare.graphql.schema;
  await bare.close();
  return schema;
}

// Mercurius loads graphql's CommonJS build and the tests its ESM build, so graphql's own
// isObjectType()/isEnumType() (instanceof checks) refuse each other's types: look at the shape.
export const isObjectType = (type: GraphQLNamedType | null | undefined): type is GraphQLObjectType =>
  type?.astNode?.kind === Kind.OBJECT_TYPE_DEFINITION;
export const isEnumType = (type: GraphQLNamedType | null | undefined): type is GraphQLEnumType =>
  type?.astNode?.kind === Kind.ENUM_TYPE_DEFINITION;

/** The field names of an object type of `schema`; none for any other type. */
export const fieldNames = (schema: GraphQLSchema, name: string) => {
  const type = schema.getType(name);
  return isObjectType(type) ? Object.keys(type.getFields()) : [];
};

type Queryable = { query: (...args: unknown[]) => unknown };

/**
 * Replaces pg.Client.prototype.query with one that hands each statement's SQL text to `record`
 * first; returns what puts the original back. Drizzle outside a transaction calls pool.query,
 * which checks out a Client and calls its query; a transaction calls query on its checked-out
 * Client directly. Counting at the Client catches both, once each.
 */
function recordClientQueries(record: (sql: string) => void): () => void {
  const client = pg.Client.prototype as unknown as Queryable;
  const clientQuery = client.query;
  client.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0];
    record(typeof q === 'string' ? q : String((q as { text?: string }).text));
    return clientQuery.apply(this, args);
  };
  return () => {
    client.query = clientQuery;
  };
}

const inRun = new AsyncLocalStorage<boolean>();

/**
 * Every statement `run` sends to PostgreSQL, as SQL text. Workers and the outbox relay may run
 * in the same process and query all the time, so only statements sent on behalf of `run` (its
 * async context) are counted.
 */
export async function statementsDuring(run: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const restore = recordClientQueries((sql) => {
    if (inRun.getStore()) sent.push(sql);
  });
  try {
    await inRun.run(true, run);
  } finally {
    restore();
  }
  return sent;
}

/**
 * Every statement sent to PostgreSQL while `run` is in flight, from whatever context (for an app
 * without workers), as SQL text; calls to `pool.query` are counted apart for the record.
 */
export async function statementsInFlight(
  pool: unknown,
  run: () => Promise<unknown>,
): Promise<{ sent: string[]; poolCalls: number }> {
  const sent: string[] = [];
  let poolCalls = 0;
  const p = pool as Queryable;
  const poolQuery = p.query;
  const restore = recordClientQueries((sql) => sent.push(sql));
  p.query = function (this: unknown, ...args: unknown[]) {
    poolCalls++;
    return poolQuery.apply(this, args);
  };
  try {
    await run();
  } finally {
    restore();
    p.query = poolQuery;
  }
  return { sent, poolCalls };
}
