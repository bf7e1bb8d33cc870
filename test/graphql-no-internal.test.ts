import {
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_SDL } from '../src/graphql/graphql.js';
import { bearer, createTestApp, makeInstitution, type TestApp } from './helpers/test-app.js';

// A 500 is a bug, in GraphQL too: every query and mutation, called with well-typed but wrong
// arguments (unknown ids, negative numbers, empty strings), answers coded errors, never INTERNAL.

let t: TestApp;
let keys: Awaited<ReturnType<typeof makeInstitution>>['keys'];
beforeAll(async () => {
  t = await createTestApp();
  keys = (await makeInstitution(t, { operator: true })).keys;
});
afterAll(() => t.close());

const SCALARS: Record<string, string> = {
  ID: '"00000000-0000-7000-8000-000000000000"',
  String: '""',
  Int: '-1',
  Float: '-1.5',
  Boolean: 'true',
  DateTime: '"2024-01-01T00:00:00Z"',
  JSON: '{}',
};

/** A literal of the type, filling required fields only: it passes GraphQL validation and reaches the resolver. */
function literal(type: GraphQLInputType, depth = 0): string {
  if (isNonNullType(type)) return literal(type.ofType, depth);
  if (isListType(type)) return `[${literal(type.ofType, depth)}]`;
  if (isScalarType(type)) return SCALARS[type.name] ?? '""';
  if (isEnumType(type)) return type.getValues()[0]!.name;
  if (isInputObjectType(type)) {
    if (depth > 4) return '{}';
    const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type));
    return `{ ${fields.map((f) => `${f.name}: ${literal(f.type, depth + 1)}`).join(', ')} }`;
  }
  return 'null';
}

function call(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): string {
  const args = field.args.filter((a) => isNonNullType(a.type));
  const argText = args.length ? `(${args.map((a) => `${a.name}: ${literal(a.type)}`).join(', ')})` : '';
  const named = getNamedType(field.type);
  const selection = isScalarType(named) || isEnumType(named) ? '' : ' { __typename }';
  return `${kind} { ${field.name}${argText}${selection} }`;
}

describe('GraphQL never answers INTERNAL', () => {
  it('answers every query and mutation with wrong arguments with coded errors for every role', async () => {
    const schema = buildSchema(SCHEMA_SDL);
    const documents = [
      ...Object.values(schema.getQueryType()!.getFields()).map((f) => call('query', f)),
      ...Object.values(schema.getMutationType()!.getFields()).map((f) => call('mutation', f)),
    ];
    expect(documents.length).toBeGreaterThan(50);
    const failures: string[] = [];
    const codes = new Map<string, number>();
    for (const query of documents) {
      for (const role of ['admin', 'technician', 'partner'] as const) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/graphql',
          headers: bearer(keys[role]),
          payload: { query },
        });
        const body = res.json<{ errors?: { extensions?: { code?: string } }[] }>();
        const internal = (body.errors ?? []).some(
          (e) => !e.extensions?.code || e.extensions.code === 'INTERNAL',
        );
        codes.set(
          body.errors?.[0]?.extensions?.code ?? 'ok',
          (codes.get(body.errors?.[0]?.extensions?.code ?? 'ok') ?? 0) + 1,
        );
        if (res.statusCode >= 500 || internal)
          failures.push(`${role}: ${query} -> ${res.statusCode} ${res.body.slice(0, 300)}`);
      }
    }
    // The calls reach the resolvers: most answer domain codes, not only validation errors.
    expect([...codes.keys()].filter((c) => c.endsWith('_NOT_FOUND')).length).toBeGreaterThan(2);
    expect(failures).toEqual([]);
  }, 120_000);
});
