import { getIntrospectionQuery, type GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES } from '../src/auth/roles.js';
import { graphqlLoaders, graphqlResolvers } from '../src/graphql/graphql.js';
import { INSTITUTION_KINDS } from '../src/modules/institutions/index.js';
import { executableSchema, isEnumType, isObjectType, type GqlResult } from './helpers/graphql.js';
import { bearer, createTestApp, json, makeInstitution, type TestApp } from './helpers/test-app.js';

// GraphQL is the second adapter over the same services (STYLE.md rules 16-17): the same data and
// the same error codes as REST, a resolver for every field, and limits on what a query may cost.

let t: TestApp;
let bank: Awaited<ReturnType<typeof makeInstitution>>;
/** The executable schema, registered exactly as the app does (there it lives in a child context). */
let schema: GraphQLSchema;
beforeAll(async () => {
  t = await createTestApp();
  bank = await makeInstitution(t, { roles: ['admin', 'technician', 'integration'] });
  schema = await executableSchema(t);
});
afterAll(() => t.close());

async function gql<D = Record<string, unknown>>(
  query: string,
  token: string | undefined = bank.keys.admin,
  variables?: Record<string, unknown>,
) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/graphql',
    headers: token ? bearer(token) : {},
    payload: { query, ...(variables ? { variables } : {}) },
  });
  return { res, body: json<GqlResult<D>>(res) };
}

function expectNoInternals(text: string) {
  expect(text).not.toMatch(/\n\s+at /);
  expect(text).not.toMatch(/\.(ts|js):\d+/);
  expect(text).not.toMatch(/stack|node_modules|FST_ERR|MER_ERR/i);
  expect(text).not.toMatch(/\b(select|insert into)\b.*\bfrom\b/i);
}

describe('schema', () => {
  it('answers the standard introspection query (what GraphiQL sends)', async () => {
    const { res, body } = await gql<{ __schema: { types: { name: string }[] } }>(getIntrospectionQuery());
    expect(res.statusCode).toBe(200);
    expect(body.errors).toBeUndefined();
    const names = body.data!.__schema.types.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['Query', 'Mutation', 'Institution', 'ApiKey', 'Viewer']));
  });

  it('has a resolver for every field of Query and Mutation', () => {
    const resolvers = graphqlResolvers() as Record<string, Record<string, unknown>>;
    const missing: string[] = [];
    for (const root of [schema.getQueryType(), schema.getMutationType()]) {
      expect(root).toBeTruthy();
      for (const [name, field] of Object.entries(root!.getFields())) {
        if (typeof resolvers[root!.name]?.[name] !== 'function' || typeof field.resolve !== 'function') {
          missing.push(`${root!.name}.${name}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('resolves every object field that is not a plain column through a resolver or a loader', () => {
    // Fields whose value is not a property of the row the service returns: each needs code.
    const resolvers = graphqlResolvers() as Record<string, Record<string, unknown>>;
    const loaders = graphqlLoaders() as Record<string, Record<string, unknown>>;
    const computed: Record<string, string[]> = {
      Institution: ['webhookConfigured'],
      ApiKey: ['institution'],
      Viewer: ['institution'],
    };
    for (const [type, fields] of Object.entries(computed)) {
      const object = schema.getType(type);
      expect(isObjectType(object)).toBe(true);
      for (const field of fields) {
        expect(Object.keys(isObjectType(object) ? object.getFields() : {})).toContain(field);
        const has = typeof resolvers[type]?.[field] === 'function' || loaders[type]?.[field] !== undefined;
        expect(has, `${type}.${field}`).toBe(true);
      }
    }
    // Resolvers and loaders name only fields that exist.
    for (const [type, fields] of [...Object.entries(resolvers), ...Object.entries(loaders)]) {
      const object = schema.getType(type);
      if (!isObjectType(object)) continue;
      for (const field of Object.keys(fields)) expect(Object.keys(object.getFields())).toContain(field);
    }
  });

  it('declares the same enums as the tables', () => {
    const values = (name: string) => {
      const type = schema.getType(name);
      return isEnumType(type) ? type.getValues().map((v) => v.value as string) : [];
    };
    expect(values('Role')).toEqual([...ROLES]);
    expect(values('InstitutionKind')).toEqual([...INSTITUTION_KINDS]);
  });
});

describe('queries', () => {
  it('returns the same viewer, institutions and API keys as REST', async () => {
    // A first authenticated call sets last_used_at, so both reads below see the same rows.
    await t.app.inject({ method: 'GET', url: '/v1/institutions', headers: bearer(bank.keys.admin) });

    const rest = {
      institutions: json<{ items: Record<string, unknown>[] }>(
        await t.app.inject({ method: 'GET', url: '/v1/institutions', headers: bearer(bank.keys.admin) }),
      ).items,
      apiKeys: json<{ items: Record<string, unknown>[] }>(
        await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(bank.keys.admin) }),
      ).items,
    };
    const { res, body } = await gql<{
      viewer: { apiKeyId: string; role: string; institution: { id: string; code: string } };
      institutions: Record<string, unknown>[];
      apiKeys: (Record<string, unknown> & { institution: { id: string; code: string } })[];
    }>(`{
      viewer { apiKeyId role institution { id code } }
      institutions { id code name kind operator webhookUrl webhookConfigured createdAt updatedAt version }
      apiKeys { id name role prefix createdBy createdAt expiresAt revokedAt lastUsedAt institution { id code } }
    }`);
    expect(res.statusCode).toBe(200);
    expect(body.errors).toBeUndefined();
    const data = body.data!;

    const adminKey = rest.apiKeys.find((k) => k.role === 'admin')!;
    expect(data.viewer).toEqual({
      apiKeyId: adminKey.id,
      role: 'admin',
      institution: { id: bank.institution.id, code: bank.institution.code },
    });
    expect(data.institutions).toEqual(rest.institutions);
    expect(data.apiKeys.map(({ institution, ...k }) => ({ ...k, institutionId: institution.id }))).toEqual(
      rest.apiKeys,
    );
    for (const k of data.apiKeys) expect(k.institution.code).toBe(bank.institution.code);
  });

  it('answers institution(id) for another institution with null, as for an unknown id', async () => {
    const other = await makeInstitution(t, { roles: [] });
    const { body } = await gql<{ institution: unknown }>(
      `{ institution(id: "${other.institution.id}") { id } }`,
    );
    expect(body).toEqual({ data: { institution: null } });
  });
});

describe('limits and errors', () => {
  it('refuses a query deeper than the limit with QUERY_TOO_DEEP before running it', async () => {
    const nested = (depth: number): string =>
      depth === 0 ? 'role' : `... on Viewer { ${nested(depth - 1)} }`;
    const { res, body } = await gql(`{ viewer { ${nested(12)} } }`);
    expect(res.statusCode).toBe(200);
    expect(body.data).toBeNull();
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.extensions.code).toBe('QUERY_TOO_DEEP');
    expect(body.errors![0]!.message).toMatch(/depth/);
    expectNoInternals(res.body);

    const shallow = await gql<{ viewer: { role: string } }>(`{ viewer { ${nested(3)} } }`);
    expect(shallow.body).toEqual({ data: { viewer: { role: 'admin' } } });
  });

  it('answers an unknown field with GRAPHQL_VALIDATION_FAILED naming the field', async () => {
    const { res, body } = await gql('{ viewer { password } }');
    expect(body.data).toBeNull();
    expect(body.errors![0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(body.errors![0]!.message).toContain('password');
    expectNoInternals(res.body);
  });

  it('answers createInstitution by a technician with FORBIDDEN and no stack, writing nothing', async () => {
    const { res, body } = await gql(
      'mutation { createInstitution(input: { code: "GQL-NO", name: "Refused", kind: hospital }) { id } }',
      bank.keys.technician,
    );
    expect(body.data).toBeNull();
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]).toMatchObject({
      path: ['createInstitution'],
      extensions: { code: 'FORBIDDEN', status: 403 },
    });
    expectNoInternals(res.body);
    const { rowCount } = await t.sql.query("select 1 from institution where code = 'GQL-NO'");
    expect(rowCount).toBe(0);
  });

  it('answers an invalid uuid argument with VALIDATION_FAILED naming the argument', async () => {
    const { res, body } = await gql('{ institution(id: "not-a-uuid") { id } }');
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.extensions.code).toBe('VALIDATION_FAILED');
    expect(body.errors![0]!.extensions.errors?.[0]?.field).toBe('id');
    expectNoInternals(res.body);
  });

  it('answers institutions(after:) with no institution code in it with VALIDATION_FAILED, as REST does', async () => {
    const { body } = await gql('{ institutions(after: "zzz") { id } }');
    expect(body.errors![0]!.extensions.code).toBe('VALIDATION_FAILED');
    expect(body.errors![0]!.extensions.errors?.[0]?.field).toBe('after');
    const rest = await t.app.inject({
      method: 'GET',
      url: '/v1/institutions?after=zzz',
      headers: bearer(bank.keys.admin),
    });
    expect(rest.statusCode).toBe(400);
  });

  it('refuses a subscription sent over HTTP, named or not, pointing to the WebSocket', async () => {
    const logged = t.logs.length;
    const { res, body } = await gql('subscription { sharingRequestUpdated { request { id } } }');
    // As every refused document: 200, the error coded (only transport failures change the status).
    expect(res.statusCode).toBe(200);
    expect(body.data).toBeNull();
    expect(body.errors![0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(body.errors![0]!.message).toMatch(/WebSocket/);
    expect(t.logs.slice(logged).filter((l) => Number(l.level) >= 50)).toEqual([]);
    const named = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(bank.keys.admin),
      payload: {
        query: 'subscription Watch { sharingRequestUpdated { request { id } } }',
        operationName: 'Watch',
      },
    });
    expect(json<GqlResult>(named).errors![0]!.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('answers a malformed DateTime literal with VALIDATION_FAILED, creating no key', async () => {
    const before = await t.sql.query('select count(*)::int as n from api_key');
    const { res, body } = await gql(
      'mutation { createApiKey(input: { name: "bad date", role: technician, expiresAt: "next tuesday" }) { token } }',
    );
    expect(body.data).toBeNull();
    expect(body.errors![0]!.extensions.code).toBe('VALIDATION_FAILED');
    expect(body.errors![0]!.message).toContain('DateTime');
    expectNoInternals(res.body);
    expect((await t.sql.query('select count(*)::int as n from api_key')).rows).toEqual(before.rows);
  });

  it('answers revokeApiKey on another institution’s key with API_KEY_NOT_FOUND', async () => {
    const other = await makeInstitution(t, { roles: ['admin'] });
    const { rows } = await t.sql.query<{ id: string }>('select id from api_key where institution_id = $1', [
      other.institution.id,
    ]);
    const { body } = await gql(`mutation { revokeApiKey(id: "${rows[0]!.id}") { id } }`);
    expect(body.errors![0]!.extensions.code).toBe('API_KEY_NOT_FOUND');
    const still = await t.sql.query('select revoked_at from api_key where id = $1', [rows[0]!.id]);
    expect(still.rows).toEqual([{ revoked_at: null }]);
  });

  it('creates an API key through a mutation, returning the token once and auditing it', async () => {
    const { body } = await gql<{
      createApiKey: { token: string; apiKey: { id: string; role: string; institution: { code: string } } };
    }>(
      'mutation { createApiKey(input: { name: "from graphql", role: technician }) { token apiKey { id role institution { code } } } }',
    );
    expect(body.errors).toBeUndefined();
    const created = body.data!.createApiKey;
    expect(created.apiKey).toMatchObject({
      role: 'technician',
      institution: { code: bank.institution.code },
    });
    const works = await t.app.inject({
      method: 'GET',
      url: '/v1/institutions',
      headers: bearer(created.token),
    });
    expect(works.statusCode).toBe(200);
    const audit = await t.sql.query('select action from audit_log where entity_id = $1', [created.apiKey.id]);
    expect(audit.rows).toEqual([{ action: 'createApiKey' }]);
  });
});
