import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, json, makeInstitution, systemCtx, type TestApp } from './helpers/test-app.js';

// API keys and roles: who gets in (401), who may act (403), and what another institution's
// caller can learn (404). The clock is ours, so a key can expire without waiting.

let now = Date.now();
const clock = () => new Date(now);

let t: TestApp;
beforeAll(async () => {
  // No auth cache: every request reads the key row, so expiry and revocation are seen at once.
  t = await createTestApp({ env: { AUTH_CACHE_TTL_MS: '0' }, overrides: { clock } });
});
afterAll(() => t.close());

type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
};

function expectProblem(res: { statusCode: number; headers: Record<string, unknown> }, status: number) {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('authentication', () => {
  it('answers 401 problem+json without an Authorization header', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/institutions' });
    expectProblem(res, 401);
    const body = json<Problem>(res);
    expect(body).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', title: 'Unauthenticated' });
    expect(body.requestId).toBe(res.headers['x-request-id']);
  });

  it.each([
    ['a non-bearer scheme', 'Basic YWRtaW46YWRtaW4='],
    ['a bearer without the bbk_ shape', 'Bearer not-a-key'],
    ['a bearer with a truncated token', 'Bearer bbk_abcdefghij_short'],
    ['an empty bearer', 'Bearer '],
  ])('answers 401 for a malformed key (%s)', async (_what, authorization) => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/institutions', headers: { authorization } });
    expectProblem(res, 401);
    expect(json<Problem>(res).code).toBe('UNAUTHENTICATED');
  });

  it('answers 401 for a well-formed key that was never issued', async () => {
    const unknown = `bbk_zzzzzzzzzz_${'A'.repeat(43)}`;
    const res = await t.app.inject({ method: 'GET', url: '/v1/institutions', headers: bearer(unknown) });
    expectProblem(res, 401);
    expect(json<Problem>(res).code).toBe('UNAUTHENTICATED');
  });

  it('answers 401 once a key has expired, and 200 before', async () => {
    const { institution } = await makeInstitution(t, { roles: [] });
    const { token } = await t.c.services.apiKeys.createApiKey(systemCtx(t.c), {
      institutionId: institution.id,
      role: 'technician',
      name: 'expiring',
      expiresAt: new Date(now + 60_000).toISOString(),
    });
    const before = await t.app.inject({ method: 'GET', url: '/v1/institutions', headers: bearer(token) });
    expect(before.statusCode).toBe(200);

    now += 61_000;
    try {
      const after = await t.app.inject({ method: 'GET', url: '/v1/institutions', headers: bearer(token) });
      expectProblem(after, 401);
      expect(json<Problem>(after).code).toBe('UNAUTHENTICATED');
    } finally {
      now = Date.now();
    }
  });

  it('answers 401 for a key whose expires_at lies in the past in the database', async () => {
    const { keys } = await makeInstitution(t, { roles: ['manager'] });
    await t.sql.query("update api_key set expires_at = now() - interval '1 hour' where token_hash = $1", [
      sha256(keys.manager),
    ]);
    const res = await t.app.inject({ method: 'GET', url: '/v1/institutions', headers: bearer(keys.manager) });
    expectProblem(res, 401);
  });

  it('refuses a revoked key at once, with the same 401 as an unknown one', async () => {
    const { keys } = await makeInstitution(t, { roles: ['admin', 'technician'] });
    const ok = await t.app.inject({
      method: 'GET',
      url: '/v1/institutions',
      headers: bearer(keys.technician),
    });
    expect(ok.statusCode).toBe(200);
    const [row] = (
      await t.sql.query<{ id: string }>('select id from api_key where token_hash = $1', [
        sha256(keys.technician),
      ])
    ).rows;

    const revoke = await t.app.inject({
      method: 'POST',
      url: `/v1/api-keys/${row!.id}/revoke`,
      headers: bearer(keys.admin),
    });
    expect(revoke.statusCode).toBe(200);
    expect(json(revoke).revokedAt).toEqual(expect.any(String));

    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/institutions',
      headers: bearer(keys.technician),
    });
    expectProblem(res, 401);
    expect(json<Problem>(res).detail).toBe('a valid API key is required');
  });

  it('revokes at once even when verified keys are cached', async () => {
    const cached = await createTestApp({ env: { AUTH_CACHE_TTL_MS: '60000' } });
    try {
      const { keys } = await makeInstitution(cached, { roles: ['admin', 'integration'] });
      const ok = await cached.app.inject({
        method: 'GET',
        url: '/v1/institutions',
        headers: bearer(keys.integration),
      });
      expect(ok.statusCode).toBe(200);
      const list = await cached.app.inject({
        method: 'GET',
        url: '/v1/api-keys',
        headers: bearer(keys.admin),
      });
      const integration = json<{ items: { id: string; role: string }[] }>(list).items.find(
        (k) => k.role === 'integration',
      );
      const revoke = await cached.app.inject({
        method: 'POST',
        url: `/v1/api-keys/${integration!.id}/revoke`,
        headers: bearer(keys.admin),
      });
      expect(revoke.statusCode).toBe(200);
      const res = await cached.app.inject({
        method: 'GET',
        url: '/v1/institutions',
        headers: bearer(keys.integration),
      });
      expect(res.statusCode).toBe(401);
    } finally {
      await cached.close();
    }
  });

  it('records when a key was last used', async () => {
    const { keys } = await makeInstitution(t, { roles: ['partner'] });
    const read = async () =>
      (
        await t.sql.query<{ last_used_at: Date | null }>(
          'select last_used_at from api_key where token_hash = $1',
          [sha256(keys.partner)],
        )
      ).rows[0]?.last_used_at;
    expect(await read()).toBeNull();
    const started = Date.now();
    const res = await t.app.inject({ method: 'GET', url: '/v1/institutions', headers: bearer(keys.partner) });
    expect(res.statusCode).toBe(200);
    const used = await read();
    expect(used).toBeInstanceOf(Date);
    expect(Math.abs(used!.getTime() - started)).toBeLessThan(60_000);
  });

  it('answers GraphQL without a key with HTTP 401 and extensions.code UNAUTHENTICATED', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/graphql',
      payload: { query: '{ viewer { role } }' },
    });
    expect(res.statusCode).toBe(401);
    const body = json<{ data: unknown; errors: { message: string; extensions: { code: string } }[] }>(res);
    expect(body.data).toBeNull();
    expect(body.errors[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', status: 401 });
  });
});

describe('authorization', () => {
  it('forbids a technician to list API keys with 403', async () => {
    const { keys } = await makeInstitution(t, { roles: ['technician'] });
    const res = await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(keys.technician) });
    expectProblem(res, 403);
    expect(json<Problem>(res)).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(json<Problem>(res).detail).toContain('apiKeys.manage');
  });

  it.each(['manager', 'admin'] as const)(
    'forbids a %s of a non-operator institution to create institutions with 403, writing nothing',
    async (role) => {
      const { keys } = await makeInstitution(t, { roles: [role] });
      const code = `NEW${role.toUpperCase()}`;
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/institutions',
        headers: bearer(keys[role]),
        payload: { code, name: 'Not allowed', kind: 'hospital' },
      });
      expectProblem(res, 403);
      expect(json<Problem>(res).code).toBe('FORBIDDEN');
      const rows = await t.sql.query('select 1 from institution where code = $1', [code]);
      expect(rows.rowCount).toBe(0);
    },
  );

  it("answers 404 for another institution's id, as for an id that does not exist", async () => {
    const mine = await makeInstitution(t, { roles: ['admin'] });
    const theirs = await makeInstitution(t, { roles: ['admin'] });
    const other = await t.app.inject({
      method: 'GET',
      url: `/v1/institutions/${theirs.institution.id}`,
      headers: bearer(mine.keys.admin),
    });
    expectProblem(other, 404);
    expect(json<Problem>(other).code).toBe('INSTITUTION_NOT_FOUND');
    const missing = await t.app.inject({
      method: 'GET',
      url: '/v1/institutions/01900000-0000-7000-8000-000000000000',
      headers: bearer(mine.keys.admin),
    });
    expect(json<Problem>(missing).code).toBe('INSTITUTION_NOT_FOUND');

    const keysOfOther = await t.app.inject({
      method: 'GET',
      url: `/v1/api-keys?institutionId=${theirs.institution.id}`,
      headers: bearer(mine.keys.admin),
    });
    expectProblem(keysOfOther, 404);
  });

  it("answers 404 when revoking another institution's API key, and leaves it working", async () => {
    const mine = await makeInstitution(t, { roles: ['admin'] });
    const theirs = await makeInstitution(t, { roles: ['admin'] });
    const [row] = (
      await t.sql.query<{ id: string }>('select id from api_key where token_hash = $1', [
        sha256(theirs.keys.admin),
      ])
    ).rows;
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/api-keys/${row!.id}/revoke`,
      headers: bearer(mine.keys.admin),
    });
    expectProblem(res, 404);
    expect(json<Problem>(res).code).toBe('API_KEY_NOT_FOUND');
    const still = await t.sql.query('select revoked_at from api_key where id = $1', [row!.id]);
    expect(still.rows[0]).toEqual({ revoked_at: null });
    const works = await t.app.inject({
      method: 'GET',
      url: '/v1/api-keys',
      headers: bearer(theirs.keys.admin),
    });
    expect(works.statusCode).toBe(200);
  });
});

describe('listing institutions', () => {
  it("pages the operator's admin through every institution with nextCursor, and refuses a forged cursor", async () => {
    const operator = await makeInstitution(t, { operator: true, roles: ['admin'] });
    for (let i = 0; i < 3; i++) await makeInstitution(t, { roles: [] });
    const all = (await t.c.services.institutions.listInstitutions(systemCtx(t.c), { limit: 1000 })).map(
      (r) => r.code,
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: LightMyRequestResponse = await t.app.inject({
        method: 'GET',
        url: `/v1/institutions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        headers: bearer(operator.keys.admin),
      });
      expect(res.statusCode, res.body).toBe(200);
      const page: { items: { code: string }[]; nextCursor: string | null } = res.json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.code));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all);
    const forged = await t.app.inject({
      method: 'GET',
      url: '/v1/institutions?cursor=not-a-cursor',
      headers: bearer(operator.keys.admin),
    });
    expect(forged.statusCode).toBe(400);
    expect(forged.json<{ code: string }>().code).toBe('INVALID_CURSOR');
  });
});

describe('API key storage and management', () => {
  it('stores only the SHA-256 of the token, nothing of the token itself', async () => {
    const { keys } = await makeInstitution(t, { roles: ['admin'] });
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: bearer(keys.admin),
      payload: { name: 'LIS bridge', role: 'integration' },
    });
    expect(res.statusCode).toBe(201);
    const created = json<{ id: string; token: string; prefix: string }>(res);
    expect(created.token).toMatch(/^bbk_[a-z0-9]{10}_[A-Za-z0-9_-]{43}$/);
    expect(created.token.startsWith(`bbk_${created.prefix}_`)).toBe(true);

    const { rows } = await t.sql.query<Record<string, unknown>>('select * from api_key where id = $1', [
      created.id,
    ]);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.token_hash).toBe(sha256(created.token));
    const secret = created.token.split('_').slice(2).join('_');
    const text = JSON.stringify(row);
    expect(text).not.toContain(created.token);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(secret.slice(0, 16));
  });

  it('lists keys without any secret or hash', async () => {
    const { institution, keys } = await makeInstitution(t, { roles: ['admin', 'technician'] });
    const res = await t.app.inject({ method: 'GET', url: '/v1/api-keys', headers: bearer(keys.admin) });
    expect(res.statusCode).toBe(200);
    const items = json<{ items: Record<string, unknown>[] }>(res).items;
    expect(items.map((k) => k.role).sort()).toEqual(['admin', 'technician']);
    for (const item of items) {
      expect(item.institutionId).toBe(institution.id);
      expect(Object.keys(item)).not.toContain('token');
      expect(Object.keys(item)).not.toContain('tokenHash');
    }
    for (const token of Object.values(keys)) {
      expect(res.body).not.toContain(token);
      expect(res.body).not.toContain(sha256(token));
    }
  });

  it('writes an audit row for creating and for revoking a key, without the secret', async () => {
    const { institution, keys } = await makeInstitution(t, { roles: ['admin'] });
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: { ...bearer(keys.admin), 'x-request-id': 'audit-create-key-1' },
      payload: { name: 'scanner 3', role: 'technician' },
    });
    expect(created.statusCode).toBe(201);
    const key = json<{ id: string; token: string }>(created);
    const revoked = await t.app.inject({
      method: 'POST',
      url: `/v1/api-keys/${key.id}/revoke`,
      headers: { ...bearer(keys.admin), 'x-request-id': 'audit-revoke-key-1' },
    });
    expect(revoked.statusCode).toBe(200);

    const { rows } = await t.sql.query<{
      action: string;
      actor: string;
      actor_role: string;
      institution_id: string;
      request_id: string;
      before: Record<string, unknown> | null;
      after: Record<string, unknown>;
    }>(
      `select action, actor, actor_role, institution_id, request_id, before, after
         from audit_log where entity_type = 'api_key' and entity_id = $1 order by id`,
      [key.id],
    );
    expect(rows.map((r) => [r.action, r.request_id])).toEqual([
      ['createApiKey', 'audit-create-key-1'],
      ['revokeApiKey', 'audit-revoke-key-1'],
    ]);
    const [adminRow] = (
      await t.sql.query<{ id: string }>('select id from api_key where token_hash = $1', [sha256(keys.admin)])
    ).rows;
    for (const r of rows) {
      expect(r.actor).toBe(`api_key:${adminRow!.id}`);
      expect(r.actor_role).toBe('admin');
      expect(r.institution_id).toBe(institution.id);
      expect(r.after.tokenHash).toBe('[redacted]');
    }
    expect(rows[0]!.before).toBeNull();
    expect(rows[1]!.before?.revokedAt).toBeNull();
    expect(rows[1]!.after.revokedAt).toEqual(expect.any(String));
    const trail = JSON.stringify(rows);
    expect(trail).not.toContain(key.token);
    expect(trail).not.toContain(sha256(key.token));
  });

  it('refuses to revoke a key twice with 409 API_KEY_REVOKED', async () => {
    const { keys } = await makeInstitution(t, { roles: ['admin'] });
    const created = json<{ id: string }>(
      await t.app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers: bearer(keys.admin),
        payload: { name: 'once', role: 'partner' },
      }),
    );
    const first = await t.app.inject({
      method: 'POST',
      url: `/v1/api-keys/${created.id}/revoke`,
      headers: bearer(keys.admin),
    });
    expect(first.statusCode).toBe(200);
    const second = await t.app.inject({
      method: 'POST',
      url: `/v1/api-keys/${created.id}/revoke`,
      headers: bearer(keys.admin),
    });
    expectProblem(second, 409);
    expect(json<Problem>(second).code).toBe('API_KEY_REVOKED');
  });
});
